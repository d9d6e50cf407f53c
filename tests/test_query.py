"""Queries through gensim: the same answers as numpy's brute force and as the TensorFlow evaluation, words as trained."""

import numpy as np
import pytest

import w2v
from w2v import EvaluationError
from w2v.cli import main
from w2v.export import write_artifact
from w2v.query import analogy, doesnt_match, lookup, neighbors, similarity

WORDS = ["the", "paris", "france", "berlin", "germany", "war", "peace", "march", "book", "water", "café"]


def make_artifact(path, parameters=None, rows=None, dims=16, seed=0) -> str:
    """An artifact of random vectors (no ties between cosines), trained as `parameters` say."""
    words = WORDS + [f"w{i}" for i in range((rows or len(WORDS)) - len(WORDS))]
    vectors = np.random.default_rng(seed).standard_normal((len(words), dims)).astype(np.float32)
    write_artifact(str(path), words, list(range(len(words), 0, -1)), vectors, {"parameters": parameters or {}},
                   None, False)
    return str(path)


def unit_rows(kv) -> np.ndarray:
    matrix = np.asarray(kv.vectors, dtype=np.float64)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_neighbors_and_similarity_are_numpys_cosines(tmp_path):
    kv = w2v.load(make_artifact(tmp_path / "art", rows=300))
    unit = unit_rows(kv)
    for word in ("the", "war", "w17"):
        row = kv.key_to_index[word]
        cosines = unit @ unit[row]
        cosines[row] = -np.inf  # itself excluded
        best = np.argsort(-cosines)[:8]
        found = neighbors(kv, word, k=8)
        assert [w for w, _ in found] == [kv.index_to_key[i] for i in best]
        assert [c for _, c in found] == pytest.approx(cosines[best].tolist(), abs=1e-5)
    assert similarity(kv, "paris", "france") == pytest.approx(float(unit[1] @ unit[2]), abs=1e-6)
    assert len(neighbors(kv, "the", k=10_000)) == 299  # every other word, not an error


def test_analogy_and_doesnt_match_follow_their_definitions(tmp_path):
    kv = w2v.load(make_artifact(tmp_path / "art", rows=300))
    unit = unit_rows(kv)
    a, b, c = (kv.key_to_index[w] for w in ("paris", "france", "berlin"))
    add = unit @ ((unit[b] - unit[a] + unit[c]) / np.linalg.norm(unit[b] - unit[a] + unit[c]))
    mul = ((unit @ unit[b] + 1) / 2) * ((unit @ unit[c] + 1) / 2) / ((unit @ unit[a] + 1) / 2 + 1e-6)
    for method, scores in (("3CosAdd", add), ("3CosMul", mul)):
        scores[[a, b, c]] = -np.inf
        found = analogy(kv, "paris", "france", "berlin", k=4, method=method)
        assert [w for w, _ in found] == [kv.index_to_key[i] for i in np.argsort(-scores)[:4]], method
    group = ["paris", "france", "berlin", "book"]
    rows = unit[[kv.key_to_index[w] for w in group]]
    mean = rows.mean(axis=0) / np.linalg.norm(rows.mean(axis=0))
    assert doesnt_match(kv, group) == group[int(np.argmin(rows @ mean))]
    with pytest.raises(EvaluationError, match="at least 2 words"):
        doesnt_match(kv, ["paris"])
    with pytest.raises(EvaluationError, match="3CosAdd"):
        analogy(kv, "paris", "france", "berlin", method="cosine")


