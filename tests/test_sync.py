"""The delta exchange, without Ray: every actor's change is applied once to everyone."""

import numpy as np
import pytest

from w2v import sync


def weights(value: float, shape=(6, 3)) -> sync.Weights:
    return {"vectors": np.full(shape, value, np.float32), "syn1neg": np.full(shape, -value, np.float32)}


def test_exchange_applies_every_actors_change_to_everyone():
    start = weights(1.0)
    actors = [weights(1.0) for _ in range(3)]
    books = [sync.DeltaBook(a) for a in actors]
    global_weights = weights(1.0)
    # Local training: each actor changes its own copy.
    for k, a in enumerate(actors):
        a["vectors"] += 0.1 * (k + 1)
        a["syn1neg"][k] -= 1.0
    for rows in sync.row_slices(6, row_bytes=3 * 4 * 2, max_bytes=48):  # 2 rows per slice
        deltas = [t.take(a, rows) for t, a in zip(books, actors)]
        total = sync.sum_deltas(deltas)
        for name in total:
            global_weights[name][rows] += total[name]
        for t, a in zip(books, actors):
            t.apply(a, rows, total)
    expected_vectors = start["vectors"] + 0.1 + 0.2 + 0.3
    for a in actors + [global_weights]:
        np.testing.assert_allclose(a["vectors"], expected_vectors, rtol=1e-6)
        np.testing.assert_allclose(a["syn1neg"][:3], -2.0)
        np.testing.assert_allclose(a["syn1neg"][3:], -1.0)


def test_training_during_an_exchange_is_not_lost():
    """Updates made between take and apply stay local and travel in the next exchange."""
    a, b = weights(0.0), weights(0.0)
    book_a, book_b = sync.DeltaBook(a), sync.DeltaBook(b)
    rows = slice(0, 6)
    a["vectors"] += 1.0
    total = sync.sum_deltas([book_a.take(a, rows), book_b.take(b, rows)])
    a["vectors"] += 0.5  # gensim kept training on actor a
    book_a.apply(a, rows, total)
    book_b.apply(b, rows, total)
    np.testing.assert_allclose(b["vectors"], 1.0)
    total = sync.sum_deltas([book_a.take(a, rows), book_b.take(b, rows)])
    book_a.apply(a, rows, total)
    book_b.apply(b, rows, total)
    np.testing.assert_allclose(a["vectors"], 1.5)
    np.testing.assert_allclose(b["vectors"], 1.5)


def test_read_only_deltas_from_the_object_store_are_fine():
    deltas = [weights(1.0), weights(2.0)]
    for d in deltas:
        for array in d.values():
            array.setflags(write=False)
    np.testing.assert_allclose(sync.sum_deltas(deltas)["vectors"], 3.0)


def test_divergence_is_an_error_not_a_silent_nan():
    with pytest.raises(FloatingPointError, match="'vectors'"):
        sync.sum_deltas([weights(np.inf), weights(1.0)])


def test_slices_cover_every_row_once_within_the_size_bound():
    slices = sync.row_slices(1_000_003, row_bytes=2 * 300 * 4)
    assert slices[0].start == 0 and slices[-1].stop == 1_000_003
    assert all(a.stop == b.start for a, b in zip(slices, slices[1:]))
    assert all((s.stop - s.start) * 2 * 300 * 4 <= sync.MAX_SLICE_BYTES for s in slices)


def test_learning_rate_is_linear_and_monotone():
    rates = [sync.learning_rate(0.025, 0.0001, p / 100) for p in range(101)]
    assert rates[0] == 0.025 and rates[-1] == pytest.approx(0.0001)
    assert all(a > b for a, b in zip(rates, rates[1:]))


def test_frequency_tiers_sync_hot_rows_every_time_and_every_row_within_16_exchanges():
    vocab = 1_000
    seen = [0] * vocab
    for n in range(1, 17):
        ranges = sync.tier_ranges(vocab, n, tiers=5)
        assert ranges[0][0] == 0 and ranges[0][1] >= vocab // 16  # the hottest rows, every time
        for start, stop in ranges:
            for row in range(start, stop):
                seen[row] += 1
    assert min(seen) == 1 and seen[0] == 16  # cold rows once per 16 exchanges, hot rows every time
    assert sync.tier_ranges(vocab, 7, final=True) == [(0, vocab)]
    assert sync.tier_ranges(vocab, 0) == [(0, vocab)]
    moved = sum(stop - start for n in range(1, 17) for start, stop in sync.tier_ranges(vocab, n, tiers=5))
    assert moved / (16 * vocab) < 0.2  # about 3/16 of the rows per exchange
    moved = sum(stop - start for n in range(1, 65) for start, stop in sync.tier_ranges(vocab, n))
    assert moved / (64 * vocab) < 0.07  # the default, 7 tiers: about 1/16


