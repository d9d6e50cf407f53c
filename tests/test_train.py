"""End to end on a real two-node Ray cluster: corpus -> actors -> gensim -> artifact -> TF evaluation."""

import json
import logging
import threading
import time
from collections import Counter

import numpy as np
import pytest
from gensim.models import KeyedVectors

import w2v
from w2v import TrainConfig
from w2v.job import run

from w2v.corpus import list_shards
from w2v.placement import place_actors
from w2v.exchange import ActorStatus
from w2v.trainer import TrainerActor, read_options
from w2v.vocab import Vocabulary, count_shard, merge_counts

from .corpora import GROUPS, group_of, write_planted_corpus

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
    assert set(manifest["files"]) == {"vectors.npy", "vocab.tsv", "vectors.bin", "eval.json",
                                      "report.md", "words_pca.png", "training_curves.png", "metadata.tsv",
                                      "projector_config.pbtxt", "checkpoint", "projector.ckpt-1.index",
                                      "projector.ckpt-1.data-00000-of-00001", "README.md",
                                      "events.out.tfevents.w2v-training"}
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


def test_two_actors_on_two_nodes_exchanged_their_deltas(trained_artifact):
    training = trained_artifact.manifest["training"]
    assert len({a["node_id"] for a in training["actors"]}) == 2
    assert training["exchanges"] >= 2 and training["bytes_exchanged"] > 0
    corpus_words = trained_artifact.manifest["corpus"]["words"]
    assert sum(a["spool_words"] for a in training["actors"]) == corpus_words  # every word spooled once
    assert sum(a["shards"] for a in training["actors"]) == len(trained_artifact.manifest["corpus"]["shards"])
    assert training["words"] == 5 * corpus_words
    assert [e["epoch"] for e in training["epochs"]] == [1, 2, 3, 4, 5]


def planted_precision(words, vectors, topn=5) -> float:
    """Share of each group word's nearest neighbours that belong to its group (fillers are misses)."""
    from w2v.export import keyed_vectors

    kv = keyed_vectors(words, [1] * len(words), vectors)
    group_words = [w for w in words if group_of(w) is not None]
    assert len(group_words) == GROUPS * 10
    return float(np.mean([group_of(n) == group_of(w) for w in group_words for n, _ in kv.most_similar(w, topn=topn)]))


def test_neighbours_in_a_planted_cluster_corpus_come_from_the_same_group(trained_artifact):
    kv = w2v.load(trained_artifact.out)
    assert planted_precision(kv.index_to_key, kv.vectors) >= 0.9


def test_tensorflow_evaluation_was_stored_and_agrees(trained_artifact):
    evaluation = json.load(open(f"{trained_artifact.out}/eval.json"))
    assert evaluation == trained_artifact.evaluation
    assert len(evaluation["neighbors"]) == 16
    kv = w2v.load(trained_artifact.out)
    for word, found in evaluation["neighbors"].items():
        assert len(found) == 8 and word not in [n["word"] for n in found]
        cosines = [n["cosine"] for n in found]
        assert cosines == sorted(cosines, reverse=True)
        for n in found:  # TensorFlow's cosines are gensim's (ties may order differently)
            assert n["cosine"] == pytest.approx(float(kv.similarity(word, n["word"])), abs=1e-3)
        assert cosines[-1] >= kv.most_similar(word, topn=8)[-1][1] - 1e-3  # none of gensim's top 8 missed


def test_exchanges_are_paced_by_words_trained(ray_cluster, planted_corpus, tmp_path):
    """--sync-words N: each actor's share of an epoch is cut into round(words / K / N) chunks, one exchange
    after each, whatever the node's speed: the exchange count follows words / N."""
    from w2v.sync import chunks_per_epoch

    root, counts = planted_corpus
    words = sum(counts.values())
    for sync_words in (4_000, 12_000):
        config = TrainConfig(corpus=(str(root),), out=str(tmp_path / f"paced-{sync_words}"), actors=2, vector_size=16,
                             epochs=2, eval=False, sync_words=sync_words)
        training = run(config).manifest["training"]
        chunks = chunks_per_epoch(words, 2, sync_words)
        assert training["chunks_per_epoch"] == chunks and training["sync_words"] == sync_words
        assert training["exchanges"] == 2 * chunks  # one per round, the last one moving every row
        assert abs(training["words_per_exchange"] - sync_words) <= sync_words / (2 * chunks) + 1
        assert training["stale_words"] == training["words_per_exchange"]  # K=2: the other actor's chunk
        assert training["stale_share"] == pytest.approx(training["stale_words"] / words, rel=1e-3)
        assert all(a["spool_chunks"] == chunks for a in training["actors"])


