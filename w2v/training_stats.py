"""What a training run measured, as typed fields: the manifest's `training` section, read by name.

`driver` ends a run with `measure` (from the actors' last statuses, its exchange tally and its
round record); `manifest.TrainingSection` is a `TrainingStats` plus the per-actor and per-epoch
lists, so every reader (the benchmark, the report, the model card) reads `training.bytes_per_word`,
not a string key. The JSON keys are the field names, in this order (as manifests always wrote them).

Pure: no Ray. The per-epoch numbers (`epoch_stats`) and a node's costs (`node_costs`) are computed
here from `exchange.ActorStatus` records.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Sequence

from . import sync

if TYPE_CHECKING:  # records only; importing them here would pull the exchange's modules into every manifest reader
    from .exchange import ActorStatus, ExchangeTally
    from .recovery import FaultEvent
    from .rounds import Rounds


@dataclass(frozen=True)
class NodeCosts:
    """What a node spent, in CPU seconds (README "Scaling model"), per actor on average (`node_costs`)."""

    train_cpu_seconds: float = 0.0  # gensim's threads
    exchange_cpu_seconds: float = 0.0  # the rest of the process: the exchange, Ray's threads
    raylet_cpu_seconds: float | None = None  # its node's raylet (None: not under a raylet)
    words_per_core_second: int | None = None  # training rate per core
    exchange_cpu_seconds_per_exchange: float | None = None  # the process's and raylet's, per exchange it took part in
    exchange_cpu_seconds_per_mb: float | None = None  # the same, per MB of the slices it took
    round_cpu_seconds_per_exchange: float | None = None  # the collective: the round thread's and gloo's, per exchange
    loop_cpu_seconds_per_round: float | None = None  # the chunk loop's own thread, per chunk
    background_cores: float | None = None  # the collective: the rest (Ray's threads, the raylet, idle), cores busy


@dataclass
class TrainingStats:
    """A run's counters (the manifest's `training` keys but for its lists). Defaults: what a manifest that
    lacks a key reads as."""

    words: int = 0  # words of every epoch (the job's, not this run's)
    seconds: float = 0.0  # the training stage's wall time (rounds, recovery; spooling too)
    words_per_s: int = 0  # words this run trained over the slowest actor's training time
    exchanges: int = 0  # rounds exchanged
    sync_share: float = 0.0  # share of the actors' training time spent exchanging and waiting for it
    spool_seconds: float = 0.0  # wall time spooling
    # What the quality depends on (README "What the quality follows"): words each actor trains between two
    # exchanges (one chunk; two refreshes of the hottest rows), and so the others' words each one has not seen,
    # also as a share of an epoch's words. None: one actor (nothing exchanged), or an old manifest.
    sync_words: int | None = None
    chunks_per_epoch: int | None = None
    words_per_exchange: int | None = None
    stale_words: int | None = None
    stale_share: float | None = None
    transport: str | None = None  # "collective", "object-store", or "none" (one actor); None: an old manifest
    wire: str | None = None  # the collective's numbers on the wire ("bfloat16", "float32"); None: not the collective
    exchange_seconds: float | None = None  # the driver's wall time per exchange (the object store's)
    # The driver's CPU per exchange (its part of the round: the object store's calls and gets; the collective's
    # status polls only), over the training stage.
    driver_cpu_seconds_per_exchange: float | None = None
    wait_seconds: float = 0.0  # actors waiting for an exchange to land, mean
    sync_tiers: int | None = None  # --sync-tiers
    sync_combine: str | None = None  # --sync-combine
    sync_seconds: float = 0.0  # actors' seconds in the exchange and waiting for it, mean
    bytes_exchanged: int = 0  # over every link
    bytes_per_word: float = 0.0
    busiest_link_bytes: int = 0
    slice_bytes_per_exchange: int = 0  # the summed delta
    train_cpu_seconds: float = 0.0  # `NodeCosts`' fields, from here ...
    exchange_cpu_seconds: float = 0.0
    raylet_cpu_seconds: float | None = None
    words_per_core_second: int | None = None
    exchange_cpu_seconds_per_exchange: float | None = None
    exchange_cpu_seconds_per_mb: float | None = None
    round_cpu_seconds_per_exchange: float | None = None
    loop_cpu_seconds_per_round: float | None = None
    background_cores: float | None = None  # ... to here
    start_epoch: int = 0  # where this run started (--resume)
    start_round: int = 0
    words_trained_this_run: int = 0  # retrained words included
    checkpoints: int = 0  # written by this run
    # restarts, replacements, notices, words_retrained, words_lost and each event (`recovery.FaultEvent`);
    # None: an old manifest
    faults: dict[str, Any] | None = None


STATS_FIELDS = tuple(f.name for f in fields(TrainingStats))  # the manifest's counters, in order


def node_costs(statuses: Sequence["ActorStatus"]) -> NodeCosts:
    """What a node spent, in CPU seconds (README "Scaling model"): training rate per core, and the
    exchange's CPU per exchange and per MB of the slices taken (each actor takes, combines and
    applies about one slice per round; its raylet moves the pieces). Each process counts its own
    exchanges and bytes, so a restarted one's shorter life is weighed as such. CPU time means the
    same on simulated nodes sharing cores and on real ones; `sync.node_efficiency` projects a
    cluster from it. The exchange's part is everything of the process but gensim's threads, and
    the raylet's: background threads and heartbeats included (about 1% of a core each, idle).

    With the collective, that total splits into what a round costs (`round_cpu_seconds_per_exchange`:
    the round thread and gloo's, `collective.ThreadClock`), what the chunk loop costs between chunks
    (`loop_cpu_seconds_per_round`) and the rest, which is paid per second, not per round (Ray's
    threads, the raylet, idle: `background_cores`, cores busy on average). On simulated nodes a round
    lasts far longer than on a real one, so the total per exchange counts that background many times
    over; the projection carries each part as what it is."""
    train = sum(s.train_cpu_seconds for s in statuses)
    raylets = [s.raylet_cpu_seconds for s in statuses if s.raylet_cpu_seconds is not None]
    node = sum(s.exchange_cpu_seconds + (s.raylet_cpu_seconds or 0.0) for s in statuses)
    exchanges, taken = sum(s.exchanges for s in statuses), sum(s.exchanged_bytes for s in statuses)
    rounds = sum(max(s.rounds_done - s.start_round, 0) for s in statuses)
    loop = sum(s.loop_cpu_seconds for s in statuses)
    peers = [s.peer for s in statuses if s.peer is not None]
    round_cpu = sum(p.cpu_seconds for p in peers) if peers and len(peers) == len(statuses) else None
    seconds = sum(s.seconds for s in statuses)
    return NodeCosts(
        train_cpu_seconds=round(train / len(statuses), 3),
        exchange_cpu_seconds=round(sum(s.exchange_cpu_seconds for s in statuses) / len(statuses), 3),
        raylet_cpu_seconds=round(sum(raylets) / len(raylets), 3) if raylets else None,
        words_per_core_second=round(sum(s.words_trained for s in statuses) / train) if train > 0 else None,
        exchange_cpu_seconds_per_exchange=round(node / exchanges, 5) if exchanges else None,
        exchange_cpu_seconds_per_mb=round(node / (taken / 1e6), 5) if taken else None,
        round_cpu_seconds_per_exchange=round(round_cpu / exchanges, 5) if round_cpu and exchanges else None,
        loop_cpu_seconds_per_round=round(loop / rounds, 6) if rounds else None,
        background_cores=(round(max(node - (round_cpu or 0.0) - loop, 0.0) / seconds, 4)
                          if round_cpu is not None and seconds > 0 else None))


def sync_share(statuses: Sequence["ActorStatus"]) -> float:
    """The share of actor time spent in the exchange's arithmetic and waiting for it.

    >>> from w2v.exchange import ActorStatus
    >>> sync_share([ActorStatus(seconds=10.0, sync_seconds=2.0), ActorStatus(seconds=8.0, sync_seconds=1.0)])
    0.15
    """
    actor_seconds = max(s.seconds for s in statuses)
    return sum(s.sync_seconds for s in statuses) / max(len(statuses) * actor_seconds, 1e-9)


def fault_summary(events: Sequence["FaultEvent"]) -> dict[str, Any]:
    """The manifest's `training.faults`: counts of the actors' restarts, replacements and notices, the words
    they cost, and every event."""
    return {"restarts": sum(e.kind == "restarted" for e in events),
            "replacements": sum(e.kind == "replaced" for e in events),
            "notices": sum(e.noticed for e in events),
            "words_retrained": sum(e.words_retrained for e in events),
            "words_lost": sum(e.words_lost for e in events),
            "events": [asdict(e) for e in events]}


def measure(final: Sequence["ActorStatus"], words_per_epoch: int, tally: "ExchangeTally", rounds: "Rounds",
            *, actors: int, sync_words: int, transport: str, wire: str | None, sync_tiers: int, sync_combine: str,
            spool_seconds: float, seconds: float, checkpoints: int, events: Sequence["FaultEvent"]) -> TrainingStats:
    """A finished run's stats: `final` the actors' last statuses, `tally` the driver's exchange count, `rounds`
    its round record, `events` the actors' faults."""
    exchange = actors > 1
    exchanges, exchanged = tally.exchanges, tally.moved
    train_seconds = max(s.seconds for s in final)
    synced = sum(s.sync_seconds for s in final) / len(final)
    words = words_per_epoch * rounds.epochs
    retrained = sum(e.words_retrained for e in events)
    trained = round(words_per_epoch * (rounds.total - rounds.start_round) / rounds.chunks) + retrained  # this run's
    per_exchange = words_per_epoch / actors / rounds.chunks  # words per actor between two exchanges
    stale = sync.stale_words(per_exchange, actors)
    return TrainingStats(
        words=words, seconds=round(seconds, 3), words_per_s=round(trained / max(train_seconds, 1e-9)),
        exchanges=exchanges, sync_share=round(synced / max(train_seconds, 1e-9), 4),
        spool_seconds=round(spool_seconds, 3), sync_words=sync_words, chunks_per_epoch=rounds.chunks,
        words_per_exchange=round(per_exchange) if exchange else None,
        stale_words=round(stale) if exchange else None,
        stale_share=round(stale / max(words_per_epoch, 1), 6) if exchange else None,
        transport=transport, wire=wire,
        exchange_seconds=round(tally.seconds / exchanges, 4) if exchanges and tally.seconds else None,
        driver_cpu_seconds_per_exchange=round(tally.driver_cpu_seconds / exchanges, 5) if exchanges else None,
        wait_seconds=round(sum(s.wait_seconds for s in final) / len(final), 3),
        sync_tiers=sync_tiers, sync_combine=sync_combine, sync_seconds=round(synced, 3),
        bytes_exchanged=exchanged.total, bytes_per_word=round(exchanged.total / max(words, 1), 2),
        busiest_link_bytes=exchanged.busiest_link,
        slice_bytes_per_exchange=round(exchanged.slice / max(exchanges, 1)),
        **asdict(node_costs(final)),
        start_epoch=rounds.start_epoch, start_round=rounds.start_round, words_trained_this_run=trained,
        checkpoints=checkpoints, faults=fault_summary(events))


def epoch_stats(statuses: Sequence["ActorStatus"], words_per_epoch: int, started: float, exchange: bool = False
                ) -> list[dict[str, Any]]:
    """Per epoch: when the slowest actor finished it, words/s over it, gensim's rough loss of the epoch, and with
    `exchange` the sync share: the actors' mean seconds in the exchange and waiting for it during the
    epoch, over the epoch's seconds (the whole run's `sync_share`, epoch by epoch).

    Epoch ends are wall-clock times, so a restarted actor's compare with the others'. An epoch
    without times (trained by a process that died, or before a resume) has no entry, nor has the
    one after it when only some actors lack times (its start is unknown).
    """
    epochs: list[dict[str, Any]] = []
    previous_end: float | None = started
    previous_sync = [0.0] * len(statuses)  # per actor: its sync seconds at the previous epoch's end
    for e in range(min(len(s.epoch_ends) for s in statuses)):
        ends = [s.epoch_ends[e] for s in statuses]
        if any(t is None for t in ends):
            previous_end = started if all(t is None for t in ends) else None  # all: before this run (resume)
            continue
        end = max(ends)
        synced = [s.epoch_sync[e] if e < len(s.epoch_sync) and s.epoch_sync[e] is not None else 0.0
                  for s in statuses]
        if previous_end is not None:
            seconds = max(end - previous_end, 1e-9)
            entry = {"epoch": e + 1, "words": words_per_epoch, "seconds": round(seconds, 3),
                     "words_per_s": round(words_per_epoch / seconds),
                     "epoch_loss": round(sum(s.epoch_loss[e] for s in statuses), 1)}
            if exchange:
                share = sum(now - before for now, before in zip(synced, previous_sync)) / len(statuses) / seconds
                entry["sync_share"] = round(share, 4)
            epochs.append(entry)
        previous_end, previous_sync = end, synced
    return epochs
