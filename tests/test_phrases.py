"""Phrases: the phrases w2v finds are gensim `Phrases`' exactly, and every reader joins them the same way."""

import json
import random

import numpy as np
import pytest

from gensim.models.phrases import FrozenPhrases, Phrases
from gensim.test.utils import datapath

import w2v
from w2v import phrases
from w2v.config import TrainConfig
from w2v.corpus import ReadOptions, ShardSentences, list_shards, split_shards
from w2v.errors import ConfigError
from w2v.vocab import Pruner, count_shard, merge_into

MIN_COUNT = 5


def count_here(shards, options, max_vocab_size, tally):
    """`vocab.count_and_merge` in this process: one table per shard, merged in order with the same pruning."""
    total, pruner, counted = {}, Pruner(max_vocab_size), []
    for shard in shards:
        c = count_shard(shard, options, max_vocab_size, tally)
        counted.append(c)
        merge_into(total, c.counts, pruner)
    return total, counted, {"pruned_words": pruner.pruned_words + sum(c.pruned_words for c in counted),
                            "pruned_tokens": pruner.pruned_tokens + sum(c.pruned_tokens for c in counted)}


@pytest.fixture(scope="module")
def lee_shards():
    """The Lee corpus in 8 byte ranges (so tables are merged), read lowercased."""
    shards = split_shards(list_shards([datapath("lee_background.cor")]), 1, piece_bytes=50_000)
    assert len(shards) >= 8
    return shards


def gensim_passes(sentences, passes, threshold, scoring, connectors, max_vocab_size=40_000_000):
    """gensim's own multi-pass phrasing: Phrases on the sentences, then on what the previous pass made."""
    frozen = []
    for _ in range(passes):
        model = Phrases(sentences, min_count=MIN_COUNT, threshold=threshold, scoring=scoring,
                        connector_words=phrases.connector_words(connectors), max_vocab_size=max_vocab_size)
        frozen.append(model.freeze())
        sentences = [frozen[-1][s] for s in sentences]
    return frozen, sentences


@pytest.mark.parametrize("scoring,threshold", [("default", 10.0), ("npmi", 0.5)])
@pytest.mark.parametrize("connectors", [False, True])
@pytest.mark.parametrize("passes", [1, 2])
def test_the_phrases_found_are_gensims_exactly(lee_shards, scoring, threshold, connectors, passes):
    options = ReadOptions(lowercase=True)
    ours = phrases.learn(lee_shards, options, passes, MIN_COUNT, threshold, scoring, connectors, count=count_here)
    sentences = list(ShardSentences(lee_shards, options))
    frozen, phrased = gensim_passes(sentences, passes, threshold, scoring, connectors)
    assert len(ours.layers) == passes
    for layer, theirs in zip(ours.layers, frozen):
        assert len(theirs.phrasegrams) > 100
        assert {p: s for p, (_, s) in layer.items()} == theirs.phrasegrams  # the same phrases, the same scores
    assert [ours.apply(s) for s in sentences] == phrased  # and the same text once joined
    assert ours.passes[0]["corpus_words"] == sum(len(s) for s in sentences)


def test_counting_a_shard_is_gensims_learn_vocab_even_when_pruned():
    shard = list_shards([datapath("lee_background.cor")])[0]
    sentences = list(ShardSentences([shard]))
    for bound in (None, 5_000):
        for connectors in (False, True):
            words = phrases.connector_words(connectors)
            _, theirs, total = Phrases._learn_vocab(sentences, bound or 40_000_000, "_", words, 10**9)
            counted = count_shard(shard, ReadOptions(), bound, lambda t, s: phrases.tally(t, s, words))
            assert counted.counts == theirs and counted.words == total


def test_pruned_merges_differ_from_one_gensim_process_by_a_counted_amount(lee_shards):
    """README's "Phrases" numbers: the Lee corpus's table holds 48,026 words and candidates. Bounded below
    that, both gensim (one process) and w2v (8 tables merged) lose phrases against the exact count, and
    they differ from each other by a few phrases: 8 at a 20,000 bound, 1 at 40,000."""
    options = ReadOptions(lowercase=True)
    sentences = list(ShardSentences(lee_shards, options))
    exact = phrases.learn(lee_shards, options, 1, MIN_COUNT, 10.0, "default", False, count=count_here)
    truth = set(exact.layers[0])
    assert exact.passes[0]["pruned_words"] == 0 and exact.passes[0]["table"] == 48_026 and len(truth) == 284
    for bound, differ in ((20_000, 8), (40_000, 1)):
        bounded = phrases.learn(lee_shards, options, 1, MIN_COUNT, 10.0, "default", False, max_vocab_size=bound,
                                count=count_here)
        (theirs,), _ = gensim_passes(sentences, 1, 10.0, "default", False, max_vocab_size=bound)
        ours = set(bounded.layers[0])
        assert bounded.passes[0]["pruned_words"] > 0
        assert len(ours) < len(truth) and len(theirs.phrasegrams) < len(truth)  # the bound costs phrases in both
        assert len(ours ^ set(theirs.phrasegrams)) == differ


