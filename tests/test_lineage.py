"""Continuing from an artifact: the grown vocabulary, the first weights against gensim's own
`build_vocab(update=True)`, the training state in the artifact, the refusals, and (slow) a real
job that teaches new words of a planted-cluster corpus B to a model of corpus A."""

import json

import numpy as np
import pytest
from gensim.models import Word2Vec

import w2v
from w2v import ArtifactError, ConfigError, TrainConfig
from w2v.config import RESUME_KEYS
from w2v.export import manifest_sha256, republish, write_artifact
from w2v.lineage import (DROPPED_COUNTS, OUTPUT_WEIGHTS, Parent, check_parent, initial_weights, load_parent,
                         state_files, state_section)
from w2v.vocab import Vocabulary

from .corpora import GROUPS, WORDS_PER_GROUP, group_of, write_grown_corpus

PARENT_WORDS = ["the", "of", "zebra", "a"]
PARENT_COUNTS = [50, 40, 7, 5]
PARENT_DROPPED = {"okapi": 4, "quagga": 1}  # counted by the parent's job, below its min_count
PARAMETERS = {"vector_size": 8, "sg": False, "hs": False, "negative": 5, "lowercase": False,
              "tokenizer": "whitespace", "deaccent": False}


def write_parent(out, state=True, **parameters):
    """A parent artifact as a job with save_training_state writes it (no training: known matrices)."""
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(PARENT_WORDS), 8)).astype(np.float32)
    syn1neg = rng.standard_normal((len(PARENT_WORDS), 8)).astype(np.float32)
    config = TrainConfig(corpus=("c",), out=str(out), save_training_state=state)
    manifest = {"parameters": {**PARAMETERS, **parameters}}
    if state:
        manifest["training_state"] = state_section(config)
    write_artifact(str(out), PARENT_WORDS, PARENT_COUNTS, vectors, manifest, None, False,
                   arrays={OUTPUT_WEIGHTS: syn1neg} if state else None, extra_files=state_files(config, PARENT_DROPPED))
    return vectors, syn1neg


def child(parent, **kwargs):
    return TrainConfig(corpus=("c",), out="child", init_from=str(parent), vector_size=8, **kwargs)


# ---------------------------------------------------------------------- the grown vocabulary


def test_parent_words_keep_their_rows_and_new_words_follow_by_count():
    counts = {"of": 3, "new": 9, "rarer": 2, "older": 6, "once": 1}  # "the", "zebra", "a" not in the new corpus
    vocab = Vocabulary.extended(PARENT_WORDS, PARENT_COUNTS, counts, min_count=2)
    assert vocab.words == ("the", "of", "zebra", "a", "new", "older", "rarer")
    assert vocab.counts == (50, 43, 7, 5, 9, 6, 2)  # merged: parent + new corpus
    assert vocab.inherited == 4 and vocab.raw_words == sum(counts.values()) and vocab.raw_distinct == 5
    assert vocab.retained_words == 3 + 9 + 2 + 6  # this corpus's kept tokens, not the parent's counts


def test_min_count_applies_to_merged_counts_and_never_drops_a_parent_word():
    vocab = Vocabulary.extended(PARENT_WORDS, PARENT_COUNTS, {"a": 1, "new": 4}, min_count=5)
    assert vocab.words == tuple(PARENT_WORDS) and vocab.counts == (50, 40, 7, 6)  # "a": 5 + 1; "new" stays out


def test_words_the_parent_left_out_count_too_so_the_vocabulary_is_the_one_of_both_corpora():
    a = {"the": 50, "of": 40, "zebra": 7, "a": 5, **PARENT_DROPPED}  # what the parent's job counted
    b = {"of": 2, "okapi": 3, "quagga": 1, "yak": 5}
    one_job = Vocabulary.from_counts({w: a.get(w, 0) + b.get(w, 0) for w in {*a, *b}}, min_count=5)
    grown = Vocabulary.extended(PARENT_WORDS, PARENT_COUNTS, b, min_count=5, parent_dropped=PARENT_DROPPED)
    assert grown.words == ("the", "of", "zebra", "a", "okapi", "yak")  # okapi: 4 in A + 3 in B
    assert dict(zip(grown.words, grown.counts)) == one_job.word_freq()
    assert grown.retained_words == 2 + 3 + 5  # B's own tokens of kept words


