"""End to end on a real two-node Ray cluster: corpus -> actors -> gensim -> artifact -> TF evaluation."""

import json
from collections import Counter

import numpy as np
import pytest
from gensim.models import KeyedVectors

import w2v
from w2v import ConfigError, TrainConfig
from w2v.job import run

from .corpora import GROUPS, group_of

pytestmark = pytest.mark.slow


def test_artifact_files_agree_in_shape(trained_artifact):
    out = trained_artifact.out
    vectors = np.load(f"{out}/vectors.npy")
    vocab_lines = open(f"{out}/vocab.tsv", encoding="utf-8").read().splitlines()
    assert vectors.dtype == np.float32 and vectors.shape == (len(vocab_lines), 32)
    kv = KeyedVectors.load_word2vec_format(f"{out}/vectors.bin", binary=True)
    assert kv.index_to_key == [line.split("\t")[0] for line in vocab_lines]
    assert np.array_equal(kv.vectors, vectors)


def test_manifest_checksums_match_the_files(trained_artifact):
    manifest = w2v.verify(trained_artifact.out)
    assert set(manifest["files"]) == {"vectors.npy", "vocab.tsv", "vectors.bin", "eval.json"}
    assert manifest["vocabulary"]["size"] == np.load(f"{trained_artifact.out}/vectors.npy").shape[0]


def test_vocabulary_equals_a_direct_count(trained_artifact, planted_corpus):
    _, counts = planted_corpus
    expected = sorted(((w, c) for w, c in counts.items() if c >= 5), key=lambda wc: (-wc[1], wc[0]))
    lines = open(f"{trained_artifact.out}/vocab.tsv", encoding="utf-8").read().splitlines()
    assert [tuple(line.split("\t")) for line in lines] == [(w, str(c)) for w, c in expected]
    manifest = trained_artifact.manifest
    assert manifest["corpus"]["words"] == sum(counts.values())
    assert sum(s["words"] for s in manifest["corpus"]["shards"]) == sum(counts.values())
    assert not any(w.startswith("rare") for w, _ in expected)


def test_two_actors_on_two_nodes_synchronized_every_epoch(trained_artifact):
    training = trained_artifact.manifest["training"]
    assert len({a["node_id"] for a in training["actors"]}) == 2
    assert training["rounds_per_epoch"] > 1 and training["bytes_exchanged"] > 0
    corpus_words = trained_artifact.manifest["corpus"]["words"]
    assert training["words"] == 5 * corpus_words  # every word of every epoch trained once
    assert [e["epoch"] for e in training["epochs"]] == [1, 2, 3, 4, 5]


def test_neighbours_in_a_planted_cluster_corpus_come_from_the_same_group(trained_artifact):
    kv = w2v.load(trained_artifact.out)
    group_words = [w for w in kv.index_to_key if group_of(w) is not None]
    assert len(group_words) == GROUPS * 10
    # a filler word ("the") among the neighbours counts as a miss
    hits = [group_of(n) == group_of(w) for w in group_words for n, _ in kv.most_similar(w, topn=5)]
    assert np.mean(hits) >= 0.9, f"precision@5 {np.mean(hits):.2f}"


def test_tensorflow_evaluation_was_stored_and_agrees(trained_artifact):
    evaluation = json.load(open(f"{trained_artifact.out}/eval.json"))
    assert evaluation == trained_artifact.evaluation
    assert len(evaluation["neighbors"]) == 16
    kv = w2v.load(trained_artifact.out)
    for word, found in evaluation["neighbors"].items():
        assert len(found) == 8
        expected = [n for n, _ in kv.most_similar(word, topn=8)]
        assert [n["word"] for n in found][:3] == expected[:3]


def test_more_actors_than_nodes_is_a_clear_error(ray_cluster, planted_corpus, tmp_path):
    root, _ = planted_corpus
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "x"), actors=3, eval=False)
    with pytest.raises(ConfigError, match="actors=3: one trainer actor runs per node and the cluster has 2"):
        run(config)
    assert not (tmp_path / "x").exists()


def test_min_count_above_every_count_is_a_clear_error(ray_cluster, planted_corpus, tmp_path):
    root, counts = planted_corpus
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "x"), min_count=10**9, eval=False)
    with pytest.raises(w2v.CorpusError, match=f"min_count=1000000000.*appears {max(counts.values())} times"):
        run(config)


def test_one_actor_reads_compressed_and_plain_shards(ray_cluster, planted_corpus, tmp_path):
    root, counts = planted_corpus
    config = TrainConfig(corpus=(str(root / "*.gz"), str(root / "part-000.txt")), out=str(tmp_path / "one"),
                         actors=1, vector_size=16, epochs=2, eval=False)
    result = run(config)
    assert len(result.manifest["training"]["actors"]) == 1
    assert result.manifest["training"]["rounds_per_epoch"] == 1
    assert "eval.json" not in result.manifest["files"]
    shard_words = Counter({s["uri"].rsplit("/", 1)[1]: s["words"] for s in result.manifest["corpus"]["shards"]})
    assert sorted(shard_words) == ["part-000.txt", "part-001.txt.gz", "part-003.txt.gz"]