def test_more_actors_than_nodes_is_a_clear_error(ray_cluster, planted_corpus, tmp_path):
    root, _ = planted_corpus
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "x"), actors=3, eval=False)
    with pytest.raises(w2v.ClusterError, match="actors=3: one trainer actor runs per node and the cluster has 2 .*"
                                          "wait for them with --wait-for-nodes"):
        run(config)
    assert not (tmp_path / "x").exists()
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "x"), actors=3, eval=False, wait_for_nodes=1.0)
    with pytest.raises(w2v.ClusterError, match="cluster has 2 alive node.* after waiting 1 s"):
        run(config)


def test_a_job_waits_for_the_trainer_nodes_it_asks_for(ray_cluster, planted_corpus, tmp_path, caplog):
    """Trainer nodes of an autoscaling cluster come up after the job starts: with --wait-for-nodes it waits."""
    root, _ = planted_corpus
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), actors=3, vector_size=16, epochs=2,
                         eval=False, wait_for_nodes=120.0)
    done: dict = {}

    def job():
        try:
            done["manifest"] = run(config).manifest
        except BaseException as exc:  # re-raised below, in the test's thread
            done["error"] = exc

    with caplog.at_level(logging.INFO, logger="w2v.placement"):
        runner = threading.Thread(target=job, daemon=True)  # Ray adds nodes from the main thread only
        runner.start()
        deadline = time.monotonic() + 120
        while not any("waiting up to" in r.getMessage() for r in caplog.records) and runner.is_alive():
            assert time.monotonic() < deadline, "the job never started waiting for nodes"
            time.sleep(0.2)
        time.sleep(1.0)  # it waits: the node joins later
        added = [ray_cluster.add_node(num_cpus=1, object_store_memory=256 * 2**20)]
        try:
            runner.join(timeout=300)
        finally:
            ray_cluster.remove_node(added[0])
    if "error" in done:
        raise done["error"]
    manifest = done["manifest"]
    assert len({a["node_id"] for a in manifest["training"]["actors"]}) == 3
    assert added[0].node_id in {a["node_id"] for a in manifest["training"]["actors"]}
    messages = [r.getMessage() for r in caplog.records]
    assert "waiting up to 120 s for 3 trainer node(s); 2 alive" in messages
    assert "trainer nodes alive: 3 of 3" in messages


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
    assert result.manifest["training"]["exchanges"] == 0  # one actor: nothing to exchange
    assert "eval.json" not in result.manifest["files"]
    shard_words = Counter({s["uri"].rsplit("/", 1)[1]: s["words"] for s in result.manifest["corpus"]["shards"]})
    assert sorted(shard_words) == ["part-000.txt", "part-001.txt.gz", "part-003.txt.gz"]


def test_a_simple_tokenizer_job_records_it_and_to_indices_applies_it(ray_cluster, tmp_path):
    from gensim.utils import simple_preprocess

    lines = [f"The Cat, {i % 7}th (CAT!) sat -- on mat{i % 3}; the dog's bone." for i in range(60)]
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "punct.txt").write_text("\n".join(lines) + "\n")
    config = TrainConfig(corpus=(str(tmp_path / "corpus"),), out=str(tmp_path / "simple"), tokenizer="simple",
                         actors=1, vector_size=8, epochs=1, min_count=1, eval=False)
    result = run(config)
    assert result.manifest["parameters"]["tokenizer"] == "simple"
    assert not result.manifest["parameters"]["deaccent"]
    kv = w2v.load(config.out)
    expected = Counter(w for line in lines for w in simple_preprocess(line))
    assert {w: kv.get_vecattr(w, "count") for w in kv.index_to_key} == expected
    assert w2v.to_indices(["The", "Cat,", "(CAT!)"], kv).tolist() == [kv.key_to_index[w] + 1 for w in
                                                                        ("the", "cat", "cat")]
    assert w2v.to_indices(["The"], kv, tokenizer="whitespace").tolist() == []


