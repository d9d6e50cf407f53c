"""TensorFlow evaluation (`evaluation.metrics`) against the references: numpy for neighbours, gensim for word
pairs, similarity and the odd one out. The analogy solver has its own tests (`test_analogies`).
"""

import numpy as np
import pytest
from gensim.test.utils import datapath

from w2v import EvaluationError
from w2v.evaluation.analogies import complete_analogy
from w2v.evaluation.metrics import cosine_pairs, doesnt_match, evaluate, nearest_neighbors, pair_scores, sample_rows

from .planted_vectors import analogy_vectors, gensim_kv

pytestmark = pytest.mark.slow  # imports TensorFlow


def brute_force(vectors, rows, k):
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit[rows] @ unit.T
    scores[np.arange(len(rows)), rows] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def test_neighbors_match_numpy_and_exclude_the_word_itself():
    vectors = np.random.default_rng(1).standard_normal((500, 16)).astype(np.float32)
    rows = [0, 3, 99, 499]
    expected_idx, expected_cos = brute_force(vectors, rows, 8)
    for max_scores in (10**9, 700):  # one batch; then one query row per batch
        idx, cos = nearest_neighbors(vectors, rows, k=8, max_scores=max_scores)
        assert np.array_equal(idx, expected_idx)
        np.testing.assert_allclose(cos, expected_cos, atol=1e-5)
        assert all(row not in found for row, found in zip(rows, idx))


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


def test_evaluation_report_samples_frequent_words_reproducibly():
    words, vectors = analogy_vectors(fillers=0)
    report = evaluate(vectors, words, seed=5)
    assert list(report["neighbors"]) == [words[r] for r in sample_rows(len(words), seed=5)]
    assert all(words.index(w) < 100 for w in report["neighbors"])  # among the 100 most frequent
    assert all(len(found) == 8 for found in report["neighbors"].values())
    assert report["analogies"][0]["total"]["questions"] == 19_544
    assert [p["file"] for p in report["pairs"]] == ["wordsim353.tsv", "simlex999.txt"]
    assert report["runtime"]["devices"]
