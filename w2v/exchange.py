"""What passes between the driver and its trainer actors: typed records, and one exchange round.

The driver (`driver`) runs the loop and the recovery; each `trainer.TrainerActor` trains and holds
its delta; this module is the protocol between them:

- the records an actor returns (`ActorInfo` from `info`, `Spooled` from `spool`, `ActorStatus`
  from `status`), read by name on the driver side;
- `exchange_round`: one reduce-scatter of every actor's delta over a list of row slices
  (`take` -> `reduce` on the piece's owner -> `apply`), all or nothing per slice, with the bytes it
  moved (`Moved`). The combining arithmetic itself is `sync`'s.

It holds no state: a round's inputs are the actor handles, the slices, each actor's round and
the driver's global weights, which it updates in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from . import sync
from .collective import RoundState


@dataclass(frozen=True)
class ActorInfo:
    """Where an actor runs (`TrainerActor.info`)."""

    node_id: str  # Ray node id
    hostname: str  # the node's host name, for logs
    pid: int  # the actor's process: a new one means Ray restarted it
    gensim_fast_version: int  # < 0: gensim's compiled routines are missing (~100x slower)
    workers: int  # gensim threads
    restarted: bool  # Ray re-ran the constructor after the process died


@dataclass(frozen=True)
class Spooled:
    """What an actor's `spool` spooled to its local chunk files."""

    shards: int  # shards read
    words: int  # words per epoch, after the vocabulary's filtering
    sentences: int  # sentences per epoch
    bytes: int  # bytes of chunk files written
    bad_lines: int  # undecodable lines skipped (--on-bad-line skip)
    chunks: int  # chunks per epoch (rounds of the exchange)
    seconds: float  # wall time spooling
    reused: bool = False  # a dead predecessor's finished spool on this node was taken over, nothing read
    pid: int = 0  # the process that spooled: another than `info`'s means Ray restarted the actor in between


@dataclass(frozen=True)
class ActorStatus:
    """An actor's progress (`TrainerActor.status`): polled by the driver for progress and faults."""

    pid: int = 0  # the actor's process
    rounds_done: int = 0  # rounds (chunks) trained, from round 0 of the job
    epochs_done: int = 0  # whole epochs among them
    rounds: int = 0  # epochs x chunks per epoch
    start_round: int = 0  # where this process started (restart, resume)
    start_epoch: int = 0  # epochs trained before this process
    words_trained: int = 0  # words this process trained
    done: bool = False  # its chunk loop returned
    error: str | None = None  # a training failure, which fails the job
    seconds: float = 0.0  # since training started in this process
    sync_seconds: float = 0.0  # in the exchange's arithmetic plus waiting for it
    wait_seconds: float = 0.0  # the chunk loop waiting for an exchange to land
    epoch_ends: list[float | None] = field(default_factory=list)  # wall clock; None: trained by an earlier process
    epoch_loss: list[float | None] = field(default_factory=list)  # gensim's loss of each epoch (not its running total)
    epoch_sync: list[float | None] = field(default_factory=list)  # sync_seconds (so far) at each epoch end
    peak_rss: int = 0  # bytes
    peak_private_rss: int = 0  # bytes, RssAnon
    notice: str | None = None  # why the process expects to go ("SIGTERM"): the driver exchanges every row, then stops it
    start_digest: str = ""  # recovery.weights_digest of the weights this process started from
    start_alpha: float = 0.0  # the learning rate of the first chunk this process trained
    train_cpu_seconds: float = 0.0  # CPU time of its gensim threads since training started
    exchange_cpu_seconds: float = 0.0  # CPU time of the rest of the process (the exchange, Ray's threads) since then
    raylet_cpu_seconds: float | None = None  # CPU time of its node's raylet since then (None: not under a raylet)
    loop_cpu_seconds: float = 0.0  # CPU time of its chunk loop's own thread (part of exchange_cpu_seconds)
    exchanges: int = 0  # exchanges this process took part in
    exchanged_bytes: int = 0  # bytes of the slices it took in them
    peer: RoundState | None = None  # the collective transport's rounds on this actor (None: the object store's)


@dataclass
class Moved:
    """Bytes an exchange moved (`sync.round_bytes`), added up over rounds."""

    total: int = 0  # over every link
    busiest_link: int = 0  # over the busiest link (what sets an exchange's time)
    slice: int = 0  # of the summed deltas (the global weights' share)

    def add(self, other: "Moved") -> None:
        """Count `other`'s bytes in as well.

        >>> moved = Moved(10, 4, 2); moved.add(Moved(5, 3, 1)); moved
        Moved(total=15, busiest_link=7, slice=3)
        """
        self.total += other.total
        self.busiest_link += other.busiest_link
        self.slice += other.slice


def ring_bytes(actors: int, slice_bytes: int, value_bytes: int = 4) -> "Moved":
    """Bytes a ring allreduce of `slice_bytes` of float32 (a member's share of every round, added up) moves:
    each member sends and receives 2(K-1)/K of it (reduce-scatter, then all-gather), in `value_bytes` per
    value on the wire (2: bfloat16); the driver moves nothing.

    >>> ring_bytes(4, 400), ring_bytes(4, 400, value_bytes=2)
    (Moved(total=2400, busiest_link=600, slice=400), Moved(total=1200, busiest_link=300, slice=400))
    """
    per_member = 2 * (actors - 1) * slice_bytes * value_bytes // (4 * max(actors, 1))
    return Moved(total=per_member * actors, busiest_link=per_member, slice=slice_bytes)


