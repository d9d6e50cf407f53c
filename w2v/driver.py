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
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import collective, lineage, progress, recovery, sync
from .checkpoint import Checkpoint, NullCheckpointer
from .config import TrainConfig
from .corpus import Shard
from .errors import ClusterError, ConfigError, StoppedAtOnce, TrainingError, TrainingStopped
from .exchange import (ActorInfo, ActorNotStarted, ActorStatus, ExchangeTally, Spooled, actor_gone, exchange_round,
                       ring_bytes)
from .placement import NODE_RESOURCE, alive_nodes, draining_nodes, release_node_request
from .recovery import FaultEvent, weights_digest, words_retrained
from .trainer import FAULT_ENV, PAUSE_ENV, TrainerActor, parse_fault_hook, parse_pause_hook
from .vocab import Vocabulary

logger = logging.getLogger(__name__)

STATUS_POLL_SECONDS = 0.5  # how often the driver looks at progress when there is nothing to exchange
# The collective transport: an actor whose status does not come within this is taken for hung (SIGSTOP, a stuck
# node) and killed, so that Ray restarts it; its peers' collective then fails at once instead of at the timeout.
STATUS_TIMEOUT_SECONDS = 15.0
MAX_REFORMS = 3  # group generations in a row that broke with no actor lost (a flaky network) before the job fails
RECOVERY_SECONDS = 120.0  # how long the driver waits for a dead actor to come back before failing the job
PLACE_SECONDS = 300.0  # how long the driver waits for the actors to be placed (a cluster whose CPUs are busy)


def expected_words(plan: Sequence[Sequence[Shard]], corpus_words: int, shard_words: Mapping[str, int] | None
                   ) -> list[int]:
    """Words per epoch of each actor's shards: counted (`shard_words`), else the corpus's by bytes.

    >>> expected_words([[Shard("a", 30, 0)], [Shard("b", 10, 0)]], 400, None)
    [300, 100]
    >>> expected_words([[Shard("a", 30, 0)], [Shard("b", 10, 0)]], 400, {"a": 250, "b": 150})
    [250, 150]
    """
    if shard_words is not None:
        return [sum(shard_words.get(s.name, 0) for s in shards) for shards in plan]
    total = sum(s.size for shards in plan for s in shards) or 1
    return [round(corpus_words * sum(s.size for s in shards) / total) for shards in plan]


def _node_costs(statuses: Sequence[ActorStatus]) -> dict:
    """What a node spent, in CPU seconds (README "Scaling model"): training rate per core, and the
    exchange's CPU per exchange and per MB of the slices taken (each actor takes, combines and
    applies about one slice per round; its raylet moves the pieces). Each process counts its own
    exchanges and bytes, so a restarted one's shorter life is weighed as such. CPU time means the
    same on simulated nodes sharing cores and on real ones; `sync.node_efficiency` projects a
    cluster from it. The exchange's part is everything of the process but gensim's threads, and
    the raylet's: background threads and heartbeats included (about 1% of a core each, idle)."""
    train = sum(s.train_cpu_seconds for s in statuses)
    raylets = [s.raylet_cpu_seconds for s in statuses if s.raylet_cpu_seconds is not None]
    node = sum(s.exchange_cpu_seconds + (s.raylet_cpu_seconds or 0.0) for s in statuses)
    exchanges, taken = sum(s.exchanges for s in statuses), sum(s.exchanged_bytes for s in statuses)
    return {"train_cpu_seconds": round(train / len(statuses), 3),
            "exchange_cpu_seconds": round(sum(s.exchange_cpu_seconds for s in statuses) / len(statuses), 3),
            "raylet_cpu_seconds": round(sum(raylets) / len(raylets), 3) if raylets else None,
            "words_per_core_second": round(sum(s.words_trained for s in statuses) / train) if train > 0 else None,
            "exchange_cpu_seconds_per_exchange": round(node / exchanges, 5) if exchanges else None,
            "exchange_cpu_seconds_per_mb": round(node / (taken / 1e6), 5) if taken else None}


def _sync_share(statuses: Sequence[ActorStatus]) -> float:
    """The share of actor time spent in the exchange's arithmetic and waiting for it."""
    actor_seconds = max(s.seconds for s in statuses)
    return sum(s.sync_seconds for s in statuses) / max(len(statuses) * actor_seconds, 1e-9)


@dataclass
class TrainResult:
    """The combined vectors and what the training saw."""

    vectors: np.ndarray  # V x D float32, row i = vocab.words[i]
    syn1neg: np.ndarray | None  # V x D output weights of negative sampling (None with hs only), same rows
    actors: list[dict[str, Any]]  # per actor: node, shards, words, timings, peak memory
    stats: dict[str, Any] = field(default_factory=dict)  # words, exchanges, bytes, timings
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
        own = {e["epoch"]: e for e in _epoch_stats(statuses, words_per_epoch, self.started, exchange=True)}
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


def train(config: TrainConfig, vocab: Vocabulary, plan: Sequence[Sequence[Shard]],
          nodes: Sequence[dict[str, Any]], resume: Checkpoint | None = None,
          checkpointer: Any = NullCheckpointer(), shard_words: Mapping[str, int] | None = None,
          parent: lineage.Parent | None = None) -> TrainResult:
    """Train on one actor per planned node (`plan[k]` are actor k's shards, `nodes[k]` its node).

    `parent` (`--init-from`) gives the first weights of its rows (`lineage.initial_weights`); `resume`
    starts every actor at the checkpoint's position from its weights; `checkpointer` is asked
    every round whether a checkpoint is due (see `checkpoint.Checkpointer`). `shard_words` (shard
    name -> words, from the counting pass) sets each actor's chunk boundaries; without it they are
    estimated from the shards' bytes.
    """
    with _StopSignals() as stop:
        training = Training(config, vocab, plan, nodes, resume, checkpointer, shard_words, stop, parent)
        try:
            return training.run()
        finally:
            training.close()