def test_max_final_vocab_bounds_the_whole_vocabulary_with_gensims_tie_rule():
    counts = {"b1": 9, "b2": 8, "b3": 8, "b4": 3}
    vocab = Vocabulary.extended(PARENT_WORDS, PARENT_COUNTS, counts, min_count=1, max_final_vocab=6)
    assert vocab.words[4:] == ("b1",)  # room for 2, but b2 and b3 tie at the cut: both go, as in gensim
    assert Vocabulary.extended(PARENT_WORDS, PARENT_COUNTS, counts, 1, max_final_vocab=7).words[4:] == \
        ("b1", "b2", "b3")
    assert Vocabulary.extended(PARENT_WORDS, PARENT_COUNTS, counts, 1, max_final_vocab=3).words == \
        tuple(PARENT_WORDS)  # the parent alone is bigger: nothing new, nothing of the parent dropped


# ---------------------------------------------------------------------- the first weights


def test_first_weights_are_gensims_own_online_update():
    """gensim's `build_vocab(update=True)` on a trained model: old rows kept, new rows from the seeded
    initialisation of the grown matrix, new output rows zero. Ours: the seeded model of the grown
    vocabulary (what actor 0 builds) with the parent's rows over it. They must be equal."""
    a = [["x", "y", "z", "x", "y", "x"]] * 20
    b = [["new1", "x", "new1", "new2", "new1", "new2", "y"]] * 5  # new words first seen in count order
    model = Word2Vec(a, vector_size=8, min_count=1, seed=5, workers=1, epochs=2, negative=5)
    parent = Parent("p", "", list(model.wv.index_to_key), [int(model.wv.get_vecattr(w, "count"))
                                for w in model.wv.index_to_key], model.wv.vectors.copy(), model.syn1neg.copy(), {})
    model.build_vocab(b, update=True)
    counts = {"new1": 15, "x": 5, "new2": 10, "y": 5}
    vocab = Vocabulary.extended(parent.words, parent.counts, counts, min_count=1)
    assert list(vocab.words) == model.wv.index_to_key
    fresh = Word2Vec(vector_size=8, min_count=1, seed=5, workers=1, negative=5, sorted_vocab=0)
    fresh.build_vocab_from_freq(vocab.word_freq())
    ours = initial_weights({"vectors": fresh.wv.vectors, "syn1neg": fresh.syn1neg}, parent)
    np.testing.assert_array_equal(ours["vectors"], model.wv.vectors)
    np.testing.assert_array_equal(ours["syn1neg"], model.syn1neg)
    assert not np.array_equal(fresh.wv.vectors[:3], parent.vectors)  # the overlay did something


# ---------------------------------------------------------------------- the training state in the artifact


def test_the_training_state_is_checksummed_and_republished(tmp_path):
    vectors, syn1neg = write_parent(tmp_path / "p")
    manifest = w2v.verify(str(tmp_path / "p"))
    assert manifest["training_state"]["output_weights"] == OUTPUT_WEIGHTS
    assert OUTPUT_WEIGHTS in manifest["files"]
    republish(str(tmp_path / "p"), str(tmp_path / "again"))
    parent = load_parent(child(tmp_path / "again"))
    np.testing.assert_array_equal(parent.vectors, vectors)
    np.testing.assert_array_equal(parent.syn1neg, syn1neg)
    assert parent.words == PARENT_WORDS and parent.counts == PARENT_COUNTS and parent.dropped == PARENT_DROPPED
    assert manifest["training_state"]["dropped_counts"] == DROPPED_COUNTS and DROPPED_COUNTS in manifest["files"]
    assert parent.manifest_sha256 == manifest_sha256(str(tmp_path / "again"))


def test_a_parent_without_training_state_is_refused(tmp_path):
    write_parent(tmp_path / "p", state=False)
    with pytest.raises(ArtifactError, match="has no training state .*--save-training-state"):
        check_parent(child(tmp_path / "p"))
    with pytest.raises(ArtifactError, match=r"^--init-from .*nothing: no such directory"):
        check_parent(child(tmp_path / "nothing"))