def test_exchange_slices_split_tiers_into_bounded_messages():
    slices = sync.exchange_slices(100_000, row_bytes=800, exchange=16, tiers=5, max_bytes=8_000_000)
    assert slices[0].start == 0 and slices[-1].stop == 100_000
    assert all((s.stop - s.start) * 800 <= 8_000_000 for s in slices)


def test_reduce_scatter_pieces_sum_to_the_same_total_as_one_sum():
    """Actor j sums piece j of every delta; the concatenated pieces equal the whole sum."""
    rng = np.random.default_rng(0)
    rows = slice(100, 137)
    deltas = [{"vectors": rng.normal(size=(37, 4)).astype(np.float32),
               "syn1neg": rng.normal(size=(37, 4)).astype(np.float32)} for _ in range(3)]
    pieces = sync.split_rows(rows, 3)
    assert [p.stop - p.start for p in pieces] == [13, 12, 12] and pieces[-1].stop == rows.stop
    by_actor = [sync.cut(d, pieces, rows.start) for d in deltas]
    sums = [sync.sum_deltas([by_actor[a][j] for a in range(3)]) for j in range(3)]
    whole = sync.sum_deltas(deltas)
    for name in whole:
        np.testing.assert_allclose(np.concatenate([p[name] for p in sums]), whole[name], rtol=1e-6)


def test_applying_the_summed_pieces_equals_applying_the_whole_sum():
    rng = np.random.default_rng(1)
    start = {"vectors": rng.normal(size=(10, 3)).astype(np.float32)}
    actors = [{"vectors": start["vectors"].copy()} for _ in range(2)]
    books = [sync.DeltaBook(a) for a in actors]
    for k, a in enumerate(actors):
        a["vectors"][2:9] += k + 1.0
    rows = slice(2, 9)
    deltas = [t.take(a, rows) for t, a in zip(books, actors)]
    pieces = sync.split_rows(rows, 2)
    sums = [sync.sum_deltas([sync.cut(d, pieces, rows.start)[j] for d in deltas]) for j in range(2)]
    whole = sync.sum_deltas(deltas)  # before apply, which reuses the actor's own delta buffer
    books[0].apply(actors[0], rows, *sums)  # in pieces
    books[1].apply(actors[1], rows, whole)
    for a in actors:
        np.testing.assert_allclose(a["vectors"][2:9], start["vectors"][2:9] + 3.0, rtol=1e-6)
        np.testing.assert_allclose(a["vectors"][[0, 1, 9]], start["vectors"][[0, 1, 9]])
    with pytest.raises(ValueError, match="cover 3 rows"):
        books[0].take(actors[0], rows)
        books[0].apply(actors[0], rows, sums[1])


def test_reduce_scatter_keeps_the_busiest_link_flat_as_actors_grow():
    slice_bytes = 64 * 2**20
    busiest = [sync.round_bytes(k, slice_bytes).busiest_link for k in (2, 4, 16, 64)]
    assert max(busiest) <= 2 * slice_bytes  # each way, whatever K is
    star = [sync.round_bytes(k, slice_bytes).star_busiest_link for k in (2, 4, 16, 64)]
    assert star[-1] == 64 * slice_bytes  # the driver's link, through which every delta would pass
    assert sync.projected_efficiency(16, slice_bytes, 0.1, 0.05) > 2 * sync.projected_efficiency(
        16, slice_bytes, 0.1, 0.05, star=True)