def _get_each(refs: Sequence[Any], bar: Any = None, postfix: Callable[[list[Any]], str] = lambda results: ""
              ) -> tuple[list[Any], dict[int, Exception]]:
    """Every result, in the order of `refs` (None where it failed), and each failure by index. Every ref is
    read, failed ones too: a failure left unread is printed by Ray later, on its own, as an "Unhandled
    error" traceback after the job's one error line.

    `bar` (a `progress.bar`) counts the results as they arrive, with `postfix(the results so far)` beside it.
    """
    import ray

    bar = bar or progress.NullBar()
    results: list[Any] = [None] * len(refs)
    done: list[Any] = []  # the results so far, in the order they came
    failures: dict[int, Exception] = {}
    for i in progress.as_done(refs, bar):
        try:
            results[i] = ray.get(refs[i])
            done.append(results[i])
        except Exception as exc:
            failures[i] = exc
        bar.set_postfix_str(postfix(done), refresh=False)
        bar.update(1)
    return results, failures


def _ray_client() -> bool:
    """True when this driver reaches its cluster through Ray Client (`ray://`)."""
    try:
        from ray.util.client import ray as client

        return bool(client.is_connected())
    except Exception:
        return False


def _actor_died(exc: BaseException) -> bool:
    """True when `exc` says the actor's process or node went away (Ray restarts or we replace it), not that
    the actor's own code failed: that one fails the job."""
    gone = (*actor_gone(), ActorNotStarted)  # ActorNotStarted: a process Ray restarted since it was started
    return isinstance(exc, gone) or isinstance(getattr(exc, "cause", None), gone)


