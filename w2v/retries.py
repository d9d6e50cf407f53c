"""Which Ray tasks ran more than once: the record of faults in the stages before and after training.

Ray runs a task again when its worker process or its node dies (`max_retries`), and lineage
reconstruction runs it again when its result was lost with a node: the job survives, but the
caller is never told. So each attempt of a counting, merging or evaluation task notes itself in
the cluster's key-value store (the GCS's, which every worker reaches) under its stage's fresh
prefix, and the driver reads the notes once the stage is over (`Attempts.collect`): a task with
two notes ran twice, and the notes say on which nodes. The trainer actors' faults are the
driver's own record (`recovery.FaultEvent`); this module covers the tasks.

A note costs one small write per task attempt (there are a few tasks per GB of corpus). Outside
Ray (the tests' one-process counting) nothing is noted.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Iterator

logger = logging.getLogger(__name__)

NAMESPACE = "w2v-attempts"  # the key-value store's namespace for the notes
# Test hook (fault injection): "STAGE:TASK" makes the first attempt of task TASK of stage STAGE (e.g.
# "counting words:0", "evaluation:0") exit its worker process (os._exit, as a crash would) once it has
# noted itself; Ray runs it again. Read by the driver, never set in production.
TASK_EXIT_ENV = "W2V_TEST_TASK_EXIT"
# Test hook: "STAGE:DIR" makes the first attempt of every task of STAGE write DIR/<node id>-<task>.ready and
# wait (at most PAUSE_SECONDS) until DIR/release exists: a test removes a node while its task runs.
TASK_PAUSE_ENV = "W2V_TEST_TASK_PAUSE"
PAUSE_SECONDS = 120.0


@dataclass(frozen=True)
class TaskRetry:
    """A task Ray ran more than once, as the manifest records it (`faults.tasks`)."""

    stage: str  # "counting words", "counting phrases", "merging counts", "kept words", "evaluation"
    task: int  # its index in the stage (the counting tasks' batches in shard order)
    attempts: int  # runs Ray started (2: one retry)
    nodes: tuple[str, ...]  # the Ray node of each attempt (the order of the notes, not of time)


@dataclass(frozen=True)
class Tag:
    """What a task needs to note its attempt: small, shipped with each task's arguments."""

    prefix: str  # the stage's prefix in the store
    task: int  # the task's index
    exit_first: bool = False  # fault injection (TASK_EXIT_ENV): the first attempt exits after its note
    pause_dir: str | None = None  # fault injection (TASK_PAUSE_ENV): the first attempt waits there for a release

    def note(self) -> None:
        """Note this attempt (its node and process); with `exit_first`, the first attempt then dies."""
        try:
            import ray
            from ray.experimental import internal_kv

            if not ray.is_initialized():
                return
            node = ray.get_runtime_context().get_node_id()
            key = f"{self.prefix}/{self.task}/{uuid.uuid4().hex}"
            earlier = internal_kv._internal_kv_list(f"{self.prefix}/{self.task}/", namespace=NAMESPACE)
            internal_kv._internal_kv_put(key, f"{node} {os.getpid()}", namespace=NAMESPACE)
        except Exception as exc:  # a record is worth less than the work: never fail a task for it
            logger.debug("could not note a task attempt: %s", exc)
            return
        if self.pause_dir and not earlier:
            wait_for_release(self.pause_dir, f"{node}-{self.task}")
        if self.exit_first and not earlier:
            logger.warning("fault injection: exiting the worker process of task %d (%s)", self.task, self.prefix)
            os._exit(1)


def wait_for_release(folder: str, name: str, seconds: float = PAUSE_SECONDS) -> None:
    """Fault injection (the task and trainer pause hooks): write FOLDER/NAME.ready (this process's pid), then wait
    until FOLDER/release exists (`seconds` at most), so that a test can remove this node meanwhile."""
    with open(os.path.join(folder, f"{name}.ready"), "w") as f:
        f.write(str(os.getpid()))
    deadline = time.monotonic() + seconds
    while not os.path.exists(os.path.join(folder, "release")) and time.monotonic() < deadline:
        time.sleep(0.05)


@dataclass
class Ledger:
    """Every task retry of one job, stage after stage (the manifest's `faults.tasks`)."""

    retries: list[TaskRetry] = field(default_factory=list)

    def to_json(self) -> dict:
        """The manifest's `faults` section.

        >>> Ledger([TaskRetry("evaluation", 0, 2, ("n1", "n2"))]).to_json()
        {'tasks': [{'stage': 'evaluation', 'task': 0, 'attempts': 2, 'nodes': ['n1', 'n2']}]}
        """
        return {"tasks": [{"stage": r.stage, "task": r.task, "attempts": r.attempts, "nodes": list(r.nodes)}
                          for r in self.retries]}


_current: contextvars.ContextVar[Ledger | None] = contextvars.ContextVar("w2v_ledger", default=None)


@contextlib.contextmanager
def recording(ledger: Ledger) -> Iterator[Ledger]:
    """Every stage run inside adds its task retries to `ledger` (the pipeline holds one per job), without
    each function between the job and its Ray tasks passing it on."""
    token = _current.set(ledger)
    try:
        yield ledger
    finally:
        _current.reset(token)


class Attempts:
    """The driver's side of one stage: tags for its tasks, then the tasks that ran more than once."""

    def __init__(self, stage: str, ledger: Ledger | None = None):
        self.stage = stage  # what the manifest calls the stage
        # where `collect` adds the retries: the given ledger, the one being recorded into, or a throwaway one
        self.ledger = ledger if ledger is not None else (_current.get() or Ledger())
        self.prefix = f"{stage.replace(' ', '-')}/{uuid.uuid4().hex[:12]}"  # fresh for every run of the stage
        hook = os.environ.get(TASK_EXIT_ENV, "")
        self.exit_task = int(hook.rsplit(":", 1)[1]) if hook.rsplit(":", 1)[0] == stage and ":" in hook else None
        pause_stage, _, pause_dir = os.environ.get(TASK_PAUSE_ENV, "").partition(":")
        self.pause_dir = pause_dir if pause_stage == stage and pause_dir else None

    def tag(self, task: int) -> Tag:
        return Tag(self.prefix, task, exit_first=task == self.exit_task, pause_dir=self.pause_dir)

    def collect(self) -> list[TaskRetry]:
        """The stage's tasks that ran more than once (added to the ledger, logged); the notes are removed."""
        try:
            from ray.experimental import internal_kv

            keys = internal_kv._internal_kv_list(f"{self.prefix}/", namespace=NAMESPACE)
            notes: dict[int, list[str]] = {}  # task -> node of each attempt
            for key in keys:
                key = key.decode() if isinstance(key, bytes) else key
                value = internal_kv._internal_kv_get(key, namespace=NAMESPACE) or b""
                notes.setdefault(int(key.split("/")[-2]), []).append(value.decode().split(" ")[0])
            internal_kv._internal_kv_del(f"{self.prefix}/", del_by_prefix=True, namespace=NAMESPACE)
        except Exception as exc:  # no Ray (one-process counting), or the store is unreachable
            logger.debug("could not read the task attempts of %s: %s", self.stage, exc)
            return []
        found = [TaskRetry(self.stage, task, len(nodes), tuple(nodes))
                 for task, nodes in sorted(notes.items()) if len(nodes) > 1]
        for retry in found:
            logger.warning("%s: task %d ran %d times (its worker or node was lost; Ray ran it again)", self.stage,
                           retry.task, retry.attempts)
        self.ledger.retries.extend(found)
        return found

