"""What a lost trainer actor costs (w2v/recovery.py): pure, no Ray.

The Ray side (an actor killed, a node drained, SIGTERM to an actor) is in test_faults.py.
"""

import numpy as np
import pytest

from w2v import recovery, sync
from w2v.recovery import row_shares, weights_digest, words_lost, words_retrained


def test_retrained_words_count_the_chunks_since_the_restart_and_the_one_in_flight():
    """Exact to a chunk: a restart at round 30 of an actor last seen at round 32, 10 chunks per epoch."""
    assert words_retrained(rounds_done=32, finished=False, restart_round=30, words_per_epoch=1000, chunks=10) == 300
    assert words_retrained(rounds_done=30, finished=False, restart_round=30, words_per_epoch=1000, chunks=10) == 100
    assert words_retrained(rounds_done=50, finished=True, restart_round=50, words_per_epoch=1000, chunks=10) == 0


def test_nothing_is_lost_right_after_an_exchange_of_every_row():
    shares = row_shares([50, 30, 20])
    assert words_lost(shares, np.array([7, 7, 7]), 7, 1000.0) == 0


def test_a_row_behind_loses_its_share_of_each_chunk_since_its_last_exchange():
    shares = row_shares([60, 30, 10])  # 0.6, 0.3, 0.1
    # row 1 last exchanged 2 rounds ago, row 2 5 rounds ago: 0.3 * 2 + 0.1 * 5 = 1.1 chunks
    assert words_lost(shares, np.array([9, 7, 4]), 9, 1000.0) == 1100


@pytest.mark.parametrize("vocab_size", [10_000, 200_000])
def test_under_the_tier_schedule_a_death_loses_a_few_chunks_not_a_tier_cycle(vocab_size):
    """Zipfian counts (the law of real text) and the default 7 tiers: the coldest rows wait 64 exchanges,
    but they hold few of the words. Replaying the driver's bookkeeping over three tier cycles, a death at
    any round loses on average under 5 chunks' worth of training and never more than 10 (a restart at the
    last exchange of every row went back up to 64 chunks)."""
    counts = np.maximum((1e7 / np.arange(1, vocab_size + 1)).astype(np.int64), 5)
    rows = recovery.RowSync(counts)  # the driver's bookkeeping, fed as its exchange step feeds it
    lost = []
    for exchange in range(3 * 2 ** (sync.TIERS - 1)):
        rows.exchanged(sync.exchange_slices(vocab_size, row_bytes=800, exchange=exchange), exchange + 1)
        lost.append(rows.words_lost(exchange + 1, words_per_chunk=1000.0) / 1000)
    assert 0 < np.mean(lost) < 5 and max(lost) < 10, (np.mean(lost), max(lost))
    assert min(lost) < 1  # right after the exchange of every row, next to nothing


def test_a_process_that_started_after_a_rows_last_exchange_loses_only_what_it_trained_since():
    """The same actor dying twice within a tier cycle: its second process began from the global weights, so
    a row it never saw exchanged costs only the chunks since that process started."""
    rows = recovery.RowSync([5, 5], start_round=0)
    rows.exchanged([slice(0, 1)], 10)  # the hot row every round; the cold one not since round 0
    assert rows.words_lost(10, 100.0) == 500  # 10 chunks of the cold row's half
    assert rows.words_lost(10, 100.0, process_start=8) == 100  # 2 chunks since the restart at round 8


def test_equal_weights_have_equal_digests_and_one_changed_value_changes_it():
    rng = np.random.default_rng(0)
    weights = {"vectors": rng.random((50, 8), dtype=np.float32), "syn1neg": np.zeros((50, 8), np.float32)}
    copy = sync.copy_weights(weights)
    assert weights_digest(copy) == weights_digest(weights)
    copy["syn1neg"][49, 7] = np.float32(1e-30)
    assert weights_digest(copy) != weights_digest(weights)
    assert weights_digest({"vectors": weights["vectors"]}) != weights_digest(weights)  # a matrix missing


def test_a_big_matrix_is_digested_by_evenly_spaced_rows():
    """Above DIGEST_ROWS rows every k-th row is read (an actor digests its weights at every start): a changed
    row among them changes the digest, one between them does not."""
    from w2v.recovery import DIGEST_ROWS

    big = {"vectors": np.zeros((2 * DIGEST_ROWS + 1, 2), np.float32)}  # every 3rd row: 0, 3, 6, ...
    before = weights_digest(big)
    big["vectors"][1] = 1.0
    assert weights_digest(big) == before
    big["vectors"][3] = 1.0
    assert weights_digest(big) != before


def test_a_fault_event_is_a_plain_record_the_manifest_can_hold():
    import dataclasses
    import json

    event = recovery.FaultEvent(
        actor=1, kind="replaced", cause="node gone", old_node="a" * 56, node="b" * 56, restart_round=12,
        restart_epoch=1, rounds_done_before=13, epochs_done_before=1, chunks_per_epoch=10, words_retrained=200,
        words_lost=150, noticed=False, spool_reused=True, start_alpha=0.02, sent_digest="x", start_digest="x", seconds=1.5)
    assert json.loads(json.dumps(dataclasses.asdict(event)))["words_lost"] == 150
