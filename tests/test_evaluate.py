"""TensorFlow nearest neighbours agree with a plain numpy cosine search, batched or not."""

import numpy as np
import pytest

from w2v.evaluate import evaluate, nearest_neighbors, sample_rows

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


def test_evaluation_report_samples_frequent_words_reproducibly():
    words = [f"w{i}" for i in range(300)]
    vectors = np.random.default_rng(2).standard_normal((300, 8)).astype(np.float32)
    report = evaluate(vectors, words, seed=5)
    assert list(report["neighbors"]) == [words[r] for r in sample_rows(300, seed=5)]
    assert all(int(w[1:]) < 100 for w in report["neighbors"])  # among the 100 most frequent
    assert all(len(found) == 8 for found in report["neighbors"].values())
    assert report["runtime"]["devices"]
