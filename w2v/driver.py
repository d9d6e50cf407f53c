"""Train gensim Word2Vec on K Ray actors, one per node, and return one set of vectors.

This is the driver side: it places one `trainer.TrainerActor` per node, starts them from the same
weights, and meanwhile runs the delta exchange of `sync` after every chunk of `sync_words` words
each actor trains (round by round), and shows progress. The exchange rules live in `sync`, what runs on each node in `trainer`.

Faults: the driver always holds the global weights (initial + every delta). An actor whose process
dies is restarted by Ray (`max_restarts`); one whose node is gone is replaced by a new actor on an
alive node. Either way it spools its shards again (or takes over its dead predecessor's finished spool
on that host) and trains from the round the next exchange takes,
from the current global weights, with the learning rate at that point of the global schedule
(`sync.chunk_alphas`): the chunks it had trained past that round are trained again, and its
changes of rows no exchange had taken yet are lost (`recovery` counts both, in words). A preemption
notice (its node drains, or the actor gets SIGTERM) makes the next exchange move every row first,
then the driver moves the actor itself: nothing is lost. Checkpoints (`checkpoint`) store the
global weights at an exchange that moved every row, with that position, so a new driver can
`--resume`.

The rooms: `fleet` (the actors as processes: placed, spooled, started, brought back), `rounds` (where
every actor stands, pure), `training_stats` (what the run measured, typed), `exchange` and `collective`
(the two transports' rounds). This module runs the loop and decides what a fault costs.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from . import collective, lineage, progress, sync
from .checkpoint import Checkpoint, Checkpointer, NullCheckpointer
from .config import TrainConfig
from .corpus import Shard
from .errors import ConfigError, ResumableTrainingError, StoppedAtOnce, TrainingError, TrainingStopped, one_line
from .exchange import ActorStatus, ExchangeTally, actor_gone, exchange_round, ring_bytes
from .fleet import Fleet, actor_died, get_each
from .recovery import FaultEvent, weights_digest
from .rounds import Position, Rounds
from .trainer import FAULT_ENV, PAUSE_ENV, parse_fault_hook, parse_pause_hook
from .training_stats import TrainingStats, epoch_stats, measure, sync_share
from .vocab import Vocabulary

logger = logging.getLogger(__name__)

STATUS_POLL_SECONDS = 0.5  # how often the driver looks at progress: every actor (object store), one member (collective)
# The collective transport: the driver looks at member 0 every STATUS_POLL_SECONDS (progress, the full rounds it
# asked for, a broken group: a member's death breaks every survivor's collective within a fraction of a second) and
# at every member only every EVERYONE_SECONDS, or at once when member 0 shows a fault, a halt, the end or a
# snapshot: the driver's CPU per second does not grow with the members. A member whose status does not come within
# STATUS_TIMEOUT_SECONDS is taken for hung (SIGSTOP, a stuck node) and killed, so that Ray restarts it; its peers'
# collective then fails at once instead of at --exchange-timeout. A hung member is so found within
# EVERYONE_SECONDS + STATUS_TIMEOUT_SECONDS (20 s), a preemption notice seen within EVERYONE_SECONDS.
# Right after a generation formed, a member has until JOIN_GRACE_SECONDS after it (at most --exchange-timeout)
# to answer: in a test on a loaded machine a restarted member did not answer within a (3 s) status timeout in its
# first seconds in the new generation and was killed again and again, until --max-restarts (which of its first
# steps was slow was not found). A member that hangs then is found within JOIN_GRACE_SECONDS + EVERYONE_SECONDS
# (35 s); the driver's look blocks that long at most.
EVERYONE_SECONDS = 5.0
STATUS_TIMEOUT_SECONDS = 15.0
JOIN_GRACE_SECONDS = 30.0
MAX_REFORMS = 3  # group generations in a row that broke with no actor lost (a flaky network) before the job fails


def expected_words(assignment: Sequence[Sequence[Shard]], corpus_words: int, shard_words: Mapping[str, int] | None
                   ) -> list[int]:
    """Words per epoch of each actor's shards: counted (`shard_words`), else the corpus's by bytes.

    >>> expected_words([[Shard("a", 30, 0)], [Shard("b", 10, 0)]], 400, None)
    [300, 100]
    >>> expected_words([[Shard("a", 30, 0)], [Shard("b", 10, 0)]], 400, {"a": 250, "b": 150})
    [250, 150]
    """
    if shard_words is not None:
        return [sum(shard_words.get(s.name, 0) for s in shards) for shards in assignment]
    total = sum(s.size for shards in assignment for s in shards) or 1
    return [round(corpus_words * sum(s.size for s in shards) / total) for shards in assignment]


@dataclass
class TrainResult:
    """The combined vectors and what the training saw."""

    vectors: np.ndarray  # V x D float32, row i = vocab.words[i]
    syn1neg: np.ndarray | None  # V x D output weights of negative sampling (None with hs only), same rows
    actors: list[dict[str, Any]]  # per actor: node, shards, words, timings, peak memory
    stats: TrainingStats = field(default_factory=TrainingStats)  # words, exchanges, bytes, timings: the manifest's
    epochs: list[dict[str, Any]] = field(default_factory=list)  # per epoch: words/s, epoch_loss


class _Progress:
    """A progress bar while progress is shown (`progress.shown`); one log line per epoch always (readable in
    `ray job logs`)."""

    def __init__(self, epochs: int, first_epoch: int = 0, started: float = 0.0):
        self.epochs = epochs
        self.started = started  # wall-clock time training started (the actors' epoch ends are wall-clock too)
        self.first_epoch = first_epoch  # epochs done before this run (--resume)
        self.logged = first_epoch  # epochs already logged
        self.bar = progress.bar("training", total=epochs, unit="epochs", initial=first_epoch)  # or a NullBar

    def update(self, statuses: Sequence[ActorStatus], words_per_epoch: int, sync_share: float) -> None:
        done = min(s.epochs_done for s in statuses)  # the slowest actor sets the pace
        elapsed = max(s.seconds for s in statuses)
        trained = done - self.first_epoch  # epochs trained by this run
        rate = trained * words_per_epoch / elapsed if trained > 0 and elapsed else 0.0
        eta = (self.epochs - done) * elapsed / trained if trained > 0 else float("nan")
        self.bar.set_postfix_str(f"{rate:,.0f} words/s, sync {sync_share:.0%}", refresh=False)
        self.bar.update(done - self.bar.n)
        if self.logged >= done:
            return
        # Each epoch's own rate and sync share (from the actors' epoch ends), even when several ended since the last
        # look; the run's so far for an epoch without its own.
        own = {e["epoch"]: e for e in epoch_stats(statuses, words_per_epoch, self.started, exchange=True)}
        while self.logged < done:
            self.logged += 1
            epoch = own.get(self.logged, {})
            logger.info("epoch %d/%d done: %s words/s, sync %.0f%% of actor time, eta %.0f s", self.logged,
                        self.epochs, f"{epoch.get('words_per_s', rate):,.0f}", 100 * epoch.get("sync_share", sync_share),
                        eta)

    def close(self) -> None:
        self.bar.close()


class _StopSignals:
    """SIGINT (Ctrl-C) and SIGTERM (`ray job stop`, a preempted node) ask the driver to stop cleanly.

    The first one is noted (`signum`); the training loop sees it at its next round, makes that round
    a full exchange, writes a checkpoint and raises `TrainingStopped`. A second one stops at once
    (`StoppedAtOnce`, a KeyboardInterrupt: one line, exit code 128 + the signal, the checkpoints kept).
    Handlers can only be set from the main thread; elsewhere signals keep their default behaviour.
    """

    def __init__(self):
        self.signum: int | None = None  # the first stop signal received
        self.previous: dict[int, Any] = {}  # signal -> the handler to put back

    def __enter__(self) -> "_StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            self.__exit__()
            raise StoppedAtOnce(signum)
        self.signum = signum
        logger.warning("%s: stopping after this round with a checkpoint (send it again to stop at once)",
                       signal.Signals(signum).name)

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}


def train(config: TrainConfig, vocab: Vocabulary, assignment: Sequence[Sequence[Shard]],
          nodes: Sequence[dict[str, Any]], resume: Checkpoint | None = None,
          checkpointer: Checkpointer | NullCheckpointer = NullCheckpointer(), shard_words: Mapping[str, int] | None = None,
          parent: lineage.Parent | None = None) -> TrainResult:
    """Train on one actor per planned node (`assignment[k]` are actor k's shards, `nodes[k]` its node).

    `parent` (`--init-from`) gives the first weights of its rows (`lineage.initial_weights`); `resume`
    starts every actor at the checkpoint's position from its weights; `checkpointer` is asked
    every round whether a checkpoint is due (see `checkpoint.Checkpointer`). `shard_words` (shard
    name -> words, from the counting pass) sets each actor's chunk boundaries; without it they are
    estimated from the shards' bytes.
    """
    with _StopSignals() as stop:
        training = Training(config, vocab, assignment, nodes, resume, checkpointer, shard_words, stop, parent)
        try:
            return training.run()
        finally:
            training.close()


def ray_client() -> bool:
    """True when this driver reaches its cluster through Ray Client (`ray://`)."""
    try:
        from ray.util.client import ray as client

        return bool(client.is_connected())
    except Exception:
        return False



class Training:
    """The driver's side of one training run: the loop of rounds, the global weights, faults' costs.

    The actors are a `fleet.Fleet`, the rounds' record `rounds.Rounds`. `train` runs one and closes it;
    `jobs/links.py` runs one, then times its actors' exchanges.
    """

    def __init__(self, config: TrainConfig, vocab: Vocabulary, assignment: Sequence[Sequence[Shard]],
                 nodes: Sequence[dict[str, Any]], resume: Checkpoint | None,
                 checkpointer: Checkpointer | NullCheckpointer, shard_words: Mapping[str, int] | None = None, stop: _StopSignals | None = None,
                 parent: lineage.Parent | None = None):
        import ray

        self.config = config  # the job's parameters
        self.vocab = vocab  # the global vocabulary (row order)
        self.resume = resume  # the checkpoint this run continues, or None
        self.parent = parent  # the artifact whose trained rows start this job (--init-from), or None
        self.checkpointer = checkpointer  # asked every round whether a checkpoint is due
        self.stop = stop or _StopSignals()  # a stop signal: checkpoint at the next round, then TrainingStopped
        actors = len(nodes)
        self.exchange = actors > 1  # one actor alone has nothing to exchange
        words = expected_words(assignment, vocab.raw_words, shard_words)  # per actor, per epoch
        self.sync_words = config.sync_words or sync.default_sync_words(sum(words), actors)
        chunks = sync.chunks_per_epoch(sum(words), actors, self.sync_words)
        # A --sync-words of the user's that leaves much of an epoch stale is warned about; the automatic pacing's
        # floor (AUTO_MIN_SYNC_WORDS) on a tiny corpus is not a choice anyone can improve on.
        warning = config.sync_words and sync.staleness_warning(sum(words), actors, config.sync_words)
        if warning:
            logger.warning(warning)
        start_round = resume.round(chunks) if resume else 0  # where every actor starts
        self.rounds = Rounds(actors, chunks, config.epochs, start_round, vocab.counts)  # where every actor stands
        self.fleet = Fleet(config, ray.put(vocab), assignment, nodes, words, chunks, start_round, self._give_up,
                           parse_fault_hook(os.environ.get(FAULT_ENV)), parse_pause_hook(os.environ.get(PAUSE_ENV)))
        self.transport = self._transport()  # "collective", "object-store", or "none" (one actor)
        self.host: Any = None  # collective.StoreHost: the group's rendezvous (the collective transport)
        self.snapshot_weights: sync.Weights | None = None  # one actor: its weights at the last checkpoint
        self.global_weights: sync.Weights = {}  # initial + every delta (with exchange)
        self.started_wall = time.time()  # when the actors were started (wall clock, as their epoch ends)
        self.last_status: list[ActorStatus | None] = [None] * actors  # per actor, latest seen
        self.reforms = 0  # the collective: generations in a row that broke with no actor lost
        self.everyone_at = 0.0  # the collective: when the driver last looked at every member (monotonic)
        self.joined_at = 0.0  # the collective: when the last generation was formed (monotonic; JOIN_GRACE_SECONDS)

    @property
    def actors(self) -> list[Any]:
        """The actor handles (a replaced actor's successor in its place)."""
        return self.fleet.actors

    def _transport(self) -> str:
        """The exchange's transport (README "Scaling model"): the collective when torch is there (or asked
        for), else Ray's object store, said in one line with what it costs."""
        if not self.exchange:
            return "none"
        if self.config.transport == "object-store":
            return "object-store"
        missing = collective.torch_missing()
        if missing is None and ray_client():
            missing = ("the driver is a Ray Client (ray://): the actors cannot reach a rendezvous it hosts; "
                       "run the driver on the cluster (w2v submit)")
        return "collective" if missing is None else self._without_the_collective(missing)

    def _without_the_collective(self, missing: str) -> str:
        """The collective cannot run (`missing` says why): `--transport collective` is refused in one line;
        `auto` says so and exchanges through the object store."""
        if self.config.transport == "collective":
            raise ConfigError(f"--transport collective: {missing}")
        logger.info("exchanges go through Ray's object store (about 10x the CPU per exchange of the collective, "
                    "and the driver in every round: README \"Scaling model\"): %s", missing)
        return "object-store"

    # ------------------------------------------------------------------ the loop
    def run(self) -> TrainResult:
        import ray

        self.fleet.place()
        if self.transport == "collective":
            missing = self.fleet.torch_missing()  # every actor's node must have torch too
            if missing:
                self.transport = self._without_the_collective(f"a trainer node says: {sorted(missing)[0]}")
        spool_seconds = self.fleet.spool_all()
        self._start_all()
        words_per_epoch = sum(sp.words for sp in self.fleet.spooled)
        tally = ExchangeTally()
        started = time.perf_counter()
        progress = _Progress(self.config.epochs, self.rounds.start_epoch, self.started_wall)
        polled = 0.0  # perf_counter of the last status poll
        cpu = time.process_time()
        try:
            if self.transport == "collective":
                final_statuses = self._collective_loop(progress, words_per_epoch, tally)
            else:
                while True:
                    if not self.exchange or time.perf_counter() - polled >= STATUS_POLL_SECONDS:
                        polled = time.perf_counter()
                        statuses = self._statuses()
                        self.fleet.look_for_notices(statuses)
                        progress.update(statuses, words_per_epoch, sync_share(statuses))
                    if self._exchange_step(tally) if self.exchange else self._single_step(statuses):
                        break
                final_statuses = self._wait_done()
            tally.driver_cpu_seconds = time.process_time() - cpu
            if not self.exchange:  # one actor: its weights are the model
                self.global_weights = sync.copy_weights(ray.get(self.actors[0].weights.remote()))
            progress.update(final_statuses, words_per_epoch, sync_share(final_statuses))
        finally:
            progress.close()
        return self._result(final_statuses, words_per_epoch, tally, spool_seconds, time.perf_counter() - started)

    def _start_all(self) -> None:
        """Every actor starts from the same weights: the checkpoint's, or actor 0's seeded ones (with a
        parent artifact's rows over them, even for one actor)."""
        import ray

        if self.resume is not None:
            expected = {name: a.shape for name, a in self.fleet.first_answer("weights").items()}
            found = {name: a.shape for name, a in self.resume.weights.items()}
            if expected != found:
                raise ConfigError(f"--resume: the checkpoint holds matrices {found}, this job needs {expected}")
            initial = sync.copy_weights(self.resume.weights)
            logger.info("resuming from checkpoint %d at epoch %d of %d (round %d of %d)", self.resume.number,
                        self.rounds.start_epoch, self.config.epochs, self.rounds.start_round, self.rounds.total)
        elif self.parent is not None:
            initial = lineage.initial_weights(self.fleet.first_answer("weights"), self.parent)
            logger.info("first weights: %d row(s) from %s, %d new row(s) seeded", len(self.parent.words),
                        self.parent.uri, len(self.vocab) - len(self.parent.words))
        elif self.exchange:
            initial = sync.copy_weights(self.fleet.first_answer("weights"))
        else:
            initial = None
        if self.exchange:
            self.global_weights = initial
        else:
            self.snapshot_weights = initial
        self.started_wall = time.time()
        self.fleet.start_all(ray.put(initial) if initial is not None else None, self.exchange)

    # ------------------------------------------------------------------ the object store's rounds
    def _exchange_step(self, tally: ExchangeTally) -> bool:
        """One round: each actor's next chunk is exchanged (its `take` waits for it); True after the last.

        The last round and a due checkpoint move every row; the last one collects the final deltas.
        A round an actor was lost in is tried again once it is back.
        """
        final = self.rounds.final
        stopping = self.stop.signum is not None and not final
        noticed = dict(self.fleet.notices)  # actors about to go: every row of theirs goes into the global weights first
        full = self.rounds.full_exchange(stopping, bool(noticed), self.checkpointer.due())
        row_bytes = sum(a.shape[1] * 4 for a in self.global_weights.values())  # of all matrices
        slices = sync.exchange_slices(len(self.vocab), row_bytes, tally.exchanges, final=full,
                                      tiers=self.config.sync_tiers)
        began = time.perf_counter()
        rounds = list(self.rounds.next_round)
        moved, lost = exchange_round(self.actors, slices, rounds, self.global_weights, tally.exchanges, full)
        tally.add(moved, time.perf_counter() - began)
        for k in sorted(lost):  # brought back at this round: the round is exchanged again with it
            self._recover(k, RuntimeError("died during an exchange"))
        if lost:
            return False
        for k, actor in enumerate(self.actors):
            actor.advance.remote(rounds[k])
        # Every row is in the global weights now: a consistent position, the one a checkpoint records. A checkpoint's
        # or the last exchange is one, and so is every tier cycle's exchange that moves all rows.
        if self.rounds.exchanged(slices, len(self.vocab), full):
            if stopping:
                self._stop_with_checkpoint(self.global_weights)
            if self.checkpointer.due() and not final:
                self.checkpointer.save(self.global_weights, self._position())
            if not final:
                for k, why in noticed.items():  # nothing of theirs is left to lose: move them now
                    self._recover(k, RuntimeError(why), noticed=True)
        return final

    def _single_step(self, statuses: Sequence[ActorStatus]) -> bool:
        """One actor alone: nothing to exchange; checkpoint its live weights when due. True once it is done."""
        if all(s.done for s in statuses):
            return True
        if self.stop.signum is not None:
            self._snapshot_single(statuses[0])
            self._stop_with_checkpoint(self.snapshot_weights)
        if self.fleet.notices:  # about to go: its live weights and rounds are the position its successor starts at
            self._snapshot_single(statuses[0])
            self._recover(0, RuntimeError(self.fleet.notices[0]), noticed=True)
            return False
        if self.checkpointer.due():
            self._snapshot_single(statuses[0])
            self.checkpointer.save(self.snapshot_weights, self._position())
        time.sleep(STATUS_POLL_SECONDS)
        return False

    def _statuses(self) -> list[ActorStatus]:
        """Every actor's status; a dead actor is brought back first (restart or replacement), and a
        training error in any actor fails the job here."""
        import ray

        refs = [a.status.remote() for a in self.actors]
        statuses = []
        for k, ref in enumerate(refs):
            try:
                status = ray.get(ref)
                if status.pid != self.fleet.infos[k].pid:  # Ray restarted it between two of our calls
                    raise RuntimeError(f"trainer actor {k} runs in a new process (pid {status.pid})")
            except (*actor_gone(), RuntimeError) as exc:
                self._recover(k, exc)
                status = ray.get(self.actors[k].status.remote())
            statuses.append(status)
        self.last_status = list(statuses)  # a copy: `_recover` marks its entry not-done, the caller's stays whole
        failed = [s.error for s in statuses if s.error]
        if failed:
            raise RuntimeError(f"gensim training failed in an actor: {failed[0]}")
        return statuses

    def _wait_done(self) -> list[ActorStatus]:
        """Statuses once every actor's chunk loop has returned (right after the last round, it has)."""
        while True:
            statuses = self._statuses()
            if all(s.done for s in statuses):
                return statuses
            time.sleep(0.05)

    def _snapshot_single(self, status: ActorStatus) -> None:
        """One actor: copy its live weights (read after `status`, so they hold at least its epochs)."""
        import ray

        self.snapshot_weights = sync.copy_weights(ray.get(self.actors[0].weights.remote()))
        self.rounds.snapshot_rounds = [status.rounds_done]

    # ------------------------------------------------------------------ the collective transport
    def _collective_loop(self, bar: "_Progress", words_per_epoch: int, tally: ExchangeTally) -> list[ActorStatus]:
        """The actors exchange among themselves (`collective.PeerRounds`); the driver only looks every
        STATUS_POLL_SECONDS (at member 0; at every member every EVERYONE_SECONDS or when member 0 shows
        something: `_peer_statuses`): progress, notices, faults, and the full rounds it asks for (a
        checkpoint, a stop, a notice), whose global weights it then fetches from actor 0."""
        import ray

        self.host = collective.StoreHost(self.config.exchange_timeout, self.config.wire)
        self.reforms = 0  # generations in a row that broke with no actor lost
        self._join_all(self.rounds.start_round)
        wanted: str | None = None  # what the requested full round is for: "checkpoint", "stop" or "notice"
        after = -1  # the snapshot wanted is of a round after this one
        while True:
            time.sleep(STATUS_POLL_SECONDS)
            statuses = self._peer_statuses(halt_asked=wanted in ("stop", "notice"),
                                           snapshot_after=after if wanted else None)
            if statuses is None:  # a group fault was resolved and a new generation formed: look again
                wanted = None
                continue
            bar.update(statuses, words_per_epoch, sync_share(statuses))
            peers = [s.peer for s in statuses]
            if all(p.state == "done" for p in peers) and all(s.done for s in statuses):
                break
            if wanted is None:
                wanted = ("stop" if self.stop.signum is not None else "notice" if self.fleet.notices else
                          "checkpoint" if self.checkpointer.due() else None)
                if wanted:
                    after = peers[0].committed
                    # A stop or a notice halts the group after the full round: the actors train at most LAG
                    # chunks past it (what a resume or the successor trains again), not until the next look.
                    try:
                        ray.get(self.actors[0].request.remote(full=True, halt=wanted in ("stop", "notice"),
                                                              snapshot=True))
                    except Exception as exc:  # actor 0 went meanwhile: the next look recovers it, then asks again
                        if not actor_died(exc):
                            raise
                        wanted = None
            elif peers[0].snapshot_round > after:
                try:
                    round_, weights = ray.get(self.actors[0].snapshot.remote())
                except Exception as exc:
                    if not actor_died(exc):
                        raise
                    wanted = None
                    continue
                self.global_weights = weights
                self.rounds.snapshot_after(round_)
                last = round_ + 1 >= self.rounds.total  # every round is applied: finishing beats stopping or moving
                if wanted == "stop" and not last:
                    self._stop_with_checkpoint(weights)
                elif wanted == "checkpoint":
                    self.checkpointer.save(weights, self._position())
                elif wanted == "notice" and not last:
                    self._move_noticed(round_ + 1)
                wanted = None
        # The last round moved every row: every member's reference is the global weights (any member's will do).
        self.global_weights = self.fleet.first_answer("reference")
        tally.exchanges = max(s.exchanges for s in statuses)
        tally.moved = ring_bytes(len(self.actors), max(s.exchanged_bytes for s in statuses),
                                 collective.VALUE_BYTES[self.config.wire])
        return statuses

    def _join_all(self, first_round: int) -> None:
        """Every actor joins a new generation of the group, whose first round (`first_round`) moves every row.
        One that is gone by now breaks the generation (the others wait for it at the rendezvous, then the next
        look recovers it)."""
        specs = self.host.next_generation(len(self.actors), first_round)
        self.rounds.generation_first = first_round  # the tier schedule of this generation counts from here
        self.joined_at = time.monotonic()
        for k, exc in get_each([actor.join.remote(spec) for actor, spec in zip(self.actors, specs)])[1].items():
            if not actor_died(exc):
                raise exc
            logger.warning("trainer actor %d could not join generation %d: %s", k, specs[0].generation,
                           str(exc).splitlines()[0])
        logger.info("exchange group generation %d: %d actors, from round %d", specs[0].generation, len(specs),
                    first_round)

    def _peer_statuses(self, halt_asked: bool = False, snapshot_after: int | None = None
                       ) -> list[ActorStatus] | None:
        """Every actor's status (the last seen of those not looked at this time), or None after a group fault
        was resolved (`_recover_group`): an actor gone (dead, restarted by Ray, hung past
        STATUS_TIMEOUT_SECONDS), a member whose collective broke, or one that halted when no halt was asked
        (`halt_asked`).

        Member 0 is looked at every time; every member once EVERYONE_SECONDS passed since the last such look,
        when one's status is unknown (after a fault), or when member 0's says something the others' must
        confirm or complete: a fault, a halt, the end, a training error, or the snapshot after round
        `snapshot_after` (the position a checkpoint records counts every actor's last status)."""
        first = self._peer_status(0, self.actors[0].status.remote())
        everyone = (time.monotonic() - self.everyone_at >= EVERYONE_SECONDS or None in self.last_status[1:]
                    or not isinstance(first, ActorStatus) or first.done or bool(first.error)
                    or first.peer.state not in ("running", "joining")
                    or (snapshot_after is not None and first.peer.snapshot_round > snapshot_after))
        if not everyone:
            self.last_status[0] = first
            if first.peer.committed >= self.rounds.generation_first:  # this generation works
                self.reforms = 0
            return list(self.last_status)  # type: ignore[arg-type]
        self.everyone_at = time.monotonic()
        refs = [a.status.remote() for a in self.actors[1:]]
        statuses: list[ActorStatus | None] = []
        lost: dict[int, Exception] = {}
        for k, status in enumerate([first, *(self._peer_status(k, ref) for k, ref in enumerate(refs, 1))]):
            if isinstance(status, Exception):
                lost[k], status = status, None
            statuses.append(status)
        failed = [s.error for s in statuses if s is not None and s.error]
        if failed:
            raise RuntimeError(f"gensim training failed in an actor: {failed[0]}")
        diverged = [s.peer.error for s in statuses if s is not None and (s.peer.error or "").startswith("Floating")]
        if diverged:  # the same sums on every member: another generation would diverge again
            raise FloatingPointError(diverged[0].split(": ", 1)[-1])
        stopped = ("broken",) if halt_asked else ("broken", "halted")
        broken = [k for k, s in enumerate(statuses) if s is not None and s.peer.state in stopped]
        if lost or broken:
            self._recover_group(lost, statuses)
            return None
        self.last_status = list(statuses)
        if min(s.peer.committed for s in statuses) >= self.rounds.generation_first:  # this generation works
            self.reforms = 0
        self.fleet.look_for_notices(statuses)
        return statuses  # type: ignore[return-value]

    def _peer_status(self, k: int, ref: Any) -> ActorStatus | Exception:
        """Actor k's status from `ref` (its `status` call), or why it is lost: gone, restarted by Ray since it
        joined, or hung past STATUS_TIMEOUT_SECONDS, or past the grace after its generation formed
        (`_grace_left`; then killed here, so that Ray restarts it)."""
        import ray

        waited = STATUS_TIMEOUT_SECONDS
        try:
            try:
                status = ray.get(ref, timeout=STATUS_TIMEOUT_SECONDS)
            except ray.exceptions.GetTimeoutError:
                grace = self._grace_left()
                if grace <= 0:
                    raise
                waited += grace  # a member in its generation's first seconds is not taken for hung yet
                status = ray.get(ref, timeout=grace)
        except ray.exceptions.GetTimeoutError:
            ray.kill(self.actors[k], no_restart=False)
            return RuntimeError(f"trainer actor {k} did not answer within {waited:.0f} s (hung): "
                                f"killed, for Ray to restart it")
        except actor_gone() as exc:
            return exc
        if status.pid != self.fleet.infos[k].pid:
            return RuntimeError(f"trainer actor {k} runs in a new process (pid {status.pid})")
        if status.peer is None:  # restarted before it was started
            return RuntimeError(f"trainer actor {k} runs in a process that never joined")
        return status

    def _grace_left(self) -> float:
        """Seconds left of the grace a member has to answer after its generation formed (JOIN_GRACE_SECONDS, at
        most --exchange-timeout); 0 once it is over."""
        grace = min(JOIN_GRACE_SECONDS, self.config.exchange_timeout)
        return max(0.0, self.joined_at + grace - time.monotonic())

    def _settled(self, survivors: list[int], lost: dict[int, Exception]) -> dict[int, ActorStatus]:
        """The survivors' statuses once none is inside a collective any more (a death shows in a moment,
        a hang at --exchange-timeout); a survivor lost meanwhile moves to `lost`."""
        deadline = time.monotonic() + self.config.exchange_timeout + 2 * STATUS_TIMEOUT_SECONDS + self._grace_left()
        while True:
            settled: dict[int, ActorStatus] = {}
            for k in [k for k in survivors if k not in lost]:
                status = self._peer_status(k, self.actors[k].status.remote())
                if isinstance(status, Exception):
                    lost[k] = status
                else:
                    settled[k] = status
            if all(s.peer.state in ("broken", "halted", "done") for s in settled.values()):
                return settled
            if time.monotonic() > deadline:
                self._give_up(f"the exchange group did not settle within {self.config.exchange_timeout:.0f} s "
                              f"(--exchange-timeout) after a fault")
            time.sleep(0.1)

    def _recover_group(self, lost: dict[int, Exception], seen: Sequence[ActorStatus | None]) -> None:
        """A member is lost or the group broke: all or nothing for the round in flight (`resolve`: applied
        everywhere if every survivor applied it or holds its sum, else taken back everywhere:
        `collective.settled_round`), the lost actors brought back
        from a survivor's global weights at the round after, and a new generation of the group for all."""
        import ray

        if not lost:
            self.reforms += 1
            if self.reforms > MAX_REFORMS:
                errors = {s.peer.error for s in seen if s is not None and s.peer and s.peer.error}
                self._give_up(f"the exchange group broke {self.reforms} times with no actor lost: "
                              f"{'; '.join(sorted(errors))}")
        survivors = [k for k in range(len(self.actors)) if k not in lost]
        settled = self._settled(survivors, lost)
        broken = sorted({s.peer.error for s in settled.values() if s.peer.state == "broken" and s.peer.error})
        if broken:  # its peers' allreduce failed on it: it died (or hung) inside an exchange
            lost = {k: RuntimeError(f"died during an exchange ({broken[0][:120]}): {str(cause).splitlines()[0]}")
                    for k, cause in lost.items()}
        if settled:
            states = {k: s.peer for k, s in settled.items()}
            last = collective.settled_round(list(states.values()))
            undone = sorted(k for k, p in states.items() if p.committed > last)  # the round reached them only
            outcome = ("applied everywhere" if any(p.pending == last for p in states.values()) else
                       f"taken back where it had landed (actor(s) {undone})" if undone else
                       "taken back" if any(p.pending is not None for p in states.values()) else "none")
            try:
                applied = {k: ray.get(self.actors[k].resolve.remote(last)) for k in settled}
            except Exception as exc:
                if actor_died(exc):
                    raise  # the next look recovers it
                self._give_up(f"resolving round {last} after a fault failed: {one_line(exc)[:300]}")
            if set(applied.values()) != {last}:
                self._give_up(f"the actors disagree on the last exchanged round after a fault: {applied}")
            # The global weights from a survivor that took nothing back: it holds them exactly, and those that
            # took a round back (up to float32 rounding) adopt them.
            self.global_weights = self.fleet.first_answer("reference", [k for k in sorted(settled) if k not in undone])
            for k in undone:
                ray.get(self.actors[k].adopt_reference.remote(self.global_weights))
            resume = self.rounds.resume_round(last)
            full_rounds = sorted({r for s in settled.values() for r in s.peer.full_rounds})
        else:  # every member lost: from the last snapshot the driver holds (the start's weights at least)
            resume = self.rounds.resume_round(None)
            full_rounds, outcome = [], "lost with them"
        self._replay_rows(resume, full_rounds)
        logger.warning("exchange group: %s; the round in flight %s; training again from round %d",
                       f"actor(s) {sorted(lost)} lost" if lost else "broken with no actor lost", outcome, resume)
        for k, cause in sorted(lost.items()):
            self._recover(k, cause, restart_round=resume)
        self._join_all(resume)
        self.last_status = [None] * len(self.actors)

    def _replay_rows(self, until: int, full_rounds: Sequence[int]) -> None:
        """The rounds the collective committed since the last replay, into the round record (`Rounds.replay`)."""
        row_bytes = sum(a.shape[1] * 4 for a in self.global_weights.values())
        self.rounds.replay(until, full_rounds, len(self.vocab), row_bytes, self.config.sync_tiers)

    def _move_noticed(self, restart_round: int) -> None:
        """The group halted after a full round for a notice: move the noticed actors, then a new generation."""
        import ray

        deadline = time.monotonic() + self.config.exchange_timeout
        while True:
            try:
                peers = [s.peer for s in ray.get([a.status.remote() for a in self.actors],
                                                  timeout=STATUS_TIMEOUT_SECONDS)]
            except (*actor_gone(), ray.exceptions.GetTimeoutError):
                return  # one went meanwhile: the next look recovers the group (the notice stays)
            if any(p is None or p.state == "broken" for p in peers):
                return
            if all(p.state in ("halted", "done") for p in peers):
                break
            if time.monotonic() > deadline:
                self._give_up("the exchange group did not halt for a preemption notice")
            time.sleep(0.05)
        if {p.committed for p in peers if p.state == "halted"} != {restart_round - 1}:
            self._give_up(f"the exchange group halted at rounds {sorted({p.committed for p in peers})}, not after "
                          f"round {restart_round - 1} as asked")
        self._replay_rows(restart_round, [restart_round - 1])
        for k, why in sorted(self.fleet.notices.items()):
            self._recover(k, RuntimeError(why), noticed=True, restart_round=restart_round)
        self._join_all(restart_round)

    # ------------------------------------------------------------------ faults
    def _recover(self, k: int, cause: Exception, noticed: bool = False, restart_round: int | None = None) -> None:
        """Bring actor k back: wait for Ray's restart on its node, or replace it if the node is gone.

        It then spools its shards again (or takes over the dead process's finished spool on that host)
        and trains from the round the next exchange takes, from the
        current global weights (alone: from the last snapshot of its own weights). `noticed`: the
        actor is alive and about to go (`fleet.look_for_notices`), its every row was just exchanged; the
        driver stops it and starts a successor, on its node unless the node drains. Notices do not
        count against --max-restarts: they are orderly. `restart_round`: the collective's round to start
        at, after the group resolved the round in flight (`_recover_group`); by default the object
        store's next round.
        """
        import ray

        began = time.perf_counter()
        last = self.last_status[k] if k < len(self.last_status) else None
        if noticed:  # alive: its rounds done now, not at the last poll (what its successor trains again)
            try:
                last = ray.get(self.actors[k].status.remote(), timeout=10)
            except (*actor_gone(), ray.exceptions.GetTimeoutError):
                pass
        node_id = self.fleet.infos[k].node_id
        self.fleet.notices.pop(k, None)
        if not noticed:
            self.fleet.count_death(k, cause)
        logger.warning("trainer actor %d (node %s) %s: %s", k, node_id[:8], "moves" if noticed else "died",
                       str(cause).splitlines()[0])
        info = self.fleet.bring_back(k, node_id, noticed)
        self.fleet.infos[k] = info
        if restart_round is None:
            restart_round = self.rounds.default_restart(k, self.exchange)
        weights = self.global_weights if self.exchange else self.snapshot_weights
        info, started = self.fleet.spool_and_start(k, info, ray.put(weights) if weights is not None else None,
                                                   self.exchange, restart_round)
        kind = "restarted" if info.node_id == node_id else "replaced"  # where its successor runs
        chunks = self.rounds.chunks
        cost = self.rounds.restarted(k, restart_round, last.rounds_done if last else None, bool(last and last.done),
                                     self.fleet.spooled[k].words, self.exchange)
        event = FaultEvent(
            actor=k, kind=kind, cause=str(cause).splitlines()[0][:200], old_node=node_id, node=info.node_id,
            restart_round=restart_round, restart_epoch=restart_round // chunks, rounds_done_before=cost.seen,
            epochs_done_before=cost.seen // chunks, chunks_per_epoch=chunks, words_retrained=cost.words_retrained,
            words_lost=cost.words_lost, noticed=noticed, spool_reused=self.fleet.spooled[k].reused,
            start_alpha=started.start_alpha, sent_digest=weights_digest(weights) if weights is not None else "",
            start_digest=started.start_digest, seconds=round(time.perf_counter() - began, 3), stage="training")
        self.fleet.events.append(event)
        logger.warning("trainer actor %d %s on node %s: training again from round %d (epoch %d; %s words "
                       "retrained, about %s lost)", k, kind, info.node_id[:8], restart_round,
                       restart_round // chunks, f"{cost.words_retrained:,}", f"{cost.words_lost:,}")
        self.last_status[k] = None  # unknown until its next status

    def _give_up(self, reason: str) -> None:
        """An actor is gone for good: checkpoint what the global weights hold, then fail the job (TrainingError).

        With an exchange the checkpoint is the global weights at the last full exchange's position:
        rows exchanged since keep those changes and their rounds are trained again on --resume (at
        most one tier cycle, `sync.TIERS`). One actor alone: its last checkpoint stands.
        """
        weights = self.global_weights if self.exchange else None
        where = self._save_on_the_way_out(weights) if weights else None
        failed = ResumableTrainingError if where or self.checkpointer.saved else TrainingError
        raise failed(f"training failed: {reason}; " + (where if where else self._no_checkpoint_reason()))

    # ------------------------------------------------------------------ checkpoints
    def _position(self) -> Position:
        """The training position a checkpoint records (with the global weights it goes with)."""
        return self.rounds.position([sp.words for sp in self.fleet.spooled],
                                    [(st.rounds_done, st.done) if st else None for st in self.last_status],
                                    self.config.alpha, self.config.min_alpha)

    def _stop_with_checkpoint(self, weights: sync.Weights) -> None:
        """A stop signal: write a checkpoint of `weights` at the current position, then TrainingStopped."""
        name = signal.Signals(self.stop.signum).name
        where = self._save_on_the_way_out(weights)
        if where is None:
            raise TrainingError(f"stopped by {name}; {self._no_checkpoint_reason()}")
        raise TrainingStopped(f"stopped by {name}: {where}", self.stop.signum)

    def _save_on_the_way_out(self, weights: sync.Weights | None) -> str | None:
        """Write a checkpoint now, whatever the interval; what it holds, or None when none could be written."""
        if weights is None or self.checkpointer.location is None:
            return None
        saved = self.checkpointer.saved
        position = self._position()
        self.checkpointer.save(weights, position)
        if self.checkpointer.saved == saved:  # it logged why (a full disk, a denied upload)
            return None
        return (f"checkpoint {self.checkpointer.number - 1} at epoch {position.epoch} of {position.epochs} "
                f"(round {position.round}) written to {self.checkpointer.location}")

    def _no_checkpoint_reason(self) -> str:
        if self.checkpointer.location is None:
            return "checkpoints are off (--checkpoint-interval 0): nothing to resume from"
        if self.checkpointer.saved:
            return f"no new checkpoint could be written; the last one is in {self.checkpointer.location}"
        return f"no checkpoint could be written to {self.checkpointer.location}"

    # ------------------------------------------------------------------ results
    def _result(self, final: list[ActorStatus], words_per_epoch: int, tally: ExchangeTally, spool_seconds: float,
                seconds: float) -> TrainResult:
        stats = measure(final, words_per_epoch, tally, self.rounds, actors=len(self.actors), sync_words=self.sync_words,
                        transport=self.transport, wire=self.config.wire if self.transport == "collective" else None,
                        sync_tiers=self.config.sync_tiers,
                        sync_combine=self.config.sync_combine, spool_seconds=spool_seconds, seconds=seconds,
                        checkpoints=self.checkpointer.saved, events=self.fleet.events)
        actors_out = [{**asdict(info), "shards": sp.shards,
                       **{f"spool_{k}": v for k, v in asdict(sp).items() if k != "shards"},
                       "train_seconds": s.seconds, "sync_seconds": s.sync_seconds, "peak_rss": s.peak_rss,
                       "peak_private_rss": s.peak_private_rss, "start_round": s.start_round,
                       "start_alpha": s.start_alpha, "start_digest": s.start_digest,
                       "train_cpu_seconds": s.train_cpu_seconds, "exchange_cpu_seconds": s.exchange_cpu_seconds,
                       "raylet_cpu_seconds": s.raylet_cpu_seconds}
                      for info, sp, s in zip(self.fleet.infos, self.fleet.spooled, final)]
        return TrainResult(vectors=self.global_weights["vectors"], syn1neg=self.global_weights.get("syn1neg"),
                           actors=actors_out, stats=stats,
                           epochs=epoch_stats(final, words_per_epoch, self.started_wall, self.exchange))

    def close(self) -> None:
        self.fleet.close()
