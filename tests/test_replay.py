"""The one-process replay trains every word once per epoch in the protocol's rounds, with any combiner; the outer
momentum has unit steady-state gain when lr = 1 - beta, and without momentum it is the rule it wraps."""

import numpy as np

from jobs import replay
from tests.corpora import group_of, write_planted_corpus

PARAMS = {**replay.PARAMS, "vector_size": 32, "epochs": 5, "min_count": 5}


def test_outer_nesterov_moves_a_persistent_step_as_far_as_the_rule_alone():
    rows = slice(0, 1)
    step = {"vectors": np.array([[1.0, 0.0]], np.float32)}
    plain = replay.Outer(2, inner=replay.Combiner(2, "sum"), lr=1.0, beta=0.0, nesterov=True, vocab_rows=1)
    assert plain(0, rows, {"vectors": step["vectors"].copy()}, {})["vectors"].tolist() == [[1.0, 0.0]]
    unit = replay.Outer(2, inner=replay.Combiner(2, "sum"), lr=0.5, beta=0.5, nesterov=True, vocab_rows=1)
    moved = [unit(r, rows, {"vectors": step["vectors"].copy()}, {})["vectors"][0, 0] for r in range(30)]
    assert moved[0] == 0.75 and abs(moved[-1] - 1.0) < 1e-6  # a look-ahead first, then the same step


def test_slowmo_on_saturation_gives_a_persistent_step_twice_its_size_at_beta_one_half():
    vocab = replay.Vocabulary(words=("a", "b"), counts=(10, 5), effective_min_count=1, raw_words=15, raw_distinct=2)
    combine = replay.make_combiner("saturation+slowmo0.5", 2, 2, vocab, PARAMS, 100, rounds=10)
    assert isinstance(combine.inner, replay.Saturation) and combine.inner.updates  # the inner rule is configured
    rows, moved = slice(0, 1), []
    for r in range(30):  # the same orthogonal deltas every round: saturation keeps their sum, the momentum grows it
        summed = {"vectors": np.array([[1.0, 1.0]], np.float32)}
        moved.append(combine(r, rows, summed, {"vectors": np.array([2.0])})["vectors"][0, 0])
    assert moved[0] == 1.0 and moved[1] == 1.5 and abs(moved[-1] - 2.0) < 1e-6


def test_syn1neg_can_be_combined_by_another_rule():
    same = np.array([[2.0, 0.0]], np.float32)  # two actors' identical deltas, summed
    combine = replay.make_combiner("adaptive+syn1neg-sum", 2, 1)
    out = combine(0, slice(0, 1), {"vectors": same.copy(), "syn1neg": same.copy()},
                  {"vectors": np.array([2.0]), "syn1neg": np.array([2.0])})
    assert out["vectors"].tolist() == [[1.0, 0.0]] and out["syn1neg"].tolist() == [[2.0, 0.0]]


def test_touch_mean_divides_each_row_by_the_members_that_moved_it():
    summed = {"vectors": np.array([[3.0, 3.0], [2.0, 0.0]], np.float32)}
    combine = replay.make_combiner("touch-mean", 3, 2)
    out = combine(0, slice(0, 2), summed, {"vectors": np.array([6.0, 4.0])}, {"vectors": np.array([3, 1])})
    assert out["vectors"].tolist() == [[1.0, 1.0], [2.0, 0.0]]  # all three moved row 0; one moved row 1


def test_saturation_steps_a_row_by_its_update_count_since_its_last_exchange():
    # K=2, rho=1/2: one update each moves a row 1/2 of the way, both one after the other 3/4: factor 3/4 / (2 x 1/2).
    combine = replay.Saturation(2, rho=0.5, floor_adaptive=False, updates={"vectors": np.array([1.0, 0.0])},
                                last=np.full(2, -1))
    same = {"vectors": np.array([[2.0, 0.0], [2.0, 0.0]], np.float32)}  # two equal deltas, summed, per row
    squares = {"vectors": np.array([2.0, 2.0])}
    assert combine(0, slice(0, 2), same, squares)["vectors"].tolist() == [[1.5, 0.0], [2.0, 0.0]]  # no updates: sum
    # Three rounds later: 3 updates each, 1 - 1/8 each, 1 - 1/64 together: (63/64) / (2 x 7/8) = 9/16.
    later = {"vectors": np.array([[2.0, 0.0], [2.0, 0.0]], np.float32)}
    assert combine(3, slice(0, 2), later, squares)["vectors"].tolist() == [[1.125, 0.0], [2.0, 0.0]]


