"""TensorFlow evaluation (`evaluate`, `analogies`) against the references: numpy for neighbours,
gensim for analogies and word pairs.

The analogy vectors are built so that about half of the questions are answered right: every
word of `questions-words.txt` gets a vector, each section's second words are their first word
plus the section's offset plus noise, and lower-case variants of some words sit further down
the vocabulary (case-insensitive matching must take the most frequent variant, as gensim does).
"""

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from w2v import EvaluationError
from w2v.eval_sets import canonical_rows, read_analogies, read_pairs, vocabulary_index
from w2v.analogies import analogy_scores, complete_analogy, solve_analogies
from w2v.evaluate import cosine_pairs, doesnt_match, evaluate, nearest_neighbors, pair_scores, sample_rows

pytestmark = pytest.mark.slow  # imports TensorFlow

ANALOGIES = datapath("questions-words.txt")


def brute_force(vectors, rows, k):
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit[rows] @ unit.T
    scores[np.arange(len(rows)), rows] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def analogy_vectors(dim=48, noise=0.55, fillers=400, seed=0):
    """(words, vectors): the analogy file's words with planted offsets, case variants and filler words."""
    rng = np.random.default_rng(seed)
    vectors: dict[str, np.ndarray] = {}
    offset = None
    for line in open(ANALOGIES, encoding="utf-8"):
        if line.startswith(": "):
            offset = rng.standard_normal(dim)
            continue
        a, b, c, d = line.split()
        for x, y in ((a, b), (c, d)):
            vectors.setdefault(x, rng.standard_normal(dim))
            vectors.setdefault(y, vectors[x] + offset + noise * rng.standard_normal(dim))
    words = list(vectors)
    rng.shuffle(words)
    # case variants near their word: often the best candidate, which gensim's rule must skip
    for w in words[:150]:
        if w.lower() != w:
            vectors[w.lower()] = vectors[w] + 0.3 * rng.standard_normal(dim)
    for w in words[150:200]:
        vectors[w.upper()] = rng.standard_normal(dim)
    words = list(vectors) + [f"filler{i}" for i in range(fillers)]
    matrix = np.stack([vectors.get(w, rng.standard_normal(dim)) for w in words]).astype(np.float32)
    return words, matrix


def gensim_kv(words, vectors):
    kv = KeyedVectors(vector_size=vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv


def test_neighbors_match_numpy_and_exclude_the_word_itself():
    vectors = np.random.default_rng(1).standard_normal((500, 16)).astype(np.float32)
    rows = [0, 3, 99, 499]
    expected_idx, expected_cos = brute_force(vectors, rows, 8)
    for max_scores in (10**9, 700):  # one batch; then one query row per batch
        idx, cos = nearest_neighbors(vectors, rows, k=8, max_scores=max_scores)
        assert np.array_equal(idx, expected_idx)
        np.testing.assert_allclose(cos, expected_cos, atol=1e-5)
        assert all(row not in found for row, found in zip(rows, idx))


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


def test_blocks_and_batches_do_not_change_answers(monkeypatch):
    import w2v.analogies

    top_k_rule = []  # questions whose best candidate was a case variant of a question word
    original = w2v.analogies._answers_by_top_k
    monkeypatch.setattr(w2v.analogies, "_answers_by_top_k",
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

@pytest.mark.parametrize("name", ["wordsim353.tsv", "simlex999.txt"])
def test_word_pairs_match_gensim(name):
    pairs = [line.split("\t")[:2] for line in open(datapath(name), encoding="utf-8") if not line.startswith("#")]
    words = sorted({w for p in pairs for w in p})
    words = [w for i, w in enumerate(words) if i % 10]  # every 10th word missing: some pairs are OOV
    vectors = np.random.default_rng(3).standard_normal((len(words), 24)).astype(np.float32)
    ours = pair_scores(vectors, words, name)  # a bare name: gensim's bundled copy
    (pearson, _), (spearman, _), oov_ratio = gensim_kv(words, vectors).evaluate_word_pairs(datapath(name))
    assert ours["oov"] > 0 and ours["oov_ratio"] == round(oov_ratio, 2)
    assert ours["spearman"] == pytest.approx(spearman, abs=1e-3) and ours["pearson"] == pytest.approx(pearson, abs=1e-3)


def test_similarity_doesnt_match_and_analogy_agree_with_gensim():
    words, vectors = analogy_vectors(fillers=0)
    kv = gensim_kv(words, vectors)
    idx = kv.key_to_index
    assert cosine_pairs(vectors, [(idx["Athens"], idx["Greece"])])[0] == pytest.approx(
        kv.similarity("Athens", "Greece"), abs=1e-5)
    group = ["Athens", "Berlin", "Paris", "Rome", "dollar"]
    assert words[doesnt_match(vectors, [idx[w] for w in group])] == kv.doesnt_match(group)
    found, _ = complete_analogy(vectors, [idx["Athens"], idx["Greece"], idx["Berlin"]], k=3)
    assert [words[i] for i in found] == [w for w, _ in kv.most_similar(positive=["Greece", "Berlin"],
                                                                      negative=["Athens"], topn=3)]
    with pytest.raises(EvaluationError, match="at least 2 words"):
        doesnt_match(vectors, [1])


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


def test_evaluation_report_samples_frequent_words_reproducibly():
    words, vectors = analogy_vectors(fillers=0)
    report = evaluate(vectors, words, seed=5)
    assert list(report["neighbors"]) == [words[r] for r in sample_rows(len(words), seed=5)]
    assert all(words.index(w) < 100 for w in report["neighbors"])  # among the 100 most frequent
    assert all(len(found) == 8 for found in report["neighbors"].values())
    assert report["analogies"][0]["total"]["questions"] == 19_544
    assert [p["file"] for p in report["pairs"]] == ["wordsim353.tsv", "simlex999.txt"]
    assert report["runtime"]["devices"]