def test_phrasing_joins_left_to_right_like_frozen_phrases():
    phrasing = phrases.Phrasing(({"new_york": (9, 20.0), "york_city": (9, 30.0), "bank_of_america": (9, 40.0)},),
                                connectors=True)
    model = phrases.frozen_phrases(phrasing)[0]
    for sentence in (["new", "york", "city"], ["the", "bank", "of", "america", "of"], ["of", "new"], [],
                     ["york", "city", "new", "york"], ["bank", "of", "the", "america"]):
        assert phrasing.apply(sentence) == model[sentence]
    assert phrasing.apply(["new", "york", "city"]) == ["new_york", "city"]  # the first pair wins, as in gensim


def test_phrases_tsv_and_frozen_pickles_round_trip(tmp_path, lee_shards):
    options = ReadOptions(lowercase=True)
    learned = phrases.learn(lee_shards, options, 2, MIN_COUNT, 10.0, "default", True, count=count_here)
    files = phrases.artifact_files(learned, pickle=True)
    assert sorted(files) == ["phrases-1.pkl", "phrases-2.pkl", "phrases.tsv"]
    lines = files["phrases.tsv"].decode().splitlines()
    assert lines[0] == "phrase\tcount\tscore\tpass" and len(lines) == 1 + sum(len(x) for x in learned.layers)
    back = phrases.from_tsv(files["phrases.tsv"], json.loads(json.dumps(learned.settings())))
    assert back.layers == learned.layers and back.connector_set == learned.connector_set
    for n in (1, 2):
        (tmp_path / f"p{n}.pkl").write_bytes(files[f"phrases-{n}.pkl"])
    first, second = (FrozenPhrases.load(str(tmp_path / f"p{n}.pkl")) for n in (1, 2))
    for sentence in ShardSentences(lee_shards[:2], options):
        assert second[first[sentence]] == back.apply(sentence) == learned.apply(sentence)


