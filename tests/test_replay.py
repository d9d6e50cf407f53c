"""The one-process replay trains every word once per epoch in the protocol's rounds, with any combiner; the outer
momentum has unit steady-state gain when lr = 1 - beta, and without momentum it is the rule it wraps."""

import numpy as np

from jobs import replay
from tests.corpora import group_of, write_planted_corpus

PARAMS = {**replay.PARAMS, "vector_size": 32, "epochs": 5, "min_count": 5}


def test_outer_nesterov_moves_a_persistent_step_as_far_as_the_rule_alone():
    rows = slice(0, 1)
    step = {"vectors": np.array([[1.0, 0.0]], np.float32)}
    plain = replay.OuterNesterov(2, "sum", lr=1.0, beta=0.0, vocab_rows=1)
    assert plain(0, rows, {"vectors": step["vectors"].copy()}, {})["vectors"].tolist() == [[1.0, 0.0]]
    unit = replay.OuterNesterov(2, "sum", lr=0.5, beta=0.5, vocab_rows=1)
    moved = [unit(r, rows, {"vectors": step["vectors"].copy()}, {})["vectors"][0, 0] for r in range(30)]
    assert moved[0] == 0.75 and abs(moved[-1] - 1.0) < 1e-6  # a look-ahead first, then the same step


def test_syn1neg_can_be_combined_by_another_rule():
    same = np.array([[2.0, 0.0]], np.float32)  # two actors' identical deltas, summed
    combine = replay.make_combiner("adaptive+syn1neg-sum", 2, 1)
    out = combine(0, slice(0, 1), {"vectors": same.copy(), "syn1neg": same.copy()},
                  {"vectors": np.array([2.0]), "syn1neg": np.array([2.0])})
    assert out["vectors"].tolist() == [[1.0, 0.0]] and out["syn1neg"].tolist() == [[2.0, 0.0]]


def test_the_replay_trains_every_word_once_per_epoch_and_learns_the_planted_groups(tmp_path):
    counts = write_planted_corpus(tmp_path / "corpus", compress=("",))
    prep = replay.prepare([tmp_path / "corpus"], tmp_path / "work", PARAMS["min_count"])
    assert prep.epoch_words == sum(counts.values())
    result = replay.replay(prep, PARAMS, 4, 1, "adaptive+nesterov0.5", tmp_path / "work", sync_words=2_000)
    assert result.words == PARAMS["epochs"] * prep.epoch_words and result.rounds > 2
    neighbours = [w for w, _ in result.kv.most_similar("g1w1", topn=5)]
    assert sum(group_of(w) == 1 for w in neighbours) >= 4, neighbours