def test_saturation_can_take_each_rounds_learning_rate_as_its_rho():
    follow = replay.Saturation(2, follow_alpha=True, alphas=lambda r: 0.5, floor_adaptive=False,
                               updates={"vectors": np.array([1.0, 0.0])}, last=np.full(2, -1))
    same = {"vectors": np.array([[2.0, 0.0], [2.0, 0.0]], np.float32)}
    assert follow(0, slice(0, 2), same, {"vectors": np.array([2.0, 2.0])})["vectors"].tolist() == [[1.5, 0.0], [2.0, 0.0]]


def test_rho_following_alpha_is_each_rounds_mean_learning_rate():
    vocab = replay.Vocabulary(words=("a", "b"), counts=(10, 5), effective_min_count=1, raw_words=15, raw_distinct=2)
    combine = replay.make_combiner("adaptive+saturation-alpha", 2, 2, vocab, PARAMS, 100, rounds=10)
    start, end = replay.sync.chunk_alphas(PARAMS["alpha"], replay.TrainConfig.min_alpha, 10, 3)
    assert combine.alphas(3) == (start + end) / 2 and combine.alphas(0) > combine.alphas(9)


def test_adaptive_saturation_shrinks_agreeing_rows_only_as_far_as_their_counts_allow():
    combine = replay.Saturation(2, rho=0.5, updates={"vectors": np.array([1.0, 1.0])}, last=np.full(2, -1))
    summed = {"vectors": np.array([[2.0, 0.0], [1.0, 1.0]], np.float32)}  # row 0: d1 = d2; row 1: orthogonal
    out = combine(0, slice(0, 2), summed, {"vectors": np.array([2.0, 2.0])})
    assert out["vectors"].tolist() == [[1.5, 0.0], [1.0, 1.0]]  # adaptive says 1/2 and 1; saturation 3/4


def test_the_replay_trains_every_word_once_per_epoch_and_learns_the_planted_groups(tmp_path):
    counts = write_planted_corpus(tmp_path / "corpus", compress=("",))
    prep = replay.prepare([tmp_path / "corpus"], tmp_path / "work", PARAMS["min_count"])
    # gensim's file holds the parts' lines in the order the actors read them, not the sources' order
    dealt = [line for part in sorted(prep.parts.glob("part-*.txt")) for line in part.read_text().splitlines()]
    assert prep.joined.read_text().splitlines() == dealt and len(dealt) > 100
    assert prep.epoch_words == sum(counts.values())
    result = replay.replay(prep, PARAMS, 4, 1, "adaptive+nesterov0.5", tmp_path / "work", sync_words=2_000)
    assert result.words == PARAMS["epochs"] * prep.epoch_words and result.rounds > 2
    neighbours = [w for w, _ in result.kv.most_similar("g1w1", topn=5)]
    assert sum(group_of(w) == 1 for w in neighbours) >= 4, neighbours
    blocking = replay.replay(prep, PARAMS, 4, 1, "adaptive+nesterov0.5", tmp_path / "work", sync_words=2_000, lag=1)
    assert blocking.words == result.words and blocking.rounds == result.rounds  # the same words, rounds landing earlier
    assert not np.array_equal(blocking.kv.vectors, result.kv.vectors)


def test_the_replay_rounds_a_bfloat16_wire_as_torch_does_and_sums_as_the_ring_does():
    """`to_bfloat16` gives torch's bfloat16 conversion bit for bit (ties to even, negatives, tiny values,
    infinities; NaN stays NaN), and `wire_sum` rounds the running sum after every member's addition."""
    import pytest

    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.normal(0, 1e-2, 20_000), -rng.lognormal(-10, 4, 20_000), [0.0, -0.0, 1e-30, 3e38,
                             np.inf, -np.inf, 1.00390625, 1.01171875, -1.00390625]]).astype(np.float32)
    ours = replay.to_bfloat16(values)
    theirs = torch.from_numpy(values).to(torch.bfloat16).float().numpy()
    assert np.array_equal(ours.view(np.uint32), theirs.view(np.uint32))
    assert np.isnan(replay.to_bfloat16(np.array([np.nan, -np.nan], np.float32))).all()
    parts = [rng.normal(0, 1e-2, 1_000).astype(np.float32) for _ in range(4)]
    expected = torch.from_numpy(parts[0]).bfloat16()
    for part in parts[1:]:
        expected = expected + torch.from_numpy(part).bfloat16()  # bfloat16 + bfloat16: rounded after each addition
    assert np.array_equal(replay.wire_sum(parts, "bfloat16"), expected.float().numpy())
    assert np.array_equal(replay.wire_sum(parts, "float32"), np.sum(parts, axis=0, dtype=np.float32))
    assert not np.array_equal(replay.wire_sum(parts, "bfloat16"), replay.wire_sum(parts, "float32"))
