"""The driver's round record (`w2v/rounds.py`), without Ray: when an exchange moves every row, which rounds the
global weights hold, what a restart costs, and the one position a checkpoint writes and --resume reads."""

import json

import numpy as np

from w2v import checkpoint, sync
from w2v.rounds import Position, Rounds


def test_an_exchange_moves_every_row_at_the_end_and_before_a_stop_a_notice_or_a_checkpoint():
    rounds = Rounds(actors=2, chunks=3, epochs=2, start_round=0, counts=[5, 3, 1])
    assert rounds.total == 6 and not rounds.final
    assert not rounds.full_exchange(stop_asked=False, notices=False, checkpoint_due=False)
    assert all(rounds.full_exchange(**{why: True, **{other: False for other in ("stop_asked", "notices",
                                                                                  "checkpoint_due") if other != why}})
               for why in ("stop_asked", "notices", "checkpoint_due"))
    rounds.next_round = [5, 4]  # one actor behind: not the last exchange yet
    assert not rounds.final
    rounds.next_round = [5, 5]
    assert rounds.final and rounds.full_exchange(stop_asked=False, notices=False, checkpoint_due=False)


def test_only_an_exchange_of_every_row_is_a_position_a_checkpoint_can_record():
    rounds = Rounds(actors=2, chunks=4, epochs=1, start_round=0, counts=[4, 3, 2, 1])
    assert not rounds.exchanged([slice(0, 2)], rows=4, full=False)  # the hot rows only
    assert rounds.next_round == [1, 1] and rounds.snapshot_rounds == [0, 0]
    assert list(rounds.row_sync.synced) == [1, 1, 0, 0]
    assert rounds.exchanged([slice(0, 2), slice(2, 4)], rows=4, full=False)  # a tier cycle's: every row
    assert rounds.snapshot_rounds == [2, 2] and list(rounds.row_sync.synced) == [2, 2, 2, 2]
    assert rounds.exchanged([slice(0, 1)], rows=4, full=True)  # a full exchange (the last, a checkpoint's)
    assert rounds.snapshot_rounds == [3, 3]


def test_a_restart_counts_the_chunks_trained_again_and_the_rows_no_exchange_had_taken():
    """Actor 1 had trained 5 rounds (one more in flight) when it died; the next exchange takes round 3. Rows 2-3
    (a fifth of the words) were last exchanged at round 1: two chunks of their changes are lost."""
    rounds = Rounds(actors=2, chunks=4, epochs=2, start_round=0, counts=[4, 4, 1, 1])
    rounds.exchanged([slice(0, 4)], rows=4, full=True)  # round 0: every row
    for _ in range(2):
        rounds.exchanged([slice(0, 2)], rows=4, full=False)  # rounds 1-2: the hot rows
    assert rounds.default_restart(1, exchange=True) == 3 and rounds.default_restart(1, exchange=False) == 1
    cost = rounds.restarted(1, 3, last_rounds_done=5, last_done=False, words=400, exchange=True)
    assert (cost.seen, cost.words_retrained) == (5, 300)  # rounds 3, 4 and 5 (in flight), 100 words each
    assert cost.words_lost == round(0.2 * 2 * 100)
    assert rounds.next_round == [3, 3] and rounds.process_round == [0, 3]
    # Its successor dies at once: nothing of its own was in rows before round 3, so nothing more is lost.
    again = rounds.restarted(1, 3, last_rounds_done=None, last_done=False, words=400, exchange=True)
    assert (again.seen, again.words_retrained, again.words_lost) == (3, 100, 0)
    alone = Rounds(actors=1, chunks=4, epochs=1, start_round=0, counts=[1])
    assert alone.restarted(0, 0, last_rounds_done=2, last_done=False, words=40, exchange=False).words_lost == 0


def test_the_collective_replays_the_tier_schedule_from_each_generations_first_round():
    """The driver sees none of the collective's rounds: after a fault it replays them from the schedule; a
    generation's first round and the full rounds the members report move every row."""
    rows, row_bytes, tiers = 64, 16, 3
    rounds = Rounds(actors=3, chunks=8, epochs=1, start_round=0, counts=list(range(rows, 0, -1)))
    rounds.replay(5, full_rounds=[], rows=rows, row_bytes=row_bytes, tiers=tiers)
    expected = Rounds(actors=3, chunks=8, epochs=1, start_round=0, counts=list(range(rows, 0, -1)))
    for r in range(5):
        expected.row_sync.exchanged(sync.exchange_slices(rows, row_bytes, r, final=r == 0, tiers=tiers), r + 1)
    assert list(rounds.row_sync.synced) == list(expected.row_sync.synced)
    assert rounds.replayed == 5 and rounds.snapshot_rounds == [5, 5, 5]  # round 4 closed a tier cycle (2**2 rounds)
    assert rounds.resume_round(4) == 5
    rounds.generation_first = 5  # a new generation from round 5: it has committed nothing yet
    assert rounds.resume_round(3) == 5
    rounds.replay(7, full_rounds=[6], rows=rows, row_bytes=row_bytes, tiers=tiers)
    assert rounds.snapshot_rounds == [7, 7, 7] and set(rounds.row_sync.synced) == {7}
    rounds.snapshot_after(6)
    assert rounds.snapshot_rounds == [7, 7, 7] and rounds.resume_round(None) == 7  # every member lost: the snapshot


def test_the_position_a_checkpoint_writes_reads_back_and_old_checkpoints_still_resume(tmp_path):
    rounds = Rounds(actors=2, chunks=4, epochs=3, start_round=0, counts=[2, 1])
    rounds.snapshot_rounds = [6, 6]
    position = rounds.position([400, 200], [(7, False), None], alpha=0.025, min_alpha=0.0001)
    assert position.to_json() == {  # the checkpoint JSON's "position", key for key as the driver always wrote it
        "epoch": 1, "epochs": 3, "round": 6, "chunks": 4, "actor_rounds": [6, 6], "actor_epochs": [1, 1],
        "actor_words_per_epoch": [400, 200], "words_done": 900, "words_trained_past": 200 + 50,
        "alpha": sync.chunk_alphas(0.025, 0.0001, 12, 6)[0]}
    assert list(position.to_json()) == ["epoch", "epochs", "round", "chunks", "actor_rounds", "actor_epochs",
                                        "actor_words_per_epoch", "words_done", "words_trained_past", "alpha"]
    location = str(tmp_path / "ckpt")
    saver = checkpoint.Checkpointer(location, interval=0.0, fingerprint={"parameters": {}})
    saver.save({"vectors": np.zeros((2, 3), np.float32)}, position)
    found = checkpoint.latest(location)
    assert found.position == position and found.round(4) == 6 and found.round(8) == 8
    assert json.loads((tmp_path / "ckpt" / "ckpt-000001.json").read_text())["position"] == position.to_json()
    # A checkpoint from before rounds were recorded: its epoch's start, and None for what it did not count.
    old = Position.from_json({"epoch": 2, "actor_epochs": [2, 2], "words_done": 20, "later": "ignored"})
    assert old.round_at(4) == 8 and old.words_trained_past is None and old.actor_epochs == (2, 2)