def test_a_capitalised_word_on_a_lowercased_artifact_is_looked_up_lowercased_with_a_note(tmp_path, capsys):
    art = make_artifact(tmp_path / "low", {"lowercase": True})
    kv = w2v.load(art)
    found = lookup(kv, ["Paris", "war"], art)
    assert found.keys == ["paris", "war"]
    assert found.notes == [f"'Paris' looked up as 'paris': {art} was trained with --lowercase"]
    assert main(["neighbors", art, "Paris", "-k", "2"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("paris: ") and "'Paris' looked up as 'paris'" in err and "--lowercase" in err
    assert main(["similarity", art, "PARIS", "France"]) == 0
    assert float(capsys.readouterr().out) == pytest.approx(kv.similarity("paris", "france"), abs=1e-4)
    assert main(["neighbors", art, "Zebra"]) == 2  # lowercased and still unknown: it says both
    err = capsys.readouterr().err
    assert "not in the vocabulary" in err and "'Zebra' (looked up as 'zebra'" in err and "--lowercase" in err


def test_a_word_tokenized_like_the_corpus_is_found_and_case_is_explained_where_it_matters(tmp_path):
    simple = make_artifact(tmp_path / "simple", {"tokenizer": "simple", "deaccent": False})
    assert lookup(w2v.load(simple), ["War,", "café"], simple).keys == ["war", "café"]
    cased = make_artifact(tmp_path / "cased")  # not lowercased: Paris and paris are two words
    with pytest.raises(EvaluationError, match=r"'Paris' \('paris' is: the vocabulary is case-sensitive\)"):
        lookup(w2v.load(cased), ["Paris"], cased)
    with pytest.raises(EvaluationError, match="not in the vocabulary of .*: 'nope', 'zilch'$"):
        lookup(w2v.load(cased), ["nope", "the", "zilch"], cased)


def test_an_empty_or_odd_word_is_quoted_in_the_error(tmp_path, capsys):
    art = make_artifact(tmp_path / "art")
    assert main(["neighbors", art, ""]) == 2
    assert capsys.readouterr().err == f"w2v: error: not in the vocabulary of {art}: ''\n"
    assert main(["similarity", art, "war", " x\ty"]) == 2
    assert capsys.readouterr().err.endswith(": ' x\\\\ty'\n")


@pytest.mark.parametrize("command", [["neighbors", "{}", "war"], ["info", "{}"], ["verify", "{}"],
                                     ["similarity", "{}", "war", "peace"]])
def test_an_artifact_command_given_a_file_or_a_missing_path_says_so_in_one_line(tmp_path, capsys, command):
    art = make_artifact(tmp_path / "art")
    given = {"a file": f"{art}/vectors.bin", "a missing path": f"{tmp_path}/nothing", "a directory": str(tmp_path)}
    said = {}
    for what, path in given.items():
        assert main([part.format(path) for part in command]) == 2, what
        said[what] = capsys.readouterr().err
    assert said["a file"] == (f"w2v: error: {art}/vectors.bin is a file, not an artifact directory: give the "
                              f"directory that holds manifest.json ({art} is one)\n")
    assert said["a missing path"] == f"w2v: error: {tmp_path}/nothing: no such directory\n"
    assert said["a directory"] == f"w2v: error: {tmp_path}: no manifest.json: not an artifact, or an incomplete one\n"


def test_loading_a_file_raises_an_artifact_error_naming_it(tmp_path):
    art = make_artifact(tmp_path / "art")
    with pytest.raises(w2v.ArtifactError, match="vocab.tsv is a file, not an artifact directory"):
        w2v.load(f"{art}/vocab.tsv")
    (tmp_path / "corpus.txt").write_text("the war\n")
    with pytest.raises(w2v.ArtifactError, match="corpus.txt/ is a file, not an artifact directory: .*manifest.json$"):
        w2v.load(f"{tmp_path}/corpus.txt/")  # no hint: its directory is no artifact either


@pytest.mark.slow  # TensorFlow: the evaluation's functions, which answered the query commands before
def test_the_query_commands_answer_as_the_tensorflow_evaluation_does(tmp_path, capsys):
    from w2v.evaluation.analogies import complete_analogy
    from w2v.evaluation.metrics import cosine_pairs, doesnt_match as tf_doesnt_match, nearest_neighbors

    art = make_artifact(tmp_path / "art", rows=500, dims=24, seed=4)
    words, _, vectors = w2v.load_arrays(art, mmap=False)
    idx = {w: i for i, w in enumerate(words)}
    # What the commands printed when they computed with TensorFlow, formatted as they formatted it.
    found, cosines = nearest_neighbors(vectors, [idx["war"], idx["w40"]], k=8)
    expected = [f"{w}: " + ", ".join(f"{words[int(j)]} ({c:.2f})" for j, c in zip(row, cos))
                for w, row, cos in zip(["war", "w40"], found, cosines)]
    assert main(["neighbors", art, "war", "w40"]) == 0
    assert capsys.readouterr().out.splitlines() == expected
    assert main(["similarity", art, "paris", "france"]) == 0
    assert capsys.readouterr().out.strip() == f"{float(cosine_pairs(vectors, [(idx['paris'], idx['france'])])[0]):.4f}"
    for method in ("3CosAdd", "3CosMul"):
        rows, scores = complete_analogy(vectors, [idx["paris"], idx["france"], idx["berlin"]], k=5, method=method)
        assert main(["analogy", art, "paris", "france", "berlin", "--method", method]) == 0
        assert capsys.readouterr().out.strip() == "paris : france :: berlin : " + ", ".join(
            f"{words[int(j)]} ({s:.2f})" for j, s in zip(rows, scores))
    group = ["paris", "france", "berlin", "germany", "book"]
    assert main(["doesnt-match", art, *group]) == 0
    assert capsys.readouterr().out.strip() == words[tf_doesnt_match(vectors, [idx[w] for w in group])]


def test_neighbors_on_a_broken_vocab_tsv_is_one_line_naming_it(tmp_path, capsys):
    from .test_export import rewrite

    art = tmp_path / "art"
    make_artifact(art)
    rewrite(art, "vocab.tsv", "".join(f"{w}\n" for w in WORDS).encode())  # the count column is gone
    assert main(["neighbors", str(art), "war"]) == 2
    assert capsys.readouterr().err == (f"w2v: error: {art / 'vocab.tsv'} line 1: 'the' is not word<TAB>count "
                                       "(a count of 0 or more)\n")