class Training:
    """The driver's side of one training run: actors, global weights, position, faults.

    `train` runs one and closes it; `jobs/links.py` runs one, then times its actors' exchanges.
    """

    def __init__(self, config: TrainConfig, vocab: Vocabulary, plan: Sequence[Sequence[Shard]],
                 nodes: Sequence[dict[str, Any]], resume: Checkpoint | None, checkpointer: Any,
                 shard_words: Mapping[str, int] | None = None, stop: _StopSignals | None = None,
                 parent: lineage.Parent | None = None):
        import ray

        self.config = config  # the job's parameters
        self.vocab = vocab  # the global vocabulary (row order)
        self.vocab_ref = ray.put(vocab)  # shipped once to every actor, restarts included
        self.plan = [list(p) for p in plan]  # actor k's shards
        self.nodes = list(nodes)  # actor k's planned node
        self.resume = resume  # the checkpoint this run continues, or None
        self.parent = parent  # the artifact whose trained rows start this job (--init-from), or None
        self.checkpointer = checkpointer  # asked every round whether a checkpoint is due
        self.stop = stop or _StopSignals()  # a stop signal: checkpoint at the next round, then TrainingStopped
        self.exit_after = parse_fault_hook(os.environ.get(FAULT_ENV))  # fault injection (tests only)
        self.pause = parse_pause_hook(os.environ.get(PAUSE_ENV))  # fault injection (tests only)
        self.actor_cls = ray.remote(TrainerActor)
        self.actors = [self._create(k, node) for k, node in enumerate(self.nodes)]  # handles, replaced on node loss
        self.exchange = len(self.actors) > 1  # one actor alone has nothing to exchange
        self.expected_words = expected_words(self.plan, vocab.raw_words, shard_words)  # per actor, per epoch
        self.sync_words = config.sync_words or sync.default_sync_words(sum(self.expected_words), len(self.actors))
        self.chunks = sync.chunks_per_epoch(sum(self.expected_words), len(self.actors), self.sync_words)
        # A --sync-words of the user's that leaves much of an epoch stale is warned about; the automatic pacing's
        # floor (AUTO_MIN_SYNC_WORDS) on a tiny corpus is not a choice anyone can improve on.
        warning = config.sync_words and sync.staleness_warning(sum(self.expected_words), len(self.actors),
                                                                config.sync_words)
        if warning:
            logger.warning(warning)
        self.transport = self._transport()  # "collective", "object-store", or "none" (one actor)
        self.host: Any = None  # collective.StoreHost: the group's rendezvous (the collective transport)
        self.rounds = config.epochs * self.chunks  # chunks of every epoch, the same for every actor
        self.start_round = resume.round(self.chunks) if resume else 0  # where every actor starts
        self.start_epoch = self.start_round // self.chunks
        self.next_round = [self.start_round] * len(self.actors)  # per actor: the round the next exchange takes
        self.snapshot_rounds = [self.start_round] * len(self.actors)  # rounds in the global weights (last full)
        self.snapshot_weights: sync.Weights | None = None  # one actor: its weights at the last checkpoint
        self.global_weights: sync.Weights = {}  # initial + every delta (with exchange)
        self.started_wall = time.time()  # when the actors were started (wall clock, as their epoch ends)
        self.last_status: list[ActorStatus | None] = [None] * len(self.actors)  # per actor, latest seen
        self.infos: list[ActorInfo | None] = [None] * len(self.actors)  # per actor: node, pid, workers (once placed)
        self.spooled: list[Spooled] = []  # per actor: what spool() spooled
        self.restarts = [0] * len(self.actors)  # per actor: restarts the driver saw (notices not counted)
        self.events: list[FaultEvent] = []  # restarts and replacements, for the manifest
        self.row_sync = recovery.RowSync(vocab.counts, self.start_round)  # per row: rounds in the global weights
        self.process_round = [self.start_round] * len(self.actors)  # per actor: the round its process started at
        self.notices: dict[int, str] = {}  # actor -> why it is about to go (draining node, SIGTERM), not yet acted on
        self.generation_first = self.start_round  # the collective's running generation starts at this round
        self.replayed = self.start_round  # the collective: RowSync holds the rounds before this one
        self.reforms = 0  # the collective: generations in a row that broke with no actor lost

    def _transport(self) -> str:
        """The exchange's transport (README "Scaling model"): the collective when torch is there (or asked
        for), else Ray's object store, said in one line with what it costs."""
        if not self.exchange:
            return "none"
        if self.config.transport == "object-store":
            return "object-store"
        missing = collective.torch_missing()
        if missing is None and _ray_client():
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

    def _check_nodes_for_the_collective(self) -> None:
        """Every actor's node must have torch too (each imports it now, which also spares the first round the
        seconds it takes); without it `auto` falls back to the object store, `collective` is refused."""
        import ray

        missing = {m for m in ray.get([a.warm_up.remote() for a in self.actors]) if m}
        if missing:
            self.transport = self._without_the_collective(f"a trainer node says: {sorted(missing)[0]}")

    def _create(self, k: int, node: dict[str, Any] | None, fault_hook: bool = True):
        """Actor k on its planned node, or (node=None) a replacement wherever Ray finds room.

        `fault_hook` False: a successor, which the test hook (FAULT_ENV) must not kill again."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        options: dict[str, Any] = {"max_restarts": self.config.max_restarts}
        if node is not None:
            workers = node["workers"]
            options.update(num_cpus=min(node["workers"], node["cpus"]),
                           resources={NODE_RESOURCE: 1} if node.get("resource") else None,
                           scheduling_strategy=NodeAffinitySchedulingStrategy(node["node_id"], soft=False))
        else:  # every node's CPUs are reserved by its own actor: the replacement shares one
            workers = self.config.workers or 1
            options.update(num_cpus=0)
        hook = self.exit_after.get(k) if node is not None and fault_hook else None
        return self.actor_cls.options(**options).remote(self.config, workers, hook,
                                                        self.pause if fault_hook else None)

    # ------------------------------------------------------------------ the loop
    def run(self) -> TrainResult:
        import ray

        self._place()
        if self.transport == "collective":
            self._check_nodes_for_the_collective()
        spool_seconds = self._spool_all()
        self._start_all()
        words_per_epoch = sum(sp.words for sp in self.spooled)
        tally = ExchangeTally()
        started = time.perf_counter()
        progress = _Progress(self.config.epochs, self.start_epoch, self.started_wall)
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
                        self._look_for_notices(statuses)
                        progress.update(statuses, words_per_epoch, _sync_share(statuses))
                    if self._exchange_step(tally) if self.exchange else self._single_step(statuses):
                        break
                final_statuses = self._wait_done()
            tally.driver_cpu_seconds = time.process_time() - cpu
            if not self.exchange:  # one actor: its weights are the model
                self.global_weights = sync.copy_weights(ray.get(self.actors[0].weights.remote()))
            progress.update(final_statuses, words_per_epoch, _sync_share(final_statuses))
        finally:
            progress.close()
        return self._result(final_statuses, words_per_epoch, tally, spool_seconds, time.perf_counter() - started)

    # ------------------------------------------------------------------ the collective transport
    def _collective_loop(self, bar: "_Progress", words_per_epoch: int, tally: ExchangeTally) -> list[ActorStatus]:
        """The actors exchange among themselves (`collective.PeerRounds`); the driver only looks every
        STATUS_POLL_SECONDS: progress, notices, faults (`_peer_statuses`), and the full rounds it asks for
        (a checkpoint, a stop, a notice), whose global weights it then fetches from actor 0."""
        import ray

        self.host = collective.StoreHost(self.config.exchange_timeout)
        self.reforms = 0  # generations in a row that broke with no actor lost
        self._join_all(self.start_round)
        wanted: str | None = None  # what the requested full round is for: "checkpoint", "stop" or "notice"
        after = -1  # the snapshot wanted is of a round after this one
        while True:
            time.sleep(STATUS_POLL_SECONDS)
            statuses = self._peer_statuses(halt_asked=wanted in ("stop", "notice"))
            if statuses is None:  # a group fault was resolved and a new generation formed: look again
                wanted = None
                continue
            self._look_for_notices(statuses)
            bar.update(statuses, words_per_epoch, _sync_share(statuses))
            peers = [s.peer for s in statuses]
            if all(p.state == "done" for p in peers) and all(s.done for s in statuses):
                break
            if wanted is None:
                wanted = ("stop" if self.stop.signum is not None else "notice" if self.notices else
                          "checkpoint" if self.checkpointer.due() else None)
                if wanted:
                    after = peers[0].committed
                    # A stop or a notice halts the group after the full round: the actors train at most LAG
                    # chunks past it (what a resume or the successor trains again), not until the next look.
                    try:
                        ray.get(self.actors[0].request.remote(full=True, halt=wanted in ("stop", "notice"),
                                                              snapshot=True))
                    except Exception as exc:  # actor 0 went meanwhile: the next look recovers it, then asks again
                        if not _actor_died(exc):
                            raise
                        wanted = None
            elif peers[0].snapshot_round > after:
                try:
                    round_, weights = ray.get(self.actors[0].snapshot.remote())
                except Exception as exc:
                    if not _actor_died(exc):
                        raise
                    wanted = None
                    continue
                self.global_weights = weights
                self.snapshot_rounds = [round_ + 1] * len(self.actors)
                last = round_ + 1 >= self.rounds  # every round is committed: finishing beats stopping or moving
                if wanted == "stop" and not last:
                    self._stop_with_checkpoint(weights)
                elif wanted == "checkpoint":
                    self.checkpointer.save(weights, self._position())
                elif wanted == "notice" and not last:
                    self._move_noticed(round_ + 1)
                wanted = None
        # The last round moved every row: every member's reference is the global weights (any member's will do).
        self.global_weights = self._first_answer("reference", range(len(self.actors)))
        tally.exchanges = max(s.exchanges for s in statuses)
        tally.moved = ring_bytes(len(self.actors), max(s.exchanged_bytes for s in statuses))
        return statuses

    def _first_answer(self, method: str, members: Sequence[int]) -> Any:
        """What actor method `method` returns on the first of `members` that answers: weights every one of them
        holds the same (one that dies meanwhile is brought back later, by the stage that needs it)."""
        import ray

        failure: Exception | None = None
        for k in members:
            try:
                return ray.get(getattr(self.actors[k], method).remote())
            except Exception as exc:
                if not _actor_died(exc):
                    raise
                failure = exc
        raise RuntimeError(f"no trainer actor could give its {method}: {failure}")

    def _join_all(self, first_round: int) -> None:
        """Every actor joins a new generation of the group, whose first round (`first_round`) moves every row.
        One that is gone by now breaks the generation (the others wait for it at the rendezvous, then the next
        look recovers it)."""
        specs = self.host.next_generation(len(self.actors), first_round)
        self.generation_first = first_round  # the tier schedule of this generation counts from here
        for k, exc in _get_each([actor.join.remote(spec) for actor, spec in zip(self.actors, specs)])[1].items():
            if not _actor_died(exc):
                raise exc
            logger.warning("trainer actor %d could not join generation %d: %s", k, specs[0].generation,
                           str(exc).splitlines()[0])
        logger.info("exchange group generation %d: %d actors, from round %d", specs[0].generation, len(specs),
                    first_round)

    def _peer_statuses(self, halt_asked: bool = False) -> list[ActorStatus] | None:
        """Every actor's status, or None after a group fault was resolved (`_recover_group`): an actor gone
        (dead, restarted by Ray, hung past STATUS_TIMEOUT_SECONDS), a member whose collective broke, or one
        that halted when no halt was asked (`halt_asked`)."""
        refs = [a.status.remote() for a in self.actors]
        statuses: list[ActorStatus | None] = []
        lost: dict[int, Exception] = {}
        for k, ref in enumerate(refs):
            status = self._peer_status(k, ref)
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
        if min(s.peer.committed for s in statuses) >= self.generation_first:  # this generation works
            self.reforms = 0
        return statuses  # type: ignore[return-value]

    def _peer_status(self, k: int, ref: Any) -> ActorStatus | Exception:
        """Actor k's status from `ref` (its `status` call), or why it is lost: gone, restarted by Ray since it
        joined, or hung past STATUS_TIMEOUT_SECONDS (then killed here, so that Ray restarts it)."""
        import ray

        try:
            status = ray.get(ref, timeout=STATUS_TIMEOUT_SECONDS)
        except ray.exceptions.GetTimeoutError:
            ray.kill(self.actors[k], no_restart=False)
            return RuntimeError(f"trainer actor {k} did not answer within {STATUS_TIMEOUT_SECONDS:.0f} s (hung): "
                                f"killed, for Ray to restart it")
        except actor_gone() as exc:
            return exc
        if status.pid != self.infos[k].pid:
            return RuntimeError(f"trainer actor {k} runs in a new process (pid {status.pid})")
        if status.peer is None:  # restarted before it was started
            return RuntimeError(f"trainer actor {k} runs in a process that never joined")
        return status

    def _settled(self, survivors: list[int], lost: dict[int, Exception]) -> dict[int, ActorStatus]:
        """The survivors' statuses once none is inside a collective any more (a death shows in a moment,
        a hang at --exchange-timeout); a survivor lost meanwhile moves to `lost`."""
        deadline = time.monotonic() + self.config.exchange_timeout + 2 * STATUS_TIMEOUT_SECONDS
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
        everywhere if any survivor committed it, else taken back everywhere), the lost actors brought back
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
            last = max(s.peer.committed for s in settled.values())
            applied = {k: ray.get(self.actors[k].resolve.remote(last)) for k in settled}
            if set(applied.values()) != {last}:
                self._give_up(f"the actors disagree on the last exchanged round after a fault: {applied}")
            self.global_weights = self._first_answer("reference", sorted(settled))
            # Every member entered this generation holding the global weights of the round before its first: a
            # generation that committed nothing yet resumes at its first round, not before it.
            resume = max(last + 1, self.generation_first)
            outcome = "applied everywhere" if any(s.peer.pending is not None and s.peer.pending <= last
                                                  for s in settled.values()) else "taken back"
            full_rounds = sorted({r for s in settled.values() for r in s.peer.full_rounds})
        else:  # every member lost: from the last snapshot the driver holds (the start's weights at least)
            resume = self.snapshot_rounds[0] if self.snapshot_rounds else self.start_round
            full_rounds, outcome = [], "lost with them"
        self._replay_rows(resume, full_rounds)
        logger.warning("exchange group: %s; the round in flight %s; training again from round %d",
                       f"actor(s) {sorted(lost)} lost" if lost else "broken with no actor lost", outcome, resume)
        for k, cause in sorted(lost.items()):
            self._recover(k, cause, restart_round=resume)
        self._join_all(resume)
        self.last_status = [None] * len(self.actors)

    def _replay_rows(self, until: int, full_rounds: Sequence[int]) -> None:
        """RowSync of the rounds committed since the last replay (the driver saw none of them): which rows the
        global weights hold up to which round, from the tier schedule and the full rounds the members report."""
        row_bytes = sum(a.shape[1] * 4 for a in self.global_weights.values())
        full = set(full_rounds)
        for r in range(max(self.replayed, self.generation_first), until):
            slices = sync.exchange_slices(len(self.vocab), row_bytes, r - self.generation_first,
                                          final=r in full or r == self.generation_first, tiers=self.config.sync_tiers)
            self.row_sync.exchanged(slices, r + 1)
            if sum(s.stop - s.start for s in slices) >= len(self.vocab):  # every row: a consistent position
                self.snapshot_rounds = [r + 1] * len(self.actors)
        self.replayed = max(self.replayed, until)

    def _spool_and_start(self, k: int, info: ActorInfo, weights_ref: Any, restart_round: int
                         ) -> tuple[ActorInfo, ActorStatus]:
        """Actor k (just brought back) spools its shards (or takes over its predecessor's spool) and starts at
        `restart_round` from `weights_ref`; a successor that dies meanwhile counts and is brought back too."""
        import ray

        self.infos[k] = info
        while True:
            try:
                self.spooled[k] = ray.get(self.actors[k].spool.remote(self.vocab_ref, self.plan[k], self.chunks,
                                                                        self.expected_words[k]))
                ray.get(self.actors[k].start.remote(weights_ref, self.exchange, restart_round))
                return info, ray.get(self.actors[k].status.remote())
            except Exception as again:
                if not _actor_died(again):
                    raise
                self._count_death(k, again)
                self.infos[k] = info = self._bring_back(k, info.node_id, noticed=False)

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
        for k, why in sorted(self.notices.items()):
            self._recover(k, RuntimeError(why), noticed=True, restart_round=restart_round)
        self._join_all(restart_round)

    def _exchange_step(self, tally: ExchangeTally) -> bool:
        """One round: each actor's next chunk is exchanged (its `take` waits for it); True after the last.

        The last round and a due checkpoint move every row; the last one collects the final deltas.
        A round an actor was lost in is tried again once it is back.
        """
        final = all(r >= self.rounds - 1 for r in self.next_round)
        stopping = self.stop.signum is not None and not final
        noticed = dict(self.notices)  # actors about to go: every row of theirs goes into the global weights first
        full = final or stopping or bool(noticed) or self.checkpointer.due()
        row_bytes = sum(a.shape[1] * 4 for a in self.global_weights.values())  # of all matrices
        slices = sync.exchange_slices(len(self.vocab), row_bytes, tally.exchanges, final=full,
                                      tiers=self.config.sync_tiers)
        began = time.perf_counter()
        rounds = list(self.next_round)
        moved, lost = exchange_round(self.actors, slices, rounds, self.global_weights)
        tally.add(moved, time.perf_counter() - began)
        for k in sorted(lost):  # brought back at this round: the round is exchanged again with it
            self._recover(k, RuntimeError("died during an exchange"))
        if lost:
            return False
        for k, actor in enumerate(self.actors):
            actor.advance.remote(rounds[k])
        self.next_round = [r + 1 for r in rounds]
        self.row_sync.exchanged(slices, min(self.next_round))  # these rows hold every change up to the new round
        # Every row is in the global weights now: a consistent position, the one a checkpoint records. A checkpoint's
        # or the last exchange is one, and so is every tier cycle's exchange that moves all rows.
        if full or sum(s.stop - s.start for s in slices) >= len(self.vocab):
            self.snapshot_rounds = list(self.next_round)
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
        if self.notices:  # about to go: its live weights and rounds are the position its successor starts at
            self._snapshot_single(statuses[0])
            self._recover(0, RuntimeError(self.notices[0]), noticed=True)
            return False
        if self.checkpointer.due():
            self._snapshot_single(statuses[0])
            self.checkpointer.save(self.snapshot_weights, self._position())
        time.sleep(STATUS_POLL_SECONDS)
        return False

    def _stop_with_checkpoint(self, weights: sync.Weights) -> None:
        """A stop signal: write a checkpoint of `weights` at the current position, then TrainingStopped."""
        name = signal.Signals(self.stop.signum).name
        where = self._save_on_the_way_out(weights)
        if where is None:
            raise TrainingError(f"stopped by {name}; {self._no_checkpoint_reason()}")
        raise TrainingStopped(f"stopped by {name}: {where}", self.stop.signum)

    def _save_on_the_way_out(self, weights: sync.Weights | None) -> str | None:
        """Write a checkpoint now, whatever the interval; what it holds, or None when none could be written."""
        if weights is None or not hasattr(self.checkpointer, "location"):
            return None
        saved = self.checkpointer.saved
        position = self._position()
        self.checkpointer.save(weights, position)
        if self.checkpointer.saved == saved:  # it logged why (a full disk, a denied upload)
            return None
        return (f"checkpoint {self.checkpointer.number - 1} at epoch {position['epoch']} of {position['epochs']} "
                f"(round {position['round']}) written to {self.checkpointer.location}")

    def _no_checkpoint_reason(self) -> str:
        if not hasattr(self.checkpointer, "location"):
            return "checkpoints are off (--checkpoint-interval 0): nothing to resume from"
        if self.checkpointer.saved:
            return f"no new checkpoint could be written; the last one is in {self.checkpointer.location}"
        return f"no checkpoint could be written to {self.checkpointer.location}"

    def _place(self) -> None:
        """Wait until every actor runs on its node (its `info`), then drop the autoscaler request."""
        import ray

        refs = [a.info.remote() for a in self.actors]
        deadline = time.monotonic() + PLACE_SECONDS
        for k, ref in enumerate(refs):
            try:
                info = ray.get(ref, timeout=max(deadline - time.monotonic(), 0.01))
            except ray.exceptions.GetTimeoutError:
                raise ClusterError(f"trainer actors could not be placed within {PLACE_SECONDS:.0f} s: are the "
                                   f"nodes' CPUs busy?") from None
            except actor_gone() as exc:  # died before it answered, and Ray could not tell whether it ran
                self._start_up_fault(k, exc, "placing")
                continue
            self.infos[k] = info
            if info.restarted:  # its first process died before it answered; Ray restarted it and our call ran there
                self._start_up_fault(k, RuntimeError("its first process died before it answered (Ray restarted it)"),
                                     "placing", already_back=info)
        if self.config.wait_for_nodes:
            release_node_request()  # the actors hold their nodes now
        for info in self.infos:
            if info.gensim_fast_version < 0:
                logger.error("!!! gensim on %s runs WITHOUT its compiled routines: training will be ~100x slower",
                             info.hostname)

    def _spool_all(self) -> float:
        """Every actor spools its shards into its chunks (in parallel); returns the wall seconds."""
        began = time.perf_counter()
        refs = [a.spool.remote(self.vocab_ref, self.plan[k], self.chunks, self.expected_words[k])
                for k, a in enumerate(self.actors)]
        with progress.bar("spooling", total=len(refs), unit="actors") as bar:
            self.spooled, failures = _get_each(refs, bar, lambda done: f"{sum(sp.words for sp in done):,} words, "
                                                                       f"{sum(sp.bytes for sp in done) / 1e6:,.1f} MB")
        for k, exc in failures.items():
            if not _actor_died(exc):
                raise exc  # its own failure (a bad shard, a full disk): the job's error
            self._spool_again(k, exc, "spooling")
        for k, sp in enumerate(self.spooled):
            if sp.pid != self.infos[k].pid:  # Ray restarted it after `info`; the spool ran in the new process
                self._start_up_fault(k, RuntimeError(f"its process {self.infos[k].pid} died before it spooled "
                                                     f"(Ray restarted it as {sp.pid})"), "spooling")
        for k, (info, sp) in enumerate(zip(self.infos, self.spooled)):
            logger.info("actor %d on %s (node %s, %d workers): %d shard(s) spooled, %d words in %d chunk(s), "
                        "%.1f MB in %.1f s", k, info.hostname, info.node_id[:8], info.workers, sp.shards,
                        sp.words, sp.chunks, sp.bytes / 1e6, sp.seconds)
        return time.perf_counter() - began

    def _wait_done(self) -> list[ActorStatus]:
        """Statuses once every actor's chunk loop has returned (right after the last round, it has)."""
        while True:
            statuses = self._statuses()
            if all(s.done for s in statuses):
                return statuses
            time.sleep(0.05)

    def _start_all(self) -> None:
        """Every actor starts from the same weights: the checkpoint's, or actor 0's seeded ones (with a
        parent artifact's rows over them, even for one actor)."""
        import ray

        if self.resume is not None:
            expected = {name: a.shape for name, a in self._first_answer("weights", range(len(self.actors))).items()}
            found = {name: a.shape for name, a in self.resume.weights.items()}
            if expected != found:
                raise ConfigError(f"--resume: the checkpoint holds matrices {found}, this job needs {expected}")
            initial = sync.copy_weights(self.resume.weights)
            logger.info("resuming from checkpoint %d at epoch %d of %d (round %d of %d)", self.resume.number,
                        self.start_epoch, self.config.epochs, self.start_round, self.rounds)
        elif self.parent is not None:
            initial = lineage.initial_weights(self._first_answer("weights", range(len(self.actors))), self.parent)
            logger.info("first weights: %d row(s) from %s, %d new row(s) seeded", len(self.parent.words),
                        self.parent.uri, len(self.vocab) - len(self.parent.words))
        elif self.exchange:
            initial = sync.copy_weights(self._first_answer("weights", range(len(self.actors))))
        else:
            initial = None
        if self.exchange:
            self.global_weights = initial
        else:
            self.snapshot_weights = initial
        initial_ref = ray.put(initial) if initial is not None else None
        self.started_wall = time.time()
        _, failures = _get_each([a.start.remote(initial_ref, self.exchange, self.start_round) for a in self.actors])
        for k, exc in failures.items():
            if not _actor_died(exc):
                raise exc
            while True:  # a new process: spool (or take over the dead one's spool), then start
                self._spool_again(k, exc, "starting")
                try:
                    ray.get(self.actors[k].start.remote(initial_ref, self.exchange, self.start_round))
                    break
                except Exception as again:
                    if not _actor_died(again):
                        raise
                    exc = again

    def _spool_again(self, k: int, cause: Exception, stage: str) -> None:
        """Actor k died before training (in `stage`): bring it back (`_start_up_fault`) and spool its shards
        again, as often as --max-restarts allows."""
        import ray

        while True:
            self._start_up_fault(k, cause, stage)
            try:
                self.spooled[k] = ray.get(self.actors[k].spool.remote(self.vocab_ref, self.plan[k], self.chunks,
                                                                        self.expected_words[k]))
            except Exception as again:
                if not _actor_died(again):
                    raise
                cause = again
                continue
            self.events[-1] = replace(self.events[-1], spool_reused=self.spooled[k].reused)
            if self.spooled[k].pid != self.infos[k].pid:  # it restarted once more before it spooled: count that too
                self._start_up_fault(k, RuntimeError(f"its process {self.infos[k].pid} died before it spooled"),
                                     stage, already_back=ray.get(self.actors[k].info.remote()))
            return

    def _start_up_fault(self, k: int, cause: Exception, stage: str, already_back: ActorInfo | None = None) -> None:
        """Actor k died before training began (while the driver was `stage`): count it against --max-restarts,
        wait for Ray's restart on its node or replace it on another (`_bring_back`), and record the event. The
        caller does the stage's work again. Nothing was trained yet: nothing is retrained or lost.
        `already_back`: Ray restarted it before anyone noticed (its info says so)."""
        began = time.perf_counter()
        known = self.infos[k]
        node_id = known.node_id if known is not None else self.nodes[k]["node_id"]
        self._count_death(k, cause)
        logger.warning("trainer actor %d (node %s) died while %s: %s", k, node_id[:8], stage,
                       str(cause).splitlines()[0])
        info = already_back or self._bring_back(k, node_id, noticed=False)
        self.infos[k] = info
        event = FaultEvent(
            actor=k, kind="restarted" if info.node_id == node_id else "replaced",
            cause=str(cause).splitlines()[0][:200], old_node=node_id, node=info.node_id,
            restart_round=self.start_round, restart_epoch=self.start_epoch, rounds_done_before=self.start_round,
            epochs_done_before=self.start_epoch, chunks_per_epoch=self.chunks, words_retrained=0, words_lost=0,
            noticed=False, spool_reused=False, start_alpha=0.0, sent_digest="", start_digest="",
            seconds=round(time.perf_counter() - began, 3), stage=stage)
        self.events.append(event)
        logger.warning("trainer actor %d %s on node %s while %s", k, event.kind, info.node_id[:8], stage)

    def _statuses(self) -> list[ActorStatus]:
        """Every actor's status; a dead actor is brought back first (restart or replacement), and a
        training error in any actor fails the job here."""
        import ray

        refs = [a.status.remote() for a in self.actors]
        statuses = []
        for k, ref in enumerate(refs):
            try:
                status = ray.get(ref)
                if status.pid != self.infos[k].pid:  # Ray restarted it between two of our calls
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

    def _snapshot_single(self, status: ActorStatus) -> None:
        """One actor: copy its live weights (read after `status`, so they hold at least its epochs)."""
        import ray

        self.snapshot_weights = sync.copy_weights(ray.get(self.actors[0].weights.remote()))
        self.snapshot_rounds = [status.rounds_done]

    def _position(self) -> dict[str, Any]:
        """The training position a checkpoint records (with the global weights it goes with)."""
        words = [sp.words for sp in self.spooled]
        round_ = min(self.snapshot_rounds)
        # What the actors had trained past this position when it was written (the last status, the chunk in
        # flight whole): a job resumed from it trains those words again.
        past = sum(words_retrained(max(st.rounds_done, r) if st else r, bool(st and st.done), r, w, self.chunks)
                   for st, r, w in zip(self.last_status, self.snapshot_rounds, words))
        return {"epoch": round_ // self.chunks, "epochs": self.config.epochs, "round": round_,
                "chunks": self.chunks, "actor_rounds": list(self.snapshot_rounds),
                "actor_epochs": [r // self.chunks for r in self.snapshot_rounds],
                "actor_words_per_epoch": words,
                "words_done": round(sum(r * w / self.chunks for r, w in zip(self.snapshot_rounds, words))),
                "words_trained_past": past,
                "alpha": sync.chunk_alphas(self.config.alpha, self.config.min_alpha, self.rounds, round_)[0]}

    # ------------------------------------------------------------------ faults
    def _look_for_notices(self, statuses: Sequence[ActorStatus]) -> None:
        """Preemption notices: an actor got SIGTERM, or Ray drains its node (`ray drain-node`, which a
        spot-termination handler can run on the cloud's two-minute notice). The next exchange then
        moves every row and the actor is moved right after it (`_exchange_step`), so nothing it
        trained is lost."""
        draining = draining_nodes()
        for k, (status, info) in enumerate(zip(statuses, self.infos)):
            if k in self.notices:  # a done actor too: it holds chunks the final exchange has not taken yet
                continue
            if status.notice:
                why = f"{status.notice} (a preemption notice)"
            elif info.node_id in draining:
                deadline = draining[info.node_id]
                left = f", {max(deadline / 1000 - time.time(), 0):.0f} s left" if deadline else ""
                why = f"its node {info.node_id[:8]} is draining (a preemption notice{left})"
            else:
                continue
            self.notices[k] = why
            logger.warning("trainer actor %d: %s: its changes go into the global weights at the next exchange, "
                           "then it moves", k, why)

    def _recover(self, k: int, cause: Exception, noticed: bool = False, restart_round: int | None = None) -> None:
        """Bring actor k back: wait for Ray's restart on its node, or replace it if the node is gone.

        It then spools its shards again (or takes over the dead process's finished spool on that host)
        and trains from the round the next exchange takes, from the
        current global weights (alone: from the last snapshot of its own weights). `noticed`: the
        actor is alive and about to go (`_look_for_notices`), its every row was just exchanged; the
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
        node_id = self.infos[k].node_id
        self.notices.pop(k, None)
        if not noticed:
            self._count_death(k, cause)
        logger.warning("trainer actor %d (node %s) %s: %s", k, node_id[:8], "moves" if noticed else "died",
                       str(cause).splitlines()[0])
        info = self._bring_back(k, node_id, noticed)
        self.infos[k] = info
        # With an exchange: the round the next exchange takes (every earlier round is in the global weights,
        # but for rows whose tier was not due since: `lost`). Alone: its last snapshot.
        if restart_round is None:
            restart_round = self.next_round[k] if self.exchange else self.snapshot_rounds[k]
        weights = self.global_weights if self.exchange else self.snapshot_weights
        info, started = self._spool_and_start(k, info, ray.put(weights) if weights is not None else None,
                                              restart_round)
        kind = "restarted" if info.node_id == node_id else "replaced"  # where its successor runs
        # Rounds it is known to have trained: the last status poll, or the rounds exchanged since (each
        # exchange waited for its chunk), whichever is later.
        seen = max(last.rounds_done if last else restart_round, self.next_round[k], restart_round)
        self.next_round[k] = restart_round
        words = self.spooled[k].words
        retrained = words_retrained(seen, bool(last and last.done), restart_round, words, self.chunks)
        lost = self.row_sync.words_lost(restart_round, words / self.chunks, self.process_round[k]) \
            if self.exchange else 0
        self.process_round[k] = restart_round
        event = FaultEvent(
            actor=k, kind=kind, cause=str(cause).splitlines()[0][:200], old_node=node_id, node=info.node_id,
            restart_round=restart_round, restart_epoch=restart_round // self.chunks, rounds_done_before=seen,
            epochs_done_before=seen // self.chunks, chunks_per_epoch=self.chunks, words_retrained=retrained,
            words_lost=lost, noticed=noticed, spool_reused=self.spooled[k].reused, start_alpha=started.start_alpha,
            sent_digest=weights_digest(weights) if weights is not None else "", start_digest=started.start_digest,
            seconds=round(time.perf_counter() - began, 3), stage="training")
        self.events.append(event)
        logger.warning("trainer actor %d %s on node %s: training again from round %d (epoch %d; %s words "
                       "retrained, about %s lost)", k, kind, info.node_id[:8], restart_round,
                       restart_round // self.chunks, f"{retrained:,}", f"{lost:,}")
        self.last_status[k] = None  # unknown until its next status

    def _count_death(self, k: int, cause: Exception) -> None:
        """One more death of actor k: past --max-restarts the job fails (`_give_up`)."""
        self.restarts[k] += 1
        if self.restarts[k] > self.config.max_restarts:
            self._give_up(f"trainer actor {k} died more often than --max-restarts {self.config.max_restarts} "
                          f"allows: {str(cause).splitlines()[0]}")

    def _bring_back(self, k: int, node_id: str, noticed: bool) -> ActorInfo:
        """Actor k running again: Ray's restart on its node (waited for, RECOVERY_SECONDS at most), or a new
        actor when the node is gone or (`noticed`) the actor is to move. Its `info`."""
        import ray

        deadline = time.monotonic() + RECOVERY_SECONDS
        while True:
            gone = node_id not in {n["node_id"] for n in alive_nodes()}
            if noticed or gone:
                stays = not gone and node_id not in draining_nodes()  # a SIGTERM on a healthy node
                try:
                    ray.kill(self.actors[k], no_restart=True)
                except Exception:  # already dead for good
                    pass
                planned = self.nodes[k] if stays and self.nodes[k]["node_id"] == node_id else None
                self.actors[k] = self._create(k, planned, fault_hook=False)
                return ray.get(self.actors[k].info.remote(), timeout=300)
            try:
                return ray.get(self.actors[k].info.remote(), timeout=10)
            except (*actor_gone(), ray.exceptions.GetTimeoutError) as exc:
                if time.monotonic() > deadline:
                    self._give_up(f"trainer actor {k} did not come back within {RECOVERY_SECONDS:.0f} s: "
                                  f"{str(exc).splitlines()[0]}")
                time.sleep(0.5)

    def _give_up(self, reason: str) -> None:
        """An actor is gone for good: checkpoint what the global weights hold, then fail the job (TrainingError).

        With an exchange the checkpoint is the global weights at the last full exchange's position:
        rows exchanged since keep those changes and their rounds are trained again on --resume (at
        most one tier cycle, `sync.TIERS`). One actor alone: its last checkpoint stands.
        """
        weights = self.global_weights if self.exchange else None
        where = self._save_on_the_way_out(weights) if weights else None
        error = TrainingError(f"training failed: {reason}; "
                              + (where if where else self._no_checkpoint_reason()))
        error.resumable = bool(where) or bool(getattr(self.checkpointer, "saved", 0))
        raise error

    # ------------------------------------------------------------------ results
    def _result(self, final: list[ActorStatus], words_per_epoch: int, tally: ExchangeTally, spool_seconds: float,
                seconds: float) -> TrainResult:
        config = self.config
        exchanges, exchanged = tally.exchanges, tally.moved
        train_seconds = max(s.seconds for s in final)
        sync_seconds = sum(s.sync_seconds for s in final) / len(final)
        words = words_per_epoch * config.epochs
        retrained = sum(e.words_retrained for e in self.events)
        trained = round(words_per_epoch * (self.rounds - self.start_round) / self.chunks) + retrained  # this driver's
        per_exchange = words_per_epoch / len(self.actors) / self.chunks  # words per actor between two exchanges
        stats = {
            "words": words,
            "seconds": round(seconds, 3),
            "words_per_s": round(trained / max(train_seconds, 1e-9)),
            "spool_seconds": round(spool_seconds, 3),
            "exchanges": exchanges,
            # What the quality depends on (README "What the quality follows"): words each actor trains between two
            # exchanges (one chunk; two refreshes of the hottest rows), and so the others' words each one has not seen,
            # also as a share of an epoch's words.
            "sync_words": self.sync_words,
            "chunks_per_epoch": self.chunks,
            "words_per_exchange": round(per_exchange) if self.exchange else None,
            "stale_words": round(sync.stale_words(per_exchange, len(self.actors))) if self.exchange else None,
            "stale_share": round(sync.stale_words(per_exchange, len(self.actors)) / max(words_per_epoch, 1), 6)
            if self.exchange else None,
            "transport": self.transport,
            "exchange_seconds": round(tally.seconds / exchanges, 4) if exchanges and tally.seconds else None,
            # The driver's CPU per exchange (its part of the round: the object store's calls and gets; the collective's
            # status polls only), over the training stage.
            "driver_cpu_seconds_per_exchange": round(tally.driver_cpu_seconds / exchanges, 5) if exchanges else None,
            "wait_seconds": round(sum(s.wait_seconds for s in final) / len(final), 3),  # actors waiting, mean
            "sync_tiers": config.sync_tiers,
            "sync_combine": config.sync_combine,
            "sync_seconds": round(sync_seconds, 3),
            "sync_share": round(sync_seconds / max(train_seconds, 1e-9), 4),
            "bytes_exchanged": exchanged.total,
            "bytes_per_word": round(exchanged.total / max(words, 1), 2),
            "busiest_link_bytes": exchanged.busiest_link,
            "slice_bytes_per_exchange": round(exchanged.slice / max(exchanges, 1)),  # the summed delta
            **_node_costs(final),
            "start_epoch": self.start_epoch,
            "start_round": self.start_round,
            "words_trained_this_run": trained,
            "checkpoints": self.checkpointer.saved,
            "faults": {"restarts": sum(e.kind == "restarted" for e in self.events),
                       "replacements": sum(e.kind == "replaced" for e in self.events),
                       "notices": sum(e.noticed for e in self.events),
                       "words_retrained": retrained,
                       "words_lost": sum(e.words_lost for e in self.events),
                       "events": [asdict(e) for e in self.events]},
        }
        actors_out = [{**asdict(info), "shards": sp.shards,
                       **{f"spool_{k}": v for k, v in asdict(sp).items() if k != "shards"},
                       "train_seconds": s.seconds, "sync_seconds": s.sync_seconds, "peak_rss": s.peak_rss,
                       "peak_private_rss": s.peak_private_rss, "start_round": s.start_round,
                       "start_alpha": s.start_alpha, "start_digest": s.start_digest,
                       "train_cpu_seconds": s.train_cpu_seconds, "exchange_cpu_seconds": s.exchange_cpu_seconds,
                       "raylet_cpu_seconds": s.raylet_cpu_seconds}
                      for info, sp, s in zip(self.infos, self.spooled, final)]
        return TrainResult(vectors=self.global_weights["vectors"], syn1neg=self.global_weights.get("syn1neg"),
                           actors=actors_out, stats=stats,
                           epochs=_epoch_stats(final, words_per_epoch, self.started_wall, self.exchange))

    def close(self) -> None:
        import ray

        try:
            ray.get([a.close.remote() for a in self.actors], timeout=60)
        except Exception:  # the actor may be dead already; its spool dir is in a temp dir
            pass
        for actor in self.actors:
            ray.kill(actor)


def _epoch_stats(statuses: Sequence[ActorStatus], words_per_epoch: int, started: float, exchange: bool = False
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