@pytest.mark.parametrize("key, ours, theirs", [("vector_size", 8, 16), ("sg", False, True), ("negative", 5, 10),
                                               ("lowercase", False, True), ("tokenizer", "whitespace", "simple")])
def test_a_parent_trained_otherwise_is_refused_naming_the_key(tmp_path, key, ours, theirs):
    write_parent(tmp_path / "p", **{key: theirs})
    with pytest.raises(ConfigError, match=f"^{key}={ours!r}, but the parent .* was trained with {key}={theirs!r}"):
        check_parent(child(tmp_path / "p", **({key: ours} if key != "vector_size" else {})))


def test_an_altered_parent_file_is_refused(tmp_path):
    write_parent(tmp_path / "p")
    syn1neg = np.load(tmp_path / "p" / OUTPUT_WEIGHTS)
    syn1neg[0, 0] += 1
    np.save(tmp_path / "p" / OUTPUT_WEIGHTS, syn1neg)
    with pytest.raises(ArtifactError, match=f"^--init-from .*{OUTPUT_WEIGHTS}: sha256 does not match"):
        load_parent(child(tmp_path / "p"))


def test_a_parent_whose_training_state_holds_no_numbers_is_one_line(tmp_path):
    """Checksums consistent (a broken writer, a hand edit): pickle stays off, and the file is named."""
    import io

    from .test_export import rewrite

    write_parent(tmp_path / "p")
    rewrite(tmp_path / "p", DROPPED_COUNTS, b"okapi\tfour\n")
    with pytest.raises(ArtifactError, match=f"^--init-from .*{DROPPED_COUNTS} line 1: 'okapi.*tfour' is not word<TAB>"):
        load_parent(child(tmp_path / "p"))
    objects = io.BytesIO()
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    rewrite(tmp_path / "p", OUTPUT_WEIGHTS, objects.getvalue())
    with pytest.raises(ArtifactError, match=f"^--init-from .*{OUTPUT_WEIGHTS}: not a .npy matrix of numbers .*pickle"):
        load_parent(child(tmp_path / "p"))


def test_a_pinned_parent_manifest_is_enforced(tmp_path):
    write_parent(tmp_path / "p")
    pinned = manifest_sha256(str(tmp_path / "p"))
    assert load_parent(child(tmp_path / "p", init_from_sha256=pinned.upper())).manifest_sha256 == pinned
    with pytest.raises(ArtifactError, match="is not the pinned"):
        load_parent(child(tmp_path / "p", init_from_sha256="0" * 64))


def test_config_refusals_name_the_key():
    with pytest.raises(ConfigError, match="^hs=True: continuing from an artifact needs negative sampling"):
        TrainConfig(corpus=("c",), out="o", init_from="p", hs=True)
    with pytest.raises(ConfigError, match="^hs=True"):
        TrainConfig(corpus=("c",), out="o", save_training_state=True, hs=True)
    with pytest.raises(ConfigError, match="^init_from='o/': give a parent artifact other than --out"):
        TrainConfig(corpus=("c",), out="o", init_from="o/")
    with pytest.raises(ConfigError, match="^init_from_sha256="):
        TrainConfig(corpus=("c",), out="o", init_from_sha256="0" * 64)  # a pin without a parent
    with pytest.raises(ConfigError, match="credentials"):
        TrainConfig(corpus=("c",), out="o", init_from="s3://KEY:SECRET@bucket/p")
    assert "init_from" in RESUME_KEYS  # a checkpoint of a continued job is another job's without it


def test_the_command_line_flags_reach_the_config():
    from w2v.cli import _train_parser, config_from_args

    args = _train_parser().parse_args(["c", "--out", "o", "--init-from", "s3://b/p", "--save-training-state",
                                       "--init-from-sha256", "ab" * 32])
    config = config_from_args(args)
    assert (config.init_from, config.save_training_state, config.init_from_sha256) == ("s3://b/p", True, "ab" * 32)


