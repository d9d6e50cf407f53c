"""The combine step and the global schedule, without Ray."""

import numpy as np
import pytest

from w2v import sync


def weights(value: float, shape=(4, 3)) -> sync.Weights:
    return {"vectors": np.full(shape, value, np.float32), "syn1neg": np.full(shape, -value, np.float32)}


def test_delta_sum_applies_every_actors_change():
    combiner = sync.DeltaSum(weights(1.0))
    new = combiner.combine([weights(1.5), weights(0.75), weights(1.0)])
    # base 1 + (0.5) + (-0.25) + 0
    np.testing.assert_allclose(new["vectors"], 1.25)
    np.testing.assert_allclose(new["syn1neg"], -1.25)
    assert combiner.base is new


def test_delta_sum_of_one_actor_is_that_actor_bit_for_bit():
    actor = {"vectors": np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)}
    new = sync.DeltaSum({"vectors": np.zeros((5, 2), np.float32)}).combine([actor])
    assert np.array_equal(new["vectors"], actor["vectors"])


def test_divergence_is_an_error_not_a_silent_nan():
    with pytest.raises(FloatingPointError, match="'vectors'"):
        sync.DeltaSum(weights(0.0)).combine([weights(np.inf), weights(1.0)])


def test_read_only_actor_arrays_are_fine():
    actor = weights(2.0)
    for a in actor.values():
        a.setflags(write=False)  # arrays from the Ray object store are read-only
    sync.DeltaSum(weights(1.0)).combine([actor, weights(1.0)])


def test_round_learning_rates_tile_one_global_schedule():
    alpha, min_alpha, epochs, rounds = 0.025, 0.0001, 3, 4
    slices = [sync.round_alphas(alpha, min_alpha, e, epochs, r, rounds) for e in range(epochs) for r in range(rounds)]
    assert slices[0][0] == alpha
    assert slices[-1][1] == pytest.approx(min_alpha)
    for (_, end), (start, _) in zip(slices, slices[1:]):
        assert end == pytest.approx(start)  # contiguous
    assert all(s > e for s, e in slices)  # decreasing


def test_rounds_keep_every_actor_near_sync_words():
    assert sync.rounds_per_epoch([1_000_000], 20_000) == 1  # one actor: no sync needed
    rounds = sync.rounds_per_epoch([90_000, 120_000], 20_000)
    assert rounds == 6
    budgets = [sync.round_budget(120_000, rounds, r) for r in range(rounds)]
    assert budgets[:-1] == [20_000] * 5 and budgets[-1] is None
