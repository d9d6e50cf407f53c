"""The analogy solver (`analogies`) against gensim: 3CosAdd as `evaluate_word_analogies`, 3CosMul as
`most_similar_cosmul`, gensim's top-5 rule for case variants, and blocks and batches that change nothing."""

import numpy as np
import pytest

from w2v.evaluation.analogies import _gensim_answer, analogy_scores, complete_analogy, solve_analogies
from w2v.evaluation.sets import canonical_rows, read_analogies, vocabulary_index

from .planted_vectors import ANALOGIES, analogy_vectors, gensim_kv

slow = pytest.mark.slow  # imports TensorFlow


def test_gensims_rule_skips_question_words_and_their_case_variants():
    """Pure numpy: of the top candidates, a, b and c go, then the first whose key is not a question word wins."""
    canonical = np.array([0, 1, 2, 3, 4, 1])  # row 5 is a case variant of row 1 ("B" of "b")
    questions = np.array([[0, 1, 2, 3], [0, 1, 2, 4], [0, 1, 2, 3]])
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.9, 0.8, 0.7, 0.1], [0.9, 0.8, 0.7, 0.6]])
    rows = np.array([[1, 5, 3, 4], [1, 5, 3, 4], [5, 2, 4, 3]])  # candidates, best first
    # 1: b itself, dropped; 5: b's variant, skipped; 3 is next: right for question 0, wrong for 1.
    # 2: 5 skipped, 2 (c) dropped, 4 wins over 3: wrong.
    assert _gensim_answer(scores, rows, questions, canonical).tolist() == [True, False, False]
    shuffled = np.array([[3, 1, 0, 2]] * 3)  # the candidates' order does not matter, their scores do
    assert _gensim_answer(np.take_along_axis(scores, shuffled, 1), np.take_along_axis(rows, shuffled, 1),
                          questions, canonical).tolist() == [True, False, False]


def test_unknown_methods_are_refused_before_tensorflow_starts():
    vectors = np.eye(4, dtype=np.float32)
    with pytest.raises(ValueError, match="3CosMax"):
        complete_analogy(vectors, [0, 1, 2], method="3CosMax")
    with pytest.raises(ValueError, match="3CosMax"):
        solve_analogies(vectors, np.array([[0, 1, 2, 3]]), np.arange(4), methods=["3CosMax"])


@slow
def test_complete_analogy_3cosmul_agrees_with_gensims_most_similar_cosmul():
    words, vectors = analogy_vectors(fillers=0)
    kv = gensim_kv(words, vectors)
    idx = kv.key_to_index
    found, scores = complete_analogy(vectors, [idx["Athens"], idx["Greece"], idx["Berlin"]], k=3, method="3CosMul")
    theirs = kv.most_similar_cosmul(positive=["Greece", "Berlin"], negative=["Athens"], topn=3)
    assert [words[i] for i in found] == [w for w, _ in theirs]
    np.testing.assert_allclose(scores, [s for _, s in theirs], atol=1e-4)


@slow
@pytest.mark.parametrize("restrict_vocab", [300_000, 700])
def test_3cosadd_matches_gensim_per_section_within_half_a_point(restrict_vocab):
    words, vectors = analogy_vectors()
    ours = analogy_scores(vectors, words, ANALOGIES, restrict_vocab=restrict_vocab)
    score, sections = gensim_kv(words, vectors).evaluate_word_analogies(ANALOGIES, restrict_vocab=restrict_vocab)
    total = ours["total"]["3CosAdd"]
    assert 0.2 < total["accuracy"] < 0.9  # neither trivial nor hopeless: the comparison means something
    assert abs(100 * total["accuracy"] - 100 * score) <= 0.5, (total, score)
    theirs = {s["section"]: s for s in sections}
    for row in ours["sections"]:
        ref = theirs[row["section"]]
        assert row["evaluated"] == len(ref["correct"]) + len(ref["incorrect"])
        assert abs(row["3CosAdd"]["correct"] - len(ref["correct"])) <= max(1, 0.005 * row["evaluated"])
    oov = ours["total"]["oov"]
    assert ours["total"]["questions"] == 19_544
    assert (oov == 0) == (restrict_vocab == 300_000)
    assert ours["oov_ratio"] == round(100 * oov / 19_544, 2)


def gensim_cosmul_correct(kv, questions):
    """gensim's evaluate_word_analogies loop with most_similar_cosmul (gensim 4.4 ignores its
    similarity_function argument and always uses 3CosAdd, so the loop is repeated here)."""
    ok_vocab = {k.upper(): kv.get_index(k) for k in reversed(kv.index_to_key)}
    original, kv.key_to_index = kv.key_to_index, ok_vocab
    correct = 0
    try:
        for a, b, c, expected in questions:
            predicted = None
            for word, _ in kv.most_similar_cosmul(positive=[b, c], negative=[a], topn=5):
                predicted = word.upper()
                if predicted not in (a, b, c):
                    break
            correct += predicted == expected
    finally:
        kv.key_to_index = original
    return correct


@slow
def test_3cosmul_matches_gensims_most_similar_cosmul():
    words, vectors = analogy_vectors()
    lines = [line.upper().split() for line in open(ANALOGIES, encoding="utf-8") if not line.startswith(":")]
    sample = lines[::40]  # 489 questions over every section: gensim's one-by-one loop is slow
    index = vocabulary_index(words, len(words))
    questions = np.array([[index[w] for w in q] for q in sample])
    mine = int(solve_analogies(vectors, questions, canonical_rows(words, index, len(words)), ["3CosMul"])["3CosMul"].sum())
    theirs = gensim_cosmul_correct(gensim_kv(words, vectors), sample)
    assert 0.2 * len(sample) < theirs < 0.95 * len(sample)
    assert abs(mine - theirs) <= 0.005 * len(sample), (mine, theirs)


@slow
def test_blocks_and_batches_do_not_change_answers(monkeypatch):
    import w2v.evaluation.analogies

    top_k_rule = []  # questions whose best candidate was a case variant of a question word
    original = w2v.evaluation.analogies._answers_by_top_k
    monkeypatch.setattr(w2v.evaluation.analogies, "_answers_by_top_k",
                        lambda tf, unit, q, *a: top_k_rule.append(len(q)) or original(tf, unit, q, *a))
    words, vectors = analogy_vectors()
    sections, _ = read_analogies(ANALOGIES, words)
    questions = np.array([q for s in sections for q in s.questions[:40]])
    canonical = canonical_rows(words, vocabulary_index(words, len(words)), len(words))
    whole = solve_analogies(vectors, questions, canonical)
    distinct = len(np.unique(questions[:, :3]))
    # 7 candidate columns per block, so 7 questions per batch: many blocks to merge, many batches
    pieces = solve_analogies(vectors, questions, canonical, max_scores=7 * distinct)
    for method in ("3CosAdd", "3CosMul"):
        assert np.array_equal(whole[method], pieces[method])
        assert whole[method].any() and not whole[method].all()
    assert sum(top_k_rule) > 0