def test_reading_a_shard_with_phrases_joins_every_sentence(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("we saw new york\nnew york new york\n")
    phrasing = phrases.Phrasing(({"new_york": (3, 99.0)},))
    options = ReadOptions(phrases=phrasing)
    assert list(ShardSentences(list_shards([str(path)]), options)) == [["we", "saw", "new_york"],
                                                                       ["new_york", "new_york"]]


def test_a_loaded_artifact_phrases_new_text_as_training_did(tmp_path):
    from w2v.export import write_artifact

    phrasing = phrases.Phrasing(({"new_york": (7, 50.0)}, {"new_york_times": (5, 60.0)}), threshold=10.0,
                                passes=({"pass": 1}, {"pass": 2}))
    words = ["new_york_times", "new_york", "the", "new"]
    manifest = {"parameters": {"lowercase": True, "tokenizer": "whitespace"}, "phrases": phrasing.settings()}
    out = tmp_path / "art"
    write_artifact(str(out), words, [9, 8, 7, 6], np.eye(4, 3, dtype=np.float32), manifest, None, False,
                   extra_files=phrases.artifact_files(phrasing))
    assert "phrases.tsv" in json.loads((out / "manifest.json").read_text())["files"]  # checksummed with the rest
    kv = w2v.load(str(out))
    assert w2v.phrase(["The", "New", "York", "Times", "new", "York"], kv) == ["the", "new_york_times", "new_york"]
    assert w2v.phrase(["new", "york"], str(out)) == ["new_york"]
    assert w2v.to_indices(["the", "New", "York", "Times"], kv).tolist() == [3, 1]
    (out / "phrases.tsv").write_text((out / "phrases.tsv").read_text() + "x_y\t5\t99.0\t1\n")
    with pytest.raises(w2v.ArtifactError, match="phrases.tsv"):
        w2v.load(str(out))


@pytest.mark.parametrize("values,key", [
    ({"phrases": True, "phrase_scoring": "npmi"}, "phrase_threshold"),  # 10 is for default scoring
    ({"phrases": True, "phrase_threshold": 0.0}, "phrase_threshold"),
    ({"phrases": True, "phrase_scoring": "pmi"}, "phrase_scoring"),
    ({"phrases": True, "phrase_min_count": 0}, "phrase_min_count"),
    ({"phrases": True, "phrase_passes": 0}, "phrase_passes"),
    ({"phrase_passes": 2}, "phrase_passes"),  # without --phrases it would do nothing: refused
    ({"phrase_connector_words": True}, "phrase_connector_words"),
    ({"phrases_pickle": True}, "phrases_pickle"),
])
def test_bad_phrase_settings_are_refused_naming_the_key(values, key):
    with pytest.raises(ConfigError, match=f"^{key}="):
        TrainConfig(corpus=("c",), out="o", **values)


def test_phrase_flags_reach_the_config_and_the_resume_keys():
    from w2v.checkpoint import fingerprint
    from w2v.cli import _train_parser, config_from_args

    args = _train_parser().parse_args(["c.txt", "--out", "o", "--phrases", "--phrase-scoring", "npmi",
                                       "--phrase-threshold", "0.4", "--phrase-passes", "2",
                                       "--phrase-connector-words", "--phrase-min-count", "3"])
    config = config_from_args(args)
    assert (config.phrases, config.phrase_scoring, config.phrase_threshold, config.phrase_passes,
            config.phrase_connector_words, config.phrase_min_count) == (True, "npmi", 0.4, 2, True, 3)
    assert fingerprint(config, [])["parameters"]["phrase_threshold"] == 0.4
    assert TrainConfig.from_mapping(config.to_json()) == config  # the manifest's parameters are a config again


def test_resume_refuses_a_checkpoint_with_other_phrase_settings():
    from w2v.checkpoint import check_resumable, fingerprint

    then = TrainConfig(corpus=("c",), out="o", phrases=True)
    now = TrainConfig(corpus=("c",), out="o", phrases=True, phrase_threshold=20.0)
    check_resumable({"identity": fingerprint(then, [])}, fingerprint(then, []), "ckpt")
    with pytest.raises(ConfigError, match="phrase_threshold: 10.0 in the checkpoint, 20.0 now"):
        check_resumable({"identity": fingerprint(then, [])}, fingerprint(now, []), "ckpt")


def _phrase_corpus(root, lines=3000, seed=5):
    """Sentences of 2,000 words drawn at random, where 'new york' and 'los angeles' always come as pairs."""
    rng = random.Random(seed)
    root.mkdir()
    for f in range(3):
        rows = []
        for _ in range(lines):
            tokens = [f"w{rng.randrange(2000)}" for _ in range(10)]
            for pair in ("new york", "los angeles"):
                if rng.random() < 0.05:
                    tokens.insert(rng.randrange(len(tokens)), pair)
            rows.append(" ".join(tokens))
        (root / f"part-{f}.txt").write_text("\n".join(rows) + "\n")


def test_the_generated_corpus_plants_exactly_its_two_phrases(tmp_path):
    _phrase_corpus(tmp_path / "c")
    found = phrases.learn(list_shards([str(tmp_path / "c")]), ReadOptions(), 1, MIN_COUNT, 10.0, "default", False,
                          count=count_here)
    assert set(found.layers[0]) == {"new_york", "los_angeles"}


@pytest.mark.slow
def test_on_ray_the_phrases_are_gensims_and_training_uses_them(ray_cluster, tmp_path):
    from w2v.pipeline import run

    shards = split_shards(list_shards([datapath("lee_background.cor")]), 2, piece_bytes=40_000)
    options = ReadOptions(lowercase=True)
    on_ray = phrases.learn(shards, options, 2, MIN_COUNT, 0.5, "npmi", True)  # count tasks and the merge tree
    frozen, _ = gensim_passes(list(ShardSentences(shards, options)), 2, 0.5, "npmi", True)
    assert [{p: s for p, (_, s) in layer.items()} for layer in on_ray.layers] == [f.phrasegrams for f in frozen]

    _phrase_corpus(tmp_path / "corpus")
    config = TrainConfig(corpus=(str(tmp_path / "corpus"),), out=str(tmp_path / "art"), vector_size=16, epochs=2,
                         eval=False, checkpoint_interval=0, phrases=True, phrases_pickle=True)
    result = run(config)
    manifest = result.manifest.to_json()
    assert {"phrases.tsv", "phrases-1.pkl"} <= set(manifest["files"])
    assert manifest["phrases"]["phrases"] >= 2 and manifest["parameters"]["phrases"] is True
    kv = w2v.load(config.out)
    assert {"new_york", "los_angeles"} <= set(kv.key_to_index)
    assert "new" not in kv.key_to_index  # every 'new' was followed by 'york': all joined, in training too
    assert w2v.phrase(["new", "york"], kv) == ["new_york"]
    phrased = ReadOptions(phrases=kv.w2v_read_options.phrases)  # the artifact's own table, read back
    tokens = sum(len(s) for s in ShardSentences(list_shards([str(tmp_path / "corpus")]), phrased))
    assert manifest["corpus"]["words"] == tokens == sum(a["spool_words"] for a in manifest["training"]["actors"])
