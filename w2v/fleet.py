"""The trainer actors of one run: created on their nodes, placed, spooled, started, and brought back.

`Fleet` holds one `trainer.TrainerActor` handle per planned node and what each said about itself
(`ActorInfo`, `Spooled`), and does everything that is about the actors as processes:

- create each on its node (a replacement wherever Ray finds room), wait until all are placed;
- spool every actor's shards into its chunks, start every one from the same first weights;
- a death before training (placing, spooling, starting) is counted, waited out (Ray's restart) or
  replaced, and the stage is done again (`start_up_fault`);
- bring an actor back later (`bring_back`, `spool_and_start`): what it then trains, from which
  weights, is the driver's (`driver.Training._recover`);
- preemption notices (`look_for_notices`): a SIGTERM'd actor, a draining node.

Every death counts against --max-restarts (`count_death`); past it, or when an actor does not come
back, the driver's `give_up` fails the job (after a checkpoint). This module neither exchanges nor
keeps rounds (`rounds`, `exchange`, `collective`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any, Callable, NoReturn, Sequence

from . import progress
from .config import TrainConfig
from .corpus import Shard
from .errors import ClusterError
from .exchange import ActorInfo, ActorNotStarted, ActorStatus, Spooled, actor_gone
from .placement import NODE_RESOURCE, alive_nodes, draining_nodes, release_node_request
from .recovery import FaultEvent
from .trainer import TrainerActor

logger = logging.getLogger(__name__)

RECOVERY_SECONDS = 120.0  # how long the driver waits for a dead actor to come back before failing the job
PLACE_SECONDS = 300.0  # how long the driver waits for the actors to be placed (a cluster whose CPUs are busy)


def get_each(refs: Sequence[Any], bar: Any = None, postfix: Callable[[list[Any]], str] = lambda results: ""
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


def actor_died(exc: BaseException) -> bool:
    """True when `exc` says the actor's process or node went away (Ray restarts or we replace it), not that
    the actor's own code failed: that one fails the job.

    >>> actor_died(RuntimeError("a bad shard")), actor_died(ActorNotStarted("a process Ray restarted"))
    (False, True)
    """
    gone = (*actor_gone(), ActorNotStarted)  # ActorNotStarted: a process Ray restarted since it was started
    return isinstance(exc, gone) or isinstance(getattr(exc, "cause", None), gone)


class Fleet:
    """One trainer actor per planned node (`assignment[k]` are actor k's shards, `nodes[k]` its node), see the module.

    `give_up(reason)` fails the job (the driver's: it checkpoints first); `exit_after` and `pause` are the
    tests' fault hooks (`trainer.parse_fault_hook`, `parse_pause_hook`).
    """

    def __init__(self, config: TrainConfig, vocab_ref: Any, assignment: Sequence[Sequence[Shard]],
                 nodes: Sequence[dict[str, Any]], expected_words: Sequence[int], chunks: int, start_round: int,
                 give_up: Callable[[str], NoReturn], exit_after: dict[int, tuple[float, str]] | None = None,
                 pause: tuple[str, str] | None = None):
        import ray

        self.config = config  # the job's parameters (max_restarts, workers)
        self.vocab_ref = vocab_ref  # the vocabulary, shipped once to every actor, restarts included
        self.assignment = [list(p) for p in assignment]  # actor k's shards
        self.nodes = list(nodes)  # actor k's planned node
        self.expected_words = list(expected_words)  # per actor, per epoch: sets its chunk boundaries
        self.chunks = chunks  # chunks per epoch
        self.start_round = start_round  # where every actor starts: a start-up fault's successor starts there too
        self.give_up = give_up
        self.exit_after = exit_after or {}  # fault injection (tests only)
        self.pause = pause  # fault injection (tests only)
        self.actor_cls = ray.remote(TrainerActor)
        self.actors = [self.create(k, node) for k, node in enumerate(self.nodes)]  # handles, replaced on node loss
        self.infos: list[ActorInfo | None] = [None] * len(self.actors)  # per actor: node, pid, workers (once placed)
        self.spooled: list[Spooled] = []  # per actor: what spool() spooled
        self.restarts = [0] * len(self.actors)  # per actor: restarts the driver saw (notices not counted)
        self.events: list[FaultEvent] = []  # restarts and replacements, for the manifest
        self.notices: dict[int, str] = {}  # actor -> why it is about to go (draining node, SIGTERM), not yet acted on

    def __len__(self) -> int:
        return len(self.actors)

    def create(self, k: int, node: dict[str, Any] | None, fault_hook: bool = True):
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

    # ------------------------------------------------------------------ before training
    def place(self) -> None:
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
                self.start_up_fault(k, exc, "placing")
                continue
            self.infos[k] = info
            if info.restarted:  # its first process died before it answered; Ray restarted it and our call ran there
                self.start_up_fault(k, RuntimeError("its first process died before it answered (Ray restarted it)"),
                                    "placing", already_back=info)
        if self.config.wait_for_nodes:
            release_node_request()  # the actors hold their nodes now
        for info in self.infos:
            if info.gensim_fast_version < 0:
                logger.error("!!! gensim on %s runs WITHOUT its compiled routines: training will be ~100x slower",
                             info.hostname)

    def torch_missing(self) -> set[str]:
        """Why a node cannot run the collective (each actor imports torch now, which also spares the first round
        the seconds it takes): empty when every one can."""
        import ray

        return {m for m in ray.get([a.warm_up.remote() for a in self.actors]) if m}

    def spool_all(self) -> float:
        """Every actor spools its shards into its chunks (in parallel); returns the wall seconds."""
        began = time.perf_counter()
        refs = [a.spool.remote(self.vocab_ref, self.assignment[k], self.chunks, self.expected_words[k])
                for k, a in enumerate(self.actors)]
        with progress.bar("spooling", total=len(refs), unit="actors") as bar:
            self.spooled, failures = get_each(refs, bar, lambda done: f"{sum(sp.words for sp in done):,} words, "
                                                                      f"{sum(sp.bytes for sp in done) / 1e6:,.1f} MB")
        for k, exc in failures.items():
            if not actor_died(exc):
                raise exc  # its own failure (a bad shard, a full disk): the job's error
            self.spool_again(k, exc, "spooling")
        for k, sp in enumerate(self.spooled):
            if sp.pid != self.infos[k].pid:  # Ray restarted it after `info`; the spool ran in the new process
                self.start_up_fault(k, RuntimeError(f"its process {self.infos[k].pid} died before it spooled "
                                                    f"(Ray restarted it as {sp.pid})"), "spooling")
        for k, (info, sp) in enumerate(zip(self.infos, self.spooled)):
            logger.info("actor %d on %s (node %s, %d workers): %d shard(s) spooled, %d words in %d chunk(s), "
                        "%.1f MB in %.1f s", k, info.hostname, info.node_id[:8], info.workers, sp.shards,
                        sp.words, sp.chunks, sp.bytes / 1e6, sp.seconds)
        return time.perf_counter() - began

    def start_all(self, initial_ref: Any, exchange: bool) -> None:
        """Every actor starts at the start round from `initial_ref` (None: its own seeded weights); one that died
        meanwhile is brought back, spools again (or takes over the dead one's spool) and starts."""
        import ray

        _, failures = get_each([a.start.remote(initial_ref, exchange, self.start_round) for a in self.actors])
        for k, exc in failures.items():
            if not actor_died(exc):
                raise exc
            while True:  # a new process: spool (or take over the dead one's spool), then start
                self.spool_again(k, exc, "starting")
                try:
                    ray.get(self.actors[k].start.remote(initial_ref, exchange, self.start_round))
                    break
                except Exception as again:
                    if not actor_died(again):
                        raise
                    exc = again

    def first_answer(self, method: str, members: Sequence[int] | None = None) -> Any:
        """What actor method `method` returns on the first of `members` (default: every actor) that answers:
        weights every one of them holds the same (one that dies meanwhile is brought back later, by the stage
        that needs it)."""
        import ray

        failure: Exception | None = None
        for k in range(len(self.actors)) if members is None else members:
            try:
                return ray.get(getattr(self.actors[k], method).remote())
            except Exception as exc:
                if not actor_died(exc):
                    raise
                failure = exc
        raise RuntimeError(f"no trainer actor could give its {method}: {failure}")

    def spool_again(self, k: int, cause: Exception, stage: str) -> None:
        """Actor k died before training (in `stage`): bring it back (`start_up_fault`) and spool its shards
        again, as often as --max-restarts allows."""
        import ray

        while True:
            self.start_up_fault(k, cause, stage)
            try:
                self.spooled[k] = ray.get(self.actors[k].spool.remote(self.vocab_ref, self.assignment[k], self.chunks,
                                                                        self.expected_words[k]))
            except Exception as again:
                if not actor_died(again):
                    raise
                cause = again
                continue
            self.events[-1] = replace(self.events[-1], spool_reused=self.spooled[k].reused)
            if self.spooled[k].pid != self.infos[k].pid:  # it restarted once more before it spooled: count that too
                self.start_up_fault(k, RuntimeError(f"its process {self.infos[k].pid} died before it spooled"),
                                    stage, already_back=ray.get(self.actors[k].info.remote()))
            return

    def start_up_fault(self, k: int, cause: Exception, stage: str, already_back: ActorInfo | None = None) -> None:
        """Actor k died before training began (while the driver was `stage`): count it against --max-restarts,
        wait for Ray's restart on its node or replace it on another (`bring_back`), and record the event. The
        caller does the stage's work again. Nothing was trained yet: nothing is retrained or lost.
        `already_back`: Ray restarted it before anyone noticed (its info says so)."""
        began = time.perf_counter()
        known = self.infos[k]
        node_id = known.node_id if known is not None else self.nodes[k]["node_id"]
        self.count_death(k, cause)
        logger.warning("trainer actor %d (node %s) died while %s: %s", k, node_id[:8], stage,
                       str(cause).splitlines()[0])
        info = already_back or self.bring_back(k, node_id, noticed=False)
        self.infos[k] = info
        start_epoch = self.start_round // self.chunks
        event = FaultEvent(
            actor=k, kind="restarted" if info.node_id == node_id else "replaced",
            cause=str(cause).splitlines()[0][:200], old_node=node_id, node=info.node_id,
            restart_round=self.start_round, restart_epoch=start_epoch, rounds_done_before=self.start_round,
            epochs_done_before=start_epoch, chunks_per_epoch=self.chunks, words_retrained=0, words_lost=0,
            noticed=False, spool_reused=False, start_alpha=0.0, sent_digest="", start_digest="",
            seconds=round(time.perf_counter() - began, 3), stage=stage)
        self.events.append(event)
        logger.warning("trainer actor %d %s on node %s while %s", k, event.kind, info.node_id[:8], stage)

    # ------------------------------------------------------------------ during training
    def count_death(self, k: int, cause: Exception) -> None:
        """One more death of actor k: past --max-restarts the job fails (`give_up`)."""
        self.restarts[k] += 1
        if self.restarts[k] > self.config.max_restarts:
            self.give_up(f"trainer actor {k} died more often than --max-restarts {self.config.max_restarts} "
                         f"allows: {str(cause).splitlines()[0]}")

    def bring_back(self, k: int, node_id: str, noticed: bool) -> ActorInfo:
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
                self.actors[k] = self.create(k, planned, fault_hook=False)
                return ray.get(self.actors[k].info.remote(), timeout=300)
            try:
                return ray.get(self.actors[k].info.remote(), timeout=10)
            except (*actor_gone(), ray.exceptions.GetTimeoutError) as exc:
                if time.monotonic() > deadline:
                    self.give_up(f"trainer actor {k} did not come back within {RECOVERY_SECONDS:.0f} s: "
                                 f"{str(exc).splitlines()[0]}")
                time.sleep(0.5)

    def spool_and_start(self, k: int, info: ActorInfo, weights_ref: Any, exchange: bool, restart_round: int
                        ) -> tuple[ActorInfo, ActorStatus]:
        """Actor k (just brought back) spools its shards (or takes over its predecessor's spool) and starts at
        `restart_round` from `weights_ref`; a successor that dies meanwhile counts and is brought back too."""
        import ray

        self.infos[k] = info
        while True:
            try:
                self.spooled[k] = ray.get(self.actors[k].spool.remote(self.vocab_ref, self.assignment[k], self.chunks,
                                                                        self.expected_words[k]))
                ray.get(self.actors[k].start.remote(weights_ref, exchange, restart_round))
                return info, ray.get(self.actors[k].status.remote())
            except Exception as again:
                if not actor_died(again):
                    raise
                self.count_death(k, again)
                self.infos[k] = info = self.bring_back(k, info.node_id, noticed=False)

    def look_for_notices(self, statuses: Sequence[ActorStatus | None]) -> None:
        """Preemption notices: an actor got SIGTERM (its status says so; None: not looked at this time), or Ray
        drains its node (`ray drain-node`, which a spot-termination handler can run on the cloud's two-minute
        notice). The driver's next exchange then moves every row and the actor is moved right after it, so
        nothing it trained is lost."""
        draining = draining_nodes()
        for k, (status, info) in enumerate(zip(statuses, self.infos)):
            if k in self.notices:  # a done actor too: it holds chunks the final exchange has not taken yet
                continue
            if status is not None and status.notice:
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

    def close(self) -> None:
        """Every actor drops its spool and goes."""
        import ray

        try:
            ray.get([a.close.remote() for a in self.actors], timeout=60)
        except Exception:  # the actor may be dead already; its spool dir is in a temp dir
            pass
        for actor in self.actors:
            ray.kill(actor)
