"""What a lost trainer actor costs, in words, and the record of each fault: pure, tested without Ray.

The driver (`driver`) brings a dead actor back at the round the next exchange takes, from the
global weights (every combined delta so far). Two kinds of work go with the dead process:

- **retrained**: the chunks it had trained past that round (at most `TrainerActor.LAG` of them,
  plus the one in flight) are trained again by its successor: `words_retrained`, exact to a chunk;
- **lost**: its changes of rows whose frequency tier had not been exchanged since (the frequency
  tiers of `sync` send a rare row every 64th exchange) are gone with its memory. They are not
  trained again; `words_lost` says how many words of training they stood for, estimated as each
  row's share of the corpus's words times the rounds since that row's last exchange. On Zipfian
  text the rows left out of an exchange hold few of the words, so this is a few chunks' worth
  even when the coldest tier waited 64 rounds.

Before a known departure (a preemption notice: the node drains, or the actor gets SIGTERM) the
driver makes the next exchange move every row; nothing is lost then.

This module does not talk to Ray: `driver` measures, this module counts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class FaultEvent:
    """One restart or replacement of a trainer actor, as the manifest records it (`training.faults.events`),
    at any stage from its placement on."""

    actor: int  # the actor's index
    kind: str  # "restarted" (Ray ran a new process on its node) or "replaced" (a new actor on another node)
    cause: str  # the first line of what ended it ("SIGTERM", "node ... is draining", a Ray error)
    old_node: str  # Ray node id it ran on
    node: str  # Ray node id it runs on now
    restart_round: int  # the round (chunk of all epochs) its successor starts at
    restart_epoch: int  # restart_round // chunks_per_epoch
    rounds_done_before: int  # rounds the dead process was known to have trained
    epochs_done_before: int  # whole epochs among them
    chunks_per_epoch: int  # rounds per epoch
    words_retrained: int  # words trained twice: the chunks past restart_round, the one in flight included
    words_lost: int  # estimated words of training in its un-exchanged rows, gone with it (see module doc)
    noticed: bool  # a preemption notice came first and a full exchange preceded the restart
    spool_reused: bool  # its successor took over the dead process's spool on that node instead of reading again
    start_alpha: float  # the learning rate its successor starts at (the global schedule's at restart_round)
    sent_digest: str  # `weights_digest` of the weights the driver sent it
    start_digest: str  # `weights_digest` of the weights it loaded, as it reported them
    seconds: float  # wall time from noticing the fault to training again
    # The start-up stage the driver was in when the actor died ("placing", "spooling", "starting"), or
    # "training" (its rounds, the exchanges included). Before training nothing is retrained or lost.
    stage: str = "training"


def words_retrained(rounds_done: int, finished: bool, restart_round: int, words_per_epoch: int,
                    chunks: int) -> int:
    """Words trained again after a restart: the chunks done since `restart_round`, plus the one in flight.

    `rounds_done` is what the driver saw last; the chunk in flight counts whole (an upper bound,
    exact to a chunk).

    >>> words_retrained(3, False, 2, 100, 10), words_retrained(5, True, 5, 100, 10)
    (20, 0)
    """
    begun = rounds_done if finished else rounds_done + 1
    return round(max(begun - restart_round, 0) * words_per_epoch / chunks)


def row_shares(counts: Sequence[int]) -> np.ndarray:
    """Each row's share of the corpus's words (its count over all counts), float64, summing to 1.

    >>> row_shares([3, 1]).tolist()
    [0.75, 0.25]
    """
    counts = np.asarray(counts, dtype=np.float64)
    return counts / max(counts.sum(), 1.0)


def words_lost(shares: np.ndarray, synced_round: np.ndarray, restart_round: int, words_per_chunk: float) -> int:
    """Estimated words of training in a dead actor's changes that no exchange had taken yet.

    `synced_round[i]` is the round up to which row i's changes are in the global weights (the
    round after the last exchange that moved it); the actor trained `restart_round -
    synced_round[i]` chunks since, and a row takes part in about `shares[i]` of a chunk's words.

    >>> words_lost(np.array([0.5, 0.25, 0.25]), np.array([10, 10, 6]), 10, 1000.0)
    1000
    """
    behind = np.maximum(restart_round - synced_round, 0)
    return round(float(np.dot(shares, behind)) * words_per_chunk)


class RowSync:
    """The driver's record of how far each row's changes are in the global weights, and so what a death loses.

    Row i holds every actor's changes up to round `synced[i]` (the exchanges that moved it); a process
    that started at round s holds none of its own changes from before s.

    >>> rows = RowSync([6, 3, 1], start_round=0)
    >>> rows.exchanged([slice(0, 3)], 4); rows.exchanged([slice(0, 1)], 6)
    >>> rows.words_lost(6, words_per_chunk=100.0), rows.words_lost(6, 100.0, process_start=5)
    (80, 40)
    """

    def __init__(self, counts: Sequence[int], start_round: int = 0):
        self.shares = row_shares(counts)  # each row's share of the corpus's words
        self.synced = np.full(len(counts), start_round, dtype=np.int64)  # per row: rounds in the global weights

    def exchanged(self, slices: Sequence[slice], round_: int) -> None:
        """These rows now hold every actor's changes up to `round_` (an exchange of them completed)."""
        for rows in slices:
            self.synced[rows] = round_

    def words_lost(self, restart_round: int, words_per_chunk: float, process_start: int = 0) -> int:
        """`words_lost` of a process that started at round `process_start` and dies before `restart_round`."""
        return words_lost(self.shares, np.maximum(self.synced, process_start), restart_round, words_per_chunk)


DIGEST_ROWS = 65_536  # rows a digest reads per matrix at most: every row below that, evenly spaced ones above


def weights_digest(weights: dict[str, np.ndarray]) -> str:
    """A short digest of every matrix (name order, shape, and its rows: all of them up to DIGEST_ROWS,
    else every k-th from row 0, DIGEST_ROWS of them).

    Used to check that a restarted actor starts from exactly the weights the driver sent it. Every
    actor computes one at each start, so it must not read a 10M x 300 model whole (24 GB, ~45 s at
    the ~540 MB/s blake2b does here); a wrong load (another round's weights, another matrix) changes
    every row, so spaced rows see it as well as all rows would.

    >>> a = {"vectors": np.zeros((2, 3), np.float32)}
    >>> weights_digest(a) == weights_digest({"vectors": np.zeros((2, 3), np.float32)}), len(weights_digest(a))
    (True, 32)
    """
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(weights):
        array = weights[name]
        step = -(-len(array) // DIGEST_ROWS)  # ceil: at most DIGEST_ROWS rows
        digest.update(f"{name}:{array.dtype}:{array.shape}:{step};".encode())
        digest.update(memoryview(np.ascontiguousarray(array[::step])).cast("B"))
    return digest.hexdigest()
