"""The driver's record of the job's rounds: where each actor stands, which rounds the global weights hold.

Pure, no Ray: `driver` asks it what the next exchange is (`full_exchange`), tells it what happened
(`exchanged`, `snapshot_after`, `replay`, `restarted`), and reads the one frozen `Position` that a
checkpoint writes and `--resume` (and the manifest's `resumed_from`) reads back.

A round is one chunk of every actor's shards (`sync.chunks_per_epoch` chunks per epoch, the same for
every actor), numbered from round 0 of the job across epochs. Three rounds per actor matter:

- `next_round[k]`: the round the next exchange takes from actor k (the object store's loop);
- `snapshot_rounds[k]`: the rounds in the last consistent global weights, those of an exchange
  that moved every row (what a checkpoint records; one actor alone: its last live snapshot);
- `process_round[k]`: the round actor k's process started at (a restart holds nothing from before).

Per row, `recovery.RowSync` keeps how far the global weights hold its changes (what a death loses).
This module does not place, call or recover actors (`fleet`, `driver`) and writes nothing (`checkpoint`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping, Sequence

from . import sync
from .recovery import RowSync, words_retrained


@dataclass(frozen=True)
class Position:
    """The training position a checkpoint records with the global weights it goes with (its JSON's "position").

    Older checkpoints lack some keys: those read as None (or empty), and `round_at` falls back on the epoch.

    >>> p = Position(epoch=1, epochs=3, round=5, chunks=4, actor_rounds=(5, 5), actor_epochs=(1, 1),
    ...              actor_words_per_epoch=(40, 60), words_done=125, words_trained_past=10, alpha=0.02)
    >>> Position.from_json(p.to_json()) == p, p.round_at(4), p.round_at(8)
    (True, 5, 8)
    >>> Position.from_json({"epoch": 2, "actor_epochs": [2, 2], "words_done": 20}).round_at(4)
    8
    """

    epoch: int  # whole epochs every actor had done at `round`
    epochs: int | None = None  # the job's --epochs
    round: int | None = None  # the round (chunk of all epochs) training resumes at
    chunks: int | None = None  # chunks per epoch the job was cut into
    actor_rounds: tuple[int, ...] = ()  # per actor: the rounds in the weights
    actor_epochs: tuple[int, ...] = ()  # per actor: the epochs among them
    actor_words_per_epoch: tuple[int, ...] = ()  # per actor: words of its shards per epoch
    words_done: int = 0  # words the weights hold (every actor's rounds times its words per chunk)
    # Words the actors had trained past this position when it was written (the last status, the chunk in flight
    # whole): a job resumed from it trains those again. None: a checkpoint from before it was counted.
    words_trained_past: int | None = None
    alpha: float | None = None  # the learning rate of the round it resumes at

    def round_at(self, chunks: int) -> int:
        """The round training resumes at, with `chunks` chunks per epoch: this position's own when it was cut
        into as many chunks, else the start of its epoch."""
        if self.chunks == chunks and self.round is not None:
            return self.round
        return self.epoch * chunks

    def to_json(self) -> dict[str, Any]:
        """The checkpoint JSON's "position", key for key as it always was."""
        return {"epoch": self.epoch, "epochs": self.epochs, "round": self.round, "chunks": self.chunks,
                "actor_rounds": list(self.actor_rounds), "actor_epochs": list(self.actor_epochs),
                "actor_words_per_epoch": list(self.actor_words_per_epoch), "words_done": self.words_done,
                "words_trained_past": self.words_trained_past, "alpha": self.alpha}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Position":
        """A position as any checkpoint wrote it (keys it lacks: their defaults; keys this one does not know:
        ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
        return cls(**{**values, "epoch": int(data["epoch"])})


@dataclass(frozen=True)
class Restart:
    """What one actor's restart at `restart_round` costs (`Rounds.restarted`), in rounds and words."""

    seen: int  # rounds it is known to have trained before it went
    words_retrained: int  # words its successor trains again (`recovery.words_retrained`)
    words_lost: int  # words of its changes no exchange had taken yet (`recovery.RowSync.words_lost`)


class Rounds:
    """Where every actor is in the job's rounds, as the driver knows it (see the module's docstring).

    >>> r = Rounds(actors=2, chunks=4, epochs=2, start_round=0, counts=[3, 1])
    >>> r.total, r.full_exchange(stop_asked=False, notices=False, checkpoint_due=False)
    (8, False)
    >>> r.exchanged([slice(0, 2)], rows=2, full=False), r.next_round, r.snapshot_rounds
    (True, [1, 1], [1, 1])
    """

    def __init__(self, actors: int, chunks: int, epochs: int, start_round: int, counts: Sequence[int]):
        self.chunks = chunks  # chunks (rounds) per epoch, the same for every actor
        self.epochs = epochs  # the job's --epochs
        self.total = epochs * chunks  # rounds of the whole job: the last one is total - 1
        self.start_round = start_round  # where every actor starts (a --resume's checkpoint round, else 0)
        self.start_epoch = start_round // chunks
        self.next_round = [start_round] * actors  # per actor: the round the next exchange takes
        self.snapshot_rounds = [start_round] * actors  # per actor: rounds in the global weights (last full)
        self.process_round = [start_round] * actors  # per actor: the round its process started at
        self.row_sync = RowSync(counts, start_round)  # per row: rounds in the global weights
        self.generation_first = start_round  # the collective's running generation starts at this round
        self.replayed = start_round  # the collective: `row_sync` holds the rounds before this one

    # ------------------------------------------------------------------ the object store's rounds
    @property
    def final(self) -> bool:
        """The next exchange takes every actor's last round."""
        return all(r >= self.total - 1 for r in self.next_round)

    def full_exchange(self, stop_asked: bool, notices: bool, checkpoint_due: bool) -> bool:
        """Whether the next exchange moves every row: the last one, and one before a stop (its checkpoint), a
        notice (nothing of the noticed actor is lost) or a due checkpoint (a consistent position)."""
        return self.final or stop_asked or notices or checkpoint_due

    def exchanged(self, slices: Sequence[slice], rows: int, full: bool) -> bool:
        """Every actor's next round was exchanged over `slices` (of `rows` rows): each moves on one round, and
        those rows hold every change up to the new round. True when the global weights are now a consistent
        position (every row moved: a full exchange, or a tier cycle's that moved all rows), which
        `snapshot_rounds` then records."""
        self.next_round = [r + 1 for r in self.next_round]
        self.row_sync.exchanged(slices, min(self.next_round))
        if full or sum(s.stop - s.start for s in slices) >= rows:
            self.snapshot_rounds = list(self.next_round)
            return True
        return False

    # ------------------------------------------------------------------ the collective's rounds
    def snapshot_after(self, round_: int) -> None:
        """The global weights after the full round `round_` (a member's snapshot) are the driver's now."""
        self.snapshot_rounds = [round_ + 1] * len(self.snapshot_rounds)

    def replay(self, until: int, full_rounds: Sequence[int], rows: int, row_bytes: int, tiers: int) -> None:
        """RowSync of the rounds the collective applied since the last replay (the driver saw none of them):
        which rows the global weights hold up to which round, from the tier schedule and the full rounds the
        members report; a round that moved every row is a consistent position."""
        full = set(full_rounds)
        for r in range(max(self.replayed, self.generation_first), until):
            slices = sync.exchange_slices(rows, row_bytes, r - self.generation_first,
                                          final=r in full or r == self.generation_first, tiers=tiers)
            self.row_sync.exchanged(slices, r + 1)
            if sum(s.stop - s.start for s in slices) >= rows:  # every row: a consistent position
                self.snapshot_rounds = [r + 1] * len(self.snapshot_rounds)
        self.replayed = max(self.replayed, until)

    def resume_round(self, committed: int | None) -> int:
        """Where the collective trains again after a fault: the round after the last one the survivors
        `committed` (applied, `collective.settled_round`; a generation that applied nothing yet resumes at its
        first round: every member entered
        it holding the global weights of the round before), or with no survivor (None) the last snapshot."""
        if committed is None:
            return self.snapshot_rounds[0] if self.snapshot_rounds else self.start_round
        return max(committed + 1, self.generation_first)

    # ------------------------------------------------------------------ faults
    def default_restart(self, k: int, exchange: bool) -> int:
        """The round a lost actor k trains again from: with an exchange the round the next one takes (every
        earlier round is in the global weights, but for rows whose tier was not due since: lost); alone its
        last snapshot."""
        return self.next_round[k] if exchange else self.snapshot_rounds[k]

    def restarted(self, k: int, restart_round: int, last_rounds_done: int | None, last_done: bool, words: int,
                  exchange: bool) -> Restart:
        """Actor k's successor starts at `restart_round`; `last_rounds_done`/`last_done` are its last status
        (None: none seen) and `words` its words per epoch. Counts what went with it and moves its rounds.

        >>> r = Rounds(actors=1, chunks=10, epochs=1, start_round=0, counts=[1])
        >>> r.restarted(0, 2, last_rounds_done=3, last_done=False, words=100, exchange=True)
        Restart(seen=3, words_retrained=20, words_lost=20)
        """
        # Rounds it is known to have trained: the last status, or the rounds exchanged since (each exchange
        # waited for its chunk), whichever is later.
        seen = max(restart_round if last_rounds_done is None else last_rounds_done, self.next_round[k], restart_round)
        self.next_round[k] = restart_round
        retrained = words_retrained(seen, last_done, restart_round, words, self.chunks)
        lost = self.row_sync.words_lost(restart_round, words / self.chunks, self.process_round[k]) if exchange else 0
        self.process_round[k] = restart_round
        return Restart(seen, retrained, lost)

    # ------------------------------------------------------------------ the position
    def position(self, words: Sequence[int], last: Sequence[tuple[int, bool] | None], alpha: float,
                 min_alpha: float) -> Position:
        """The position of the global weights at `snapshot_rounds`; `words` per actor per epoch, `last` each
        actor's (rounds done, done) at its last status (None: unknown), the learning rates of the job."""
        round_ = min(self.snapshot_rounds)
        # What the actors had trained past this position when it was written (the last status, the chunk in
        # flight whole): a job resumed from it trains those words again.
        past = sum(words_retrained(max(st[0], r) if st else r, bool(st and st[1]), r, w, self.chunks)
                   for st, r, w in zip(last, self.snapshot_rounds, words))
        return Position(
            epoch=round_ // self.chunks, epochs=self.epochs, round=round_, chunks=self.chunks,
            actor_rounds=tuple(self.snapshot_rounds), actor_epochs=tuple(r // self.chunks for r in self.snapshot_rounds),
            actor_words_per_epoch=tuple(words),
            words_done=round(sum(r * w / self.chunks for r, w in zip(self.snapshot_rounds, words))),
            words_trained_past=past, alpha=sync.chunk_alphas(alpha, min_alpha, self.total, round_)[0])