def test_three_nodes_combined_model_beats_each_actors_local_model(ray_cluster, tmp_path):
    """File k teaches only groups k and k+3: an actor alone never learns the other groups."""
    root = tmp_path / "by-file"
    write_planted_corpus(root, files=3, sentences_per_file=3000, compress=("",), groups_by_file=True)
    third = ray_cluster.add_node(num_cpus=1, object_store_memory=256 * 2**20)
    ray_cluster.wait_for_nodes()
    try:
        config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), actors=3, vector_size=32, epochs=5,
                             seed=3, eval=False)
        result = run(config)
    finally:
        ray_cluster.remove_node(third)
    assert len({a["node_id"] for a in result.manifest["training"]["actors"]}) == 3
    kv = w2v.load(config.out)
    combined = planted_precision(kv.index_to_key, kv.vectors)

    shards = list_shards(config.corpus)
    options = read_options(config)
    counted = [count_shard(s, options) for s in shards]
    vocab = Vocabulary.from_counts(merge_counts(c.counts for c in counted), config.min_count)
    assert list(vocab.words) == kv.index_to_key  # the same vocabulary, deterministically
    local = []
    for shard, count in zip(shards, counted):  # each actor's model, trained alone on its shard (no exchange)
        actor = TrainerActor(config, workers=1)
        actor.prepare(vocab, [shard], 1, count.words)
        actor.start(None, exchange=False)
        actor.thread.join()
        local.append(planted_precision(list(vocab.words), actor.weights()["vectors"]))
        actor.close()
    print(f"planted precision@5: combined {combined:.2f}, local-only {[round(p, 2) for p in local]}")
    assert combined >= 0.9, combined
    assert all(p < combined - 0.3 for p in local), (combined, local)


def _node(node_id, cpus=2, alive=True, **resources):
    return {"NodeID": node_id, "Alive": alive, "NodeManagerAddress": "10.0.0.1",
            "Resources": {"CPU": cpus, **resources}}


def test_trainer_nodes_are_the_ones_with_the_cluster_resource():
    from w2v.placement import NODE_RESOURCE, trainer_nodes

    nodes = [_node("head", cpus=4), _node("w1", cpus=16, **{NODE_RESOURCE: 1}),
             _node("w2", cpus=16, alive=False, **{NODE_RESOURCE: 1}), _node("w3", cpus=8, **{NODE_RESOURCE: 1})]
    picked = trainer_nodes(nodes)
    assert [n["node_id"] for n in picked] == ["w1", "w3"] and all(n["resource"] for n in picked)
    # Without the resource anywhere (a laptop, the test cluster): every alive node with a CPU.
    plain = trainer_nodes([_node("a", cpus=1), _node("b", cpus=3), _node("gpu-only", cpus=0)])
    assert [n["node_id"] for n in plain] == ["b", "a"] and not any(n["resource"] for n in plain)
    with pytest.raises(w2v.ClusterError, match=r"actors=3: .* 2 alive trainer node\(s\) \(resource w2v_node\)"):
        place_actors(TrainConfig(corpus=("c",), out="o", actors=3), picked, shards=10)


def test_progress_logs_each_epoch_at_its_own_rate_even_when_several_ended_between_looks(caplog):
    from w2v.train import _Progress

    def status(ends):
        return ActorStatus(epochs_done=len(ends), seconds=ends[-1], epoch_ends=ends, loss=[0.0] * len(ends))

    progress = _Progress(epochs=4)
    with caplog.at_level(logging.INFO, logger="w2v.train"):
        # 1000 words per epoch; the slower actor ends its epochs at 1 s, 1.5 s, 3.5 s.
        progress.update([status([1.0, 1.5, 3.5]), status([0.5, 1.0, 2.0, 2.5])], 1000, 0.1)
    progress.close()
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" done: ")[0] for line in lines] == ["epoch 1/4", "epoch 2/4", "epoch 3/4"]
    assert [line.split(": ")[1].split(" words/s")[0] for line in lines] == ["1,000", "2,000", "500"]


def test_epoch_rates_after_a_restart_or_resume_use_one_clock():
    from w2v.train import _epoch_stats

    def status(ends):
        return ActorStatus(epoch_ends=ends, loss=[0.0] * len(ends))

    # Started at t=100. Actor 1 died in epoch 3 and its new process trained epochs 2.. again (epochs 0-1: no times).
    stats = _epoch_stats([status([101.0, 102.0, 103.0, 104.0]), status([None, None, 103.5, 105.0])], 1000, 100.0)
    assert [(e["epoch"], e["words_per_s"]) for e in stats] == [(4, 667)]  # epoch 3's start is unknown: no rate
    # Resumed at epoch 2: no actor has times before it; the first epoch of this run starts at the run's start.
    stats = _epoch_stats([status([None, None, 102.0]), status([None, None, 101.0])], 1000, 100.0)
    assert [(e["epoch"], e["words_per_s"]) for e in stats] == [(3, 500)]