def test_exchange_time_adds_bandwidth_latency_per_message_and_the_nodes_own_work():
    slice_bytes, bw = 24e6, 100e6 / 8
    link = sync.round_bytes(4, int(slice_bytes)).busiest_link / bw
    assert sync.exchange_seconds(4, slice_bytes, bw, rtt_seconds=0.0) == pytest.approx(link)  # bandwidth alone
    # Latency counts once per message: a slice over MAX_SLICE_BYTES is several messages, one after the other.
    messages = -(-int(slice_bytes) // sync.MAX_SLICE_BYTES)
    assert messages == 3
    assert sync.exchange_seconds(4, slice_bytes, bw, rtt_seconds=2e-3) - link == pytest.approx(
        messages * sync.exchange_round_trips(4) * 2e-3)
    assert sync.exchange_seconds(4, slice_bytes, bw, 0.0, node_bytes_per_s=12e6) == pytest.approx(link + 2.0)


def test_efficiency_falls_once_an_exchange_outlasts_a_chunk():
    fast = sync.projected_efficiency(16, 150e6, 10.0, 0.05)
    assert fast == pytest.approx(0.95)  # the exchange fits beside a 10 s chunk: only the arithmetic share
    seconds = sync.exchange_seconds(16, 150e6, 10e9 / 8, node_bytes_per_s=1e9)
    slow = sync.projected_efficiency(16, 150e6, seconds / 2, 0.05, node_bytes_per_s=1e9)
    assert slow == pytest.approx(0.5)  # half a chunk's time: the actors wait the other half
    assert sync.projected_efficiency(16, 150e6, 0.25, 0.05, rtt_seconds=5e-3) < sync.projected_efficiency(
        16, 150e6, 0.25, 0.05, rtt_seconds=1e-4)


def test_node_efficiency_keeps_the_exchange_share_and_waits_once_chunks_outlast_exchanges():
    """From CPU costs: 1M words per chunk at 1M words per core-second; 10 MB of slice, 0.1 s of work each."""
    args = (1e6, 10e6, 1e6, 0.1)
    assert sync.node_efficiency(16, 1, *args) == pytest.approx(1 / 1.1)  # 1 s of training, 0.1 s of exchange beside
    exchange = sync.exchange_seconds(16, 10e6, 10e9 / 8, node_bytes_per_s=1e8)
    # 16 cores: the same share of the node's CPU, but a chunk lasts 1/16 s, less than the exchange: it waits
    assert sync.node_efficiency(16, 16, *args) == pytest.approx((1 / 16) / exchange)
    assert sync.most_cores(16, 0.85, *args) == 9  # (1/c) / 0.126 >= 0.85 up to c = 9
    assert sync.most_cores(16, 0.95, *args) == 0  # the exchange's own 9% is never below 5%


def test_adaptive_combining_averages_repeated_moves_and_sums_independent_ones():
    """Row 0: every actor made the same move (a hot word reaching the same place): the mean. Row 1: only
    actor 0 moved it (a word one actor saw): its whole delta. Row 2: orthogonal moves: the sum. Row 3:
    untouched: zero."""
    rng = np.random.default_rng(1)
    same = rng.standard_normal(8).astype(np.float32)
    deltas = []
    for k in range(4):
        d = np.zeros((4, 8), np.float32)
        d[0] = same
        d[1] = same if k == 0 else 0.0
        d[2, k] = 1.0  # orthogonal unit moves
        deltas.append({"vectors": d, "syn1neg": -d})
    combined = sync.sum_deltas(deltas, "adaptive")
    summed = sync.sum_deltas(deltas, "sum")
    for name in ("vectors", "syn1neg"):
        sign = 1 if name == "vectors" else -1
        assert np.allclose(combined[name][0], sign * same, atol=1e-6)  # the mean of 4 identical moves
        assert np.allclose(combined[name][1], sign * same)  # one actor's move, whole
        assert np.allclose(combined[name][2], summed[name][2])  # independent moves add up
        assert not combined[name][3].any()
    assert np.allclose(summed["vectors"][0], 4 * same)  # what plain summing does to the repeated move


def test_adaptive_combining_stays_between_the_mean_and_the_sum():
    rng = np.random.default_rng(2)
    shared = rng.standard_normal((50, 16)).astype(np.float32)
    deltas = [{"vectors": shared + rng.standard_normal((50, 16)).astype(np.float32) * s} for s in (0.1, 0.5, 1.0)]
    combined, summed = sync.sum_deltas(deltas, "adaptive")["vectors"], sync.sum_deltas(deltas)["vectors"]
    ratio = np.linalg.norm(combined, axis=1) / np.linalg.norm(summed, axis=1)
    assert np.all(ratio >= 1 / 3 - 1e-6) and np.all(ratio <= 1 + 1e-6)
    assert np.allclose(combined / np.linalg.norm(combined, axis=1, keepdims=True),
                       summed / np.linalg.norm(summed, axis=1, keepdims=True), atol=1e-5)  # direction: the sum's


def test_saturation_averages_agreeing_moves_only_for_rows_with_enough_updates_to_have_saturated():
    """Two rows every actor moved the same way: adaptive gives both the mean. With `saturation`, the hot row
    (many updates since its turn: every actor got to the same place) keeps the mean; the row with one
    expected update a round is summed nearly whole (one process would have made the K moves one after the
    other); orthogonal moves are summed as by adaptive."""
    same = np.array([1.0, 0.0], np.float32)
    deltas = [{"vectors": np.array([same, same, [1.0 if k == 0 else 0.0, 1.0 if k == 1 else 0.0]], np.float32)}
              for k in range(2)]
    updates = sync.RowUpdates([1, 1, 1], raw_words=1, sync_words=1, window=0, negative=0, sample=0)
    updates.per_round["vectors"] = np.array([1000.0, 1.0, 1.0])
    floors = updates.floors(slice(0, 3), exchange=0, actors=2, tiers=1, rho=0.5)
    assert floors["vectors"].tolist() == [0.5, 0.75, 0.75]  # 1 - 1/4 of the way together, 2 x 1/2 summed
    combined = sync.sum_deltas(deltas, "saturation", floors)["vectors"]
    adaptive = sync.sum_deltas(deltas, "adaptive")["vectors"]
    assert combined.tolist() == [[1.0, 0.0], [1.5, 0.0], [1.0, 1.0]]
    assert adaptive.tolist() == [[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
    assert sync.sum_deltas(deltas, "saturation")["vectors"].tolist() == adaptive.tolist()  # no floors: adaptive


def test_a_rows_updates_count_from_its_last_turn_in_the_tier_schedule():
    """Three tiers over 8 rows: rows 0-1 move every exchange, 2-3 every 2nd, 4-7 every 4th; at exchange 0 (all
    rows) one round's updates, at a full round the rounds since the row's last turn."""
    updates = sync.RowUpdates([1] * 8, raw_words=1, sync_words=1, window=0, negative=0, sample=0)
    updates.per_round["vectors"] = np.ones(8)
    rho, k = 0.5, 2
    rounds = lambda n: sync.saturation_factor(np.array([float(n)]), k, rho)[0]  # noqa: E731
    at = lambda e, full=False: updates.floors(slice(0, 8), e, k, tiers=3, final=full, rho=rho)["vectors"].tolist()  # noqa: E731
    assert at(0) == [rounds(1)] * 8
    assert at(4) == [rounds(1)] * 2 + [rounds(2)] * 2 + [rounds(4)] * 4
    assert at(5, full=True) == [rounds(1)] * 2 + [rounds(1)] * 2 + [rounds(1)] * 4
    assert at(6, full=True) == [rounds(1)] * 2 + [rounds(2)] * 2 + [rounds(2)] * 4


def test_a_slices_floors_are_computed_once_and_are_what_each_round_would_compute_afresh():
    """The floors are kept per slice: every round of a 3-tier schedule (full rounds too) reads back exactly
    what computing them for that round gives, and a later round of the same phase does not compute again."""
    counts = [50, 30, 20, 9, 7, 5, 3, 2]
    updates = sync.RowUpdates(counts, raw_words=sum(counts), sync_words=10, window=2, negative=3, sample=0)
    fresh = sync.RowUpdates(counts, raw_words=sum(counts), sync_words=10, window=2, negative=3, sample=0)
    for exchange in range(12):
        for final in (False, True):
            for rows in (slice(0, 8), slice(2, 6)):
                kept = updates.floors(rows, exchange, 3, tiers=3, final=final)
                again = fresh._floors(rows, exchange, 3, 3, final, sync.SATURATION_RHO)
                assert all(np.array_equal(kept[name], again[name]) for name in again), (exchange, final, rows)
    assert updates.floors(slice(0, 8), 9, 3, tiers=3) is updates.floors(slice(0, 8), 5, 3, tiers=3)
    assert len(updates.computed) == 2 * (2 + 1 + 4)  # per slice: exchange 0 (twice: full or not), one, 4 phases


def test_expected_updates_count_contexts_and_negatives_of_gensims_negative_sampling():
    """Counts 6 and 2 in 10 words, 5 words a round, no down-sampling: 3 and 1 occurrences a round; each a
    context of window + 1 = 6 centres (CBOW), each centre its own output row once and 5 negatives."""
    found = sync.RowUpdates([6, 2], raw_words=10, sync_words=5, window=5, negative=5, sample=0).per_round
    assert found["vectors"].tolist() == [18.0, 6.0]
    share = np.array([6.0, 2.0]) ** 0.75 / (6.0**0.75 + 2.0**0.75)
    assert np.allclose(found["syn1neg"], [3.0, 1.0] + 5 * 4 * share)
    hs = sync.RowUpdates([6, 2], raw_words=10, sync_words=5, window=5, negative=0, sample=0).per_round
    assert set(hs) == {"vectors"}  # hierarchical softmax's syn1 rows are tree nodes: no floor, adaptive


def test_word_pacing_follows_the_stale_share_whatever_the_node_speed():
    """The default words per exchange are a share of the epoch over K-1, never finer than AUTO_MIN_SYNC_WORDS;
    chunks per epoch follow words / K / sync_words, and round r's learning rates continue one schedule."""
    assert sync.default_sync_words(20_000_000, 5) == round(sync.DEFAULT_STALE_SHARE * 20_000_000 / 4)
    assert sync.default_sync_words(100_000, 8) == sync.AUTO_MIN_SYNC_WORDS
    assert sync.chunks_per_epoch(20_000_000, 4, 50_000) == 100
    rounds = 40
    edges = [sync.chunk_alphas(0.025, 0.0001, rounds, r) for r in range(rounds)]
    assert edges[0][0] == 0.025 and abs(edges[-1][1] - 0.0001) < 1e-12
    assert all(a[1] == b[0] for a, b in zip(edges, edges[1:]))  # each round starts where the last ended


def test_the_default_seven_tiers_follow_the_readmes_schedule_and_one_tier_sends_every_row():
    """README `--sync-tiers`: with the default 7 the most frequent 1/64 of the words sync at every
    exchange, rarer ones every 2nd, 4th, ... exchange, every word at the first and last; `1` sends
    every row every time."""
    from w2v.cli import build_parser, config_from_args

    assert config_from_args(build_parser().parse_args(["train", "c.txt", "--out", "o"])).sync_tiers == sync.TIERS == 7
    vocab = 64 * 100
    synced = [0] * 7  # times the first row of each tier synced in 64 exchanges after the first
    firsts = [0] + [vocab // 2 ** (7 - t) for t in range(1, 7)]  # tier t starts at row V/2**(7-t): 0, V/64, V/32, ...
    for n in range(1, 65):
        [(start, stop)] = sync.tier_ranges(vocab, n)
        assert start == 0 and stop == vocab // 2 ** (6 - min((n & -n).bit_length() - 1, 6))  # a prefix, by n's 2-power
        synced = [count + (row < stop) for count, row in zip(synced, firsts)]
    assert synced == [64, 32, 16, 8, 4, 2, 1]  # every exchange, every 2nd, 4th, ..., 64th
    assert sync.tier_ranges(vocab, 0) == sync.tier_ranges(vocab, 41, final=True) == [(0, vocab)]
    assert all(sync.tier_ranges(vocab, n, tiers=1) == [(0, vocab)] for n in range(0, 70))


def test_the_driver_warns_above_one_percent_of_an_epoch_stale_whatever_the_corpus_size():
    from w2v.sync import WARN_STALE_SHARE, default_sync_words, staleness_warning

    for epoch_words in (5_000_000, 24_000_000, 1_000_000_000):
        for k in (2, 4, 8, 16):
            assert staleness_warning(epoch_words, k, default_sync_words(epoch_words, k)) is None  # the default
            at_limit = int(WARN_STALE_SHARE * epoch_words / (k - 1))
            assert staleness_warning(epoch_words, k, at_limit) is None
            assert "of an epoch stale" in staleness_warning(epoch_words, k, 2 * at_limit)
    assert staleness_warning(1_000_000, 1, 10**9) is None  # one actor: nothing is stale