class ActorNotStarted(RuntimeError):
    """A call that needs a spooled (or started) actor reached a process that has not been: Ray restarted it
    since (its constructor ran again). The driver takes it as the actor's death, like Ray's own errors."""


def actor_gone() -> tuple[type[Exception], ...]:
    """What ray.get raises for a call to an actor that died, is restarting, or cannot be placed again."""
    import ray

    return ray.exceptions.RayActorError, ray.exceptions.ActorUnschedulableError


def get_or(ref, default):
    """`ray.get(ref)`, or `default` when the actor behind it died or its task failed."""
    import ray

    try:
        return ray.get(ref)
    except actor_gone():
        return default
    except ray.exceptions.RayTaskError as exc:  # a task whose input came from an actor that died
        if isinstance(getattr(exc, "cause", None), actor_gone()):
            return default
        raise


def gather(refs: Sequence[Any]) -> list[Any]:
    """Every result in one `ray.get` (one wait, not one round trip each); None for those whose actor died.

    Measured on namespaced hosts (`jobs/links.py`): fetching the K summed pieces one by one cost
    about 3 round trips per actor per message.
    """
    import ray

    try:
        return ray.get(list(refs))
    except (*actor_gone(), ray.exceptions.RayTaskError):
        return [get_or(ref, None) for ref in refs]  # which ones: each on its own


@dataclass(frozen=True)
class Handed:
    """One member's `take` of a slice as the driver holds it: object refs, so that each piece goes from the
    actor that cut it straight to the member that sums it, never through the driver. (`take` runs with
    num_returns = members + 1: Ray gives one ref per item of a returned list, not per field of a record.)"""

    took_part: Any  # ref of a bool: False when Ray restarted the actor and the driver has not started it again
    pieces: list[Any]  # ref of piece j of its delta, for member j to reduce

    @classmethod
    def of(cls, refs: Sequence[Any]) -> "Handed":
        """From `take`'s refs: whether it took part, then the pieces.

        >>> Handed.of(["ok", "p0", "p1"])
        Handed(took_part='ok', pieces=['p0', 'p1'])
        """
        return cls(took_part=refs[0], pieces=list(refs[1:]))


def exchange_round(actors: Sequence[Any], slices: Sequence[slice], rounds: Sequence[int],
                   global_weights: sync.Weights, exchange: int = 0, full: bool = False) -> tuple[Moved, set[int]]:
    """One reduce-scatter exchange over `slices` (see `sync`): deltas go actor to actor, the driver
    only passes references and fetches the summed pieces once, into `global_weights`.

    Actor k hands over its change once it has trained chunk `rounds[k]` (its first `take` waits).
    Returns the bytes moved and the actors lost (empty: every actor took part in all of it). A
    slice is all or nothing: when an actor cannot hand over its delta or an owner dies before its
    sum exists, the others keep their delta for the next exchange (`untake`) and nothing reaches
    the global weights. An actor that dies after the sums exist is left out of the rest (what it
    handed over counts); the driver brings it back. `exchange` (the tier schedule's number) and `full`
    tell each owner which rounds its rows' deltas span (the `saturation` combiner's floors).
    """
    moved = Moved()
    lost: set[int] = set()
    for rows in slices:
        members = [k for k in range(len(actors)) if k not in lost]
        if not members:
            break
        n = len(members)
        handed = [Handed.of(actors[k].take.options(num_returns=n + 1).remote(rows.start, rows.stop, n, rounds[k]))
                  for k in members]
        failed = {k for k, took in zip(members, handed) if not get_or(took.took_part, False)}
        owned = sync.split_rows(rows, n)  # owner j reduces piece j (as `take` cut them)
        sums = [] if failed else [actors[owner].reduce.remote(*[took.pieces[j] for took in handed], rows=owned[j],
                                                              exchange=exchange, full=full)
                                  for j, owner in enumerate(members)]
        applied = [actors[k].apply.remote(rows.start, rows.stop, *sums) for k in members] if sums else []
        pieces = gather(sums)
        failed |= {owner for owner, piece in zip(members, pieces) if piece is None}
        if failed:  # nothing of this slice reached anyone: the others keep their deltas
            lost |= failed
            for k in members:
                if k not in failed and not get_or(actors[k].untake.remote(rows.start), False):
                    lost.add(k)
            continue
        offset, slice_bytes = rows.start, 0
        for piece in pieces:
            size = len(piece["vectors"])
            for name, array in piece.items():
                global_weights[name][offset : offset + size] += array
            offset, slice_bytes = offset + size, slice_bytes + sync.nbytes(piece)
        lost |= {k for k, ref in zip(members, applied) if not get_or(ref, False)}
        counted = sync.round_bytes(n, slice_bytes)
        moved.add(Moved(counted.total, counted.busiest_link, counted.slice))
    return moved, lost


@dataclass
class ExchangeTally:
    """The driver's count of exchanges: how many, its wall time in them, the bytes they moved."""

    exchanges: int = 0  # rounds exchanged (tried: a round lost to a fault counts too)
    seconds: float = 0.0  # driver wall time inside `exchange_round` (the object store's; the collective's: 0)
    moved: Moved = field(default_factory=Moved)  # bytes, over all rounds
    driver_cpu_seconds: float = 0.0  # the driver process's CPU time while the actors trained and exchanged

    def add(self, moved: Moved, seconds: float) -> None:
        self.exchanges += 1
        self.seconds += seconds
        self.moved.add(moved)
