"""The pipeline (`w2v/pipeline.py`): corpus -> vocabulary -> train -> evaluate -> export, and what it writes.

The end-to-end tests run real jobs on the session's two-node Ray cluster (slow); the driver's own
behaviour (exchanges, pacing) is `tests/test_driver.py`'s.
"""

import re
import time
from collections import Counter

import numpy as np
import pytest
from gensim.models import KeyedVectors

import w2v
from w2v import TrainConfig
from w2v.pipeline import Stopwatch, run

from .terminal import final_lines


def test_stopwatch_stages_follow_the_callers_and_start_where_it_says():
    """A stopwatch continues the caller's timings (preflight, Ray start-up first) and times from `since`."""
    timings = {"preflight": 0.25}
    watch = Stopwatch(timings, since=time.perf_counter() - 10.0)  # the stage began 10 s ago
    watch.lap("list")
    watch.lap("vocabulary")
    assert list(timings) == ["preflight", "list", "vocabulary"]
    assert timings["list"] >= 10.0 and 0.0 <= timings["vocabulary"] < timings["list"]


@pytest.mark.slow
def test_every_long_stage_shows_a_bar_fed_as_its_ray_tasks_end(trained_job):
    """On a terminal: counting (shards and words counted), merging, spooling (actors), training (epochs),
    the evaluation task (its time), writing and publishing the artifact (files, MB), in that order."""
    result, screen = trained_job
    m = result.manifest
    shown = {line.split(": ")[0]: line for line in final_lines(screen)}  # bar name -> its last drawing
    assert list(shown) == ["counting words", "merging counts", "spooling", "training", "evaluating (one Ray task)",
                           "writing the artifact", f"publishing to {result.out}"], screen
    shards = len(m.corpus.shards)
    assert "100%|" in shown["counting words"] and f"| {shards} of {shards} shards [" in shown["counting words"]
    assert f", {m.corpus.words:,} words, {m.corpus.bytes / 1e6:,.1f} MB]" in shown["counting words"]
    assert re.search(r"100%\|.*\| (\d+) of \1 tasks \[", shown["merging counts"]), shown["merging counts"]
    actors = len(m.training.actors)
    spooled = sum(a["spool_words"] for a in m.training.actors)
    assert f"| {actors} of {actors} actors [" in shown["spooling"] and f", {spooled:,} words, " in shown["spooling"]
    assert "| 5 of 5 epochs [" in shown["training"] and " words/s, sync " in shown["training"]
    assert shown["evaluating (one Ray task)"].endswith(", finished")
    files = len(m.files)  # every file but the manifest, staged and checksummed before it
    assert "100%|" in shown["writing the artifact"] and f"| {files} of {files} files [" in shown["writing the artifact"]
    assert "100%|" in shown[f"publishing to {result.out}"] and " MB [" in shown[f"publishing to {result.out}"]


@pytest.mark.slow
def test_artifact_files_agree_in_shape(trained_artifact):
    out = trained_artifact.out
    vectors = np.load(f"{out}/vectors.npy")
    vocab_lines = open(f"{out}/vocab.tsv", encoding="utf-8").read().splitlines()
    assert vectors.dtype == np.float32 and vectors.shape == (len(vocab_lines), 32)
    kv = KeyedVectors.load_word2vec_format(f"{out}/vectors.bin", binary=True)
    assert kv.index_to_key == [line.split("\t")[0] for line in vocab_lines]
    assert np.array_equal(kv.vectors, vectors)


@pytest.mark.slow
def test_manifest_checksums_match_the_files(trained_artifact):
    manifest = w2v.verify(trained_artifact.out)
    assert set(manifest["files"]) == {"vectors.npy", "vocab.tsv", "vectors.bin", "eval.json",
                                      "report.md", "words_pca.png", "training_curves.png", "metadata.tsv", "projector_vectors.tsv",
                                      "projector_config.pbtxt", "checkpoint", "projector.ckpt-1.index",
                                      "projector.ckpt-1.data-00000-of-00001", "README.md",
                                      "events.out.tfevents.w2v-training"}
    assert manifest["vocabulary"]["size"] == np.load(f"{trained_artifact.out}/vectors.npy").shape[0]


@pytest.mark.slow
def test_vocabulary_equals_a_direct_count(trained_artifact, planted_corpus):
    _, counts = planted_corpus
    expected = sorted(((w, c) for w, c in counts.items() if c >= 5), key=lambda wc: (-wc[1], wc[0]))
    lines = open(f"{trained_artifact.out}/vocab.tsv", encoding="utf-8").read().splitlines()
    assert [tuple(line.split("\t")) for line in lines] == [(w, str(c)) for w, c in expected]
    corpus = trained_artifact.manifest.corpus
    assert corpus.words == sum(counts.values())
    assert sum(s["words"] for s in corpus.shards) == sum(counts.values())
    assert not any(w.startswith("rare") for w, _ in expected)


@pytest.mark.slow
def test_min_count_above_every_count_is_a_clear_error(ray_cluster, planted_corpus, tmp_path):
    root, counts = planted_corpus
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "x"), min_count=10**9, eval=False)
    with pytest.raises(w2v.CorpusError, match=f"min_count=1000000000.*appears {max(counts.values())} times"):
        run(config)


@pytest.mark.slow
def test_one_actor_reads_compressed_and_plain_shards(ray_cluster, planted_corpus, tmp_path):
    root, counts = planted_corpus
    config = TrainConfig(corpus=(str(root / "*.gz"), str(root / "part-000.txt")), out=str(tmp_path / "one"),
                         actors=1, vector_size=16, epochs=2, eval=False)
    result = run(config)
    assert len(result.manifest.training.actors) == 1
    assert result.manifest.training.exchanges == 0  # one actor: nothing to exchange
    assert "eval.json" not in result.manifest.files
    shard_words = Counter({s["uri"].rsplit("/", 1)[1]: s["words"] for s in result.manifest.corpus.shards})
    assert sorted(shard_words) == ["part-000.txt", "part-001.txt.gz", "part-003.txt.gz"]


@pytest.mark.slow
def test_a_simple_tokenizer_job_records_it_and_to_indices_applies_it(ray_cluster, tmp_path):
    from gensim.utils import simple_preprocess

    lines = [f"The Cat, {i % 7}th (CAT!) sat -- on mat{i % 3}; the dog's bone." for i in range(60)]
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "punct.txt").write_text("\n".join(lines) + "\n")
    config = TrainConfig(corpus=(str(tmp_path / "corpus"),), out=str(tmp_path / "simple"), tokenizer="simple",
                         actors=1, vector_size=8, epochs=1, min_count=1, eval=False)
    result = run(config)
    assert result.manifest.parameters["tokenizer"] == "simple"
    assert not result.manifest.parameters["deaccent"]
    kv = w2v.load(config.out)
    expected = Counter(w for line in lines for w in simple_preprocess(line))
    assert {w: kv.get_vecattr(w, "count") for w in kv.index_to_key} == expected
    assert w2v.to_indices(["The", "Cat,", "(CAT!)"], kv).tolist() == [kv.key_to_index[w] + 1 for w in
                                                                        ("the", "cat", "cat")]
    assert w2v.to_indices(["The"], kv, tokenizer="whitespace").tolist() == []