def test_the_command_refuses_a_bad_parent_in_one_line_before_ray_starts(tmp_path, capsys, ray_cannot_start):
    from w2v.cli import main

    (tmp_path / "c.txt").write_text("a b c\n")
    write_parent(tmp_path / "p")
    write_parent(tmp_path / "plain", state=False)
    train = ["train", str(tmp_path / "c.txt"), "--out", str(tmp_path / "out"), "--no-eval"]
    assert main([*train, "--init-from", str(tmp_path / "plain"), "--vector-size", "8"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main([*train, "--init-from", str(tmp_path / "p")]) == 2  # vector_size 100, the parent's 8
    err = capsys.readouterr().err
    assert err == f"w2v: error: vector_size=100, but the parent {tmp_path / 'p'} was trained with vector_size=8: " \
                  f"a continued job must keep the parent's vector_size\n"
    assert not (tmp_path / "out").exists()  # and Ray was never started: ray_cannot_start would have raised


def test_w2v_info_names_the_parent():
    from w2v.report import describe

    lines = describe({"parent": {"uri": "s3://m/v1", "manifest_sha256": "ab" * 32, "inherited_words": 1200,
                                 "new_words": 34}}, with_files=False)
    assert f"continued from s3://m/v1 (manifest sha256 {'ab' * 32}): 1,200 words on their rows, 34 new" in lines


# ---------------------------------------------------------------------- a real job (Ray)


@pytest.mark.slow
def test_a_continued_job_teaches_new_words_and_keeps_the_parents(ray_cluster, planted_corpus, s3_bucket, tmp_path):
    """A: the planted corpus, 2 actors, parent written to S3 with its training state. B: the same
    groups with 3 new words each; continued from A on 2 actors. The new words' neighbours are
    their group's, and the old words start from A's vectors: each stays close to where A put it,
    where a model of B alone lands anywhere."""
    from w2v.pipeline import run

    root, counts = planted_corpus
    grown = tmp_path / "b"
    write_grown_corpus(grown)
    common = dict(vector_size=32, window=5, min_count=5, epochs=5, eval=False, actors=2)
    parent_uri = f"s3://{s3_bucket}/parent"
    run(TrainConfig(corpus=(str(root),), out=parent_uri, seed=3, save_training_state=True, **common))
    result = run(TrainConfig(corpus=(str(grown),), out=str(tmp_path / "child"), seed=4, init_from=parent_uri,
                             save_training_state=True, **common))
    run(TrainConfig(corpus=(str(grown),), out=str(tmp_path / "scratch"), seed=4, **common))  # B alone, from scratch

    old, new, alone = (w2v.load(u) for u in (parent_uri, str(tmp_path / "child"), str(tmp_path / "scratch")))
    n_old = len(old.index_to_key)
    assert new.index_to_key[:n_old] == old.index_to_key  # every parent word on its row
    added = new.index_to_key[n_old:]
    assert sorted(added) == sorted(f"g{g}w{WORDS_PER_GROUP + i}" for g in range(GROUPS) for i in range(3))
    assert [new.get_vecattr(w, "count") for w in added] == sorted((new.get_vecattr(w, "count") for w in added),
                                                                  reverse=True)
    precision = np.mean([group_of(n) == group_of(w) for w in added for n, _ in new.most_similar(w, topn=5)])
    assert precision >= 0.9

    def stayed(model) -> float:  # mean cosine of a group word with its own vector in A
        words = [w for w in old.index_to_key if group_of(w) is not None]
        a, b = old[words], model[words]
        return float(np.mean(np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)))

    assert stayed(new) > 0.9 and abs(stayed(alone)) < 0.3  # measured: 0.999 and 0.015

    manifest = result.manifest.to_json()
    assert manifest["parent"]["uri"] == parent_uri
    assert manifest["parent"]["manifest_sha256"] == manifest_sha256(parent_uri)
    assert (manifest["parent"]["inherited_words"], manifest["parent"]["new_words"]) == (n_old, len(added))
    assert manifest["parameters"]["init_from"] == parent_uri
    assert manifest["training"]["exchanges"] >= 2  # distributed like any job
    assert json.loads(open(tmp_path / "child" / "manifest.json").read())["training_state"]["output_weights"] == \
        OUTPUT_WEIGHTS
    assert np.load(tmp_path / "child" / OUTPUT_WEIGHTS).shape == new.vectors.shape
    dropped = load_parent(TrainConfig(corpus=("c",), out="o", init_from=parent_uri, vector_size=32)).dropped
    assert set(dropped) == {w for w in counts if w.startswith("rare")} and set(dropped.values()) == {1}
