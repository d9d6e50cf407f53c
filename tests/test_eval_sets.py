"""Evaluation files read as gensim reads them (`evaluation.sets`): case-insensitive matching to the most
frequent variant, the `restrict_vocab` cut, OOV and invalid lines counted, bad files named. Pure
Python: no TensorFlow, so none of these is slow."""

import pytest

from w2v import EvaluationError
from w2v.evaluation.sets import canonical_rows, read_analogies, read_pairs, resolve, vocabulary_index

WORDS = ["the", "king", "queen", "King", "man", "woman", "rare"]  # by frequency: "King" is a rarer "king"


def test_analogies_match_case_insensitively_within_restrict_vocab_and_count_oov(tmp_path):
    path = tmp_path / "questions.txt"
    path.write_text(": royals\nMAN KING woman QUEEN\nman king woman rare\nnot four words\n"
                    ": other\nthe man the woman\n\nthe zzz the man\n")
    sections, invalid = read_analogies(str(path), WORDS, restrict_vocab=6)
    assert [(s.name, s.oov) for s in sections] == [("royals", 1), ("other", 1)]  # "rare" is past the cut
    assert sections[0].questions == [(4, 1, 5, 2)]  # KING is row 1, the most frequent variant, not row 3
    assert sections[1].questions == [(0, 4, 0, 5)] and invalid == 1
    exact, _ = read_analogies(str(path), WORDS, restrict_vocab=7, case_insensitive=False)
    assert exact[0].questions == [(4, 1, 5, 6)] and exact[0].oov == 1  # MAN KING ... QUEEN: not in that case


def test_word_pairs_skip_comments_and_count_oov_and_invalid_lines(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("# word1\tword2\tscore\nking\tqueen\t8.5\nKING\tman\t3\nking\tzzz\t1\nking\tqueen\tmany\n"
                    "only\ttwo\n")
    pairs = read_pairs(str(path), WORDS)
    assert pairs.name == "pairs.tsv" and pairs.rows == [(1, 2), (1, 4)] and pairs.gold == [8.5, 3.0]
    assert (pairs.oov, pairs.invalid) == (1, 2)


def test_every_row_stands_for_its_most_frequent_case_variant():
    index = vocabulary_index(WORDS, len(WORDS))
    assert index["KING"] == 1 and len(index) == 6
    assert canonical_rows(WORDS, index, len(WORDS)).tolist() == [0, 1, 2, 1, 4, 5, 6]


def test_a_bare_name_is_gensims_copy_unless_a_local_file_has_it(tmp_path, monkeypatch):
    assert resolve("wordsim353.tsv").endswith("test_data/wordsim353.tsv")
    assert resolve("s3://bucket/wordsim353.tsv") == "s3://bucket/wordsim353.tsv"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wordsim353.tsv").write_text("a\tb\t1\n")
    assert resolve("wordsim353.tsv") == "wordsim353.tsv"  # the caller's own file wins
    assert resolve("not-bundled.txt") == "not-bundled.txt"


def test_bad_evaluation_files_are_named(tmp_path):
    words = ["a", "b", "c", "d"]
    with pytest.raises(EvaluationError, match="nope.txt: no such file"):
        read_analogies(str(tmp_path / "nope.txt"), words)
    (tmp_path / "headless.txt").write_text("a b c d\n")
    with pytest.raises(EvaluationError, match="headless.txt line 1: question before"):
        read_analogies(str(tmp_path / "headless.txt"), words)
    (tmp_path / "pairs.tsv").write_text("just one column\n")
    with pytest.raises(EvaluationError, match="pairs.tsv: no `word<TAB>word<TAB>score` line"):
        read_pairs(str(tmp_path / "pairs.tsv"), words)
