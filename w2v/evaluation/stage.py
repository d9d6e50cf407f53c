"""The evaluation stage, the one path `w2v train` (through `pipeline.run`) and `w2v eval` both take.

`run_evaluation` runs `evaluate.evaluate` (and the projector files) either in this process or as
a separate Ray task with its own CPUs and GPUs, after checking that some node of the cluster can
hold that task: a task asking for a GPU that no node has would wait forever, so it is refused in
one line (ClusterError) instead. It never raises for a failed evaluation: the returned
`EvaluationOutcome` holds the result or the failure, because a training job publishes its vectors
even when the evaluation fails, while `w2v eval` stops on it (`raise_failure`). The outcome turns
into the artifact's evaluation files and manifest entry (`artifact_files`, `publish`).

What is measured is `metrics`' business; how it reads is `report`'s. This module imports
neither TensorFlow nor matplotlib itself: the task or the report does, where they run.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import export, progress, report, retries, storage
from . import sets
from ..errors import ClusterError, ConfigError, EvaluationFailedError, W2VError, one_line
from .metrics import evaluate
from ..manifest import EvaluationSummary
from .projector import projector_files
from .tf_common import import_tensorflow

if TYPE_CHECKING:
    from ..config import TrainConfig

logger = logging.getLogger(__name__)

TASK_NAME = "w2v-evaluate"  # the Ray task's name, as `ray list tasks` shows it


@dataclass(frozen=True)
class EvalSettings:
    """What to evaluate and with what: the `--eval-*` flags, `--projector-top` and `w2v eval`'s files."""

    seed: int  # chooses the sample of frequent words whose neighbours are listed
    cpus: float  # CPUs of the evaluation task; TensorFlow's threads there (at least 1)
    gpus: float  # GPUs of the evaluation task (TensorFlow's CUDA build on that node)
    projector_top: int  # TensorBoard projector files for this many most frequent words; 0 = none
    analogies: tuple[str, ...] = (sets.DEFAULT_ANALOGIES,)  # questions-words.txt-style files
    pairs: tuple[str, ...] = sets.DEFAULT_PAIRS  # word<TAB>word<TAB>score files
    restrict_vocab: int = sets.DEFAULT_RESTRICT_VOCAB  # only this many most frequent words count

    def __post_init__(self) -> None:
        if not self.cpus > 0 or not self.gpus >= 0:
            raise ConfigError(f"--eval-cpus {self.cpus:g} --eval-gpus {self.gpus:g}: the evaluation task needs "
                              f"CPUs > 0 and GPUs >= 0")

    @classmethod
    def of(cls, config: TrainConfig) -> EvalSettings:
        """A training job's settings: its `eval_*` keys, with the default files."""
        return cls(seed=config.eval_seed, cpus=config.eval_cpus, gpus=config.eval_gpus,
                   projector_top=config.projector_top)

    def for_elsewhere(self) -> EvalSettings:
        """The same, with files of this machine named by absolute path: a Ray task runs in another directory.

        URIs and bare names of gensim's bundled files stay as they are.
        """
        def where(path: str) -> str:
            local = storage.local_path(path)
            return os.path.abspath(local) if local is not None and os.path.exists(local) else path

        return replace(self, analogies=tuple(map(where, self.analogies)), pairs=tuple(map(where, self.pairs)))


@dataclass
class EvaluationOutcome:
    """What one evaluation gave: its eval.json and projector files, or what stopped it. The evaluation's
    Ray task returns one (its `failure` None); the driver reads it by name."""

    evaluation: dict[str, Any] | None  # eval.json's content; None when it failed
    projector: dict[str, bytes] = field(default_factory=dict)  # name -> bytes of the projector files
    failure: Exception | None = None  # what stopped it (bad input, the cluster, TensorFlow, the Ray task)

    @property
    def error(self) -> str | None:
        """The failure in one line (`Type: message`), or None."""
        return one_line(self.failure) if self.failure is not None else None

    def raise_failure(self) -> None:
        """Raise what stopped the evaluation, if anything: a W2VError as it is (bad files: exit 2, the
        cluster: exit 3), any other failure as EvaluationFailedError (exit 5)."""
        if self.failure is not None:
            with evaluation_failures():
                raise self.failure

    def manifest_entry(self) -> EvaluationSummary | None:
        """The manifest's `evaluation` section: the file and its headline numbers, or the error."""
        return EvaluationSummary.of(self.evaluation, self.error)

    def artifact_files(self, manifest: dict[str, Any], words: Sequence[str], vectors: np.ndarray
                       ) -> tuple[dict[str, bytes], EvaluationSummary]:
        """(name -> bytes of report.md, its pictures and the projector files; the manifest's `evaluation` section).

        eval.json itself is not among the files: a training job's export writes it. A report that
        fails to draw does not lose the evaluation: its error goes in the section (`report_error`).
        """
        entry = self.manifest_entry()
        if self.evaluation is None:
            return {}, entry
        files = dict(self.projector)
        try:
            files.update(report.render(manifest, self.evaluation, words, vectors))
        except Exception as exc:  # the vectors and the numbers matter more than the pictures
            entry.report_error = one_line(exc)
            logger.error("report failed: %s", entry.report_error)
        return files, entry


def run_evaluation(vectors: np.ndarray, words: Sequence[str], settings: EvalSettings,
                   in_ray_task: bool) -> EvaluationOutcome:
    """Evaluate the vectors here (`in_ray_task=False`: TensorFlow takes a GPU when it sees one) or as a
    separate Ray task holding `settings.cpus` and `settings.gpus` (Ray must be initialized).

    Never raises for a failed evaluation: the outcome holds the failure.
    """
    try:
        if not in_ray_task:
            return _evaluate_here(vectors, words, settings, threads=os.cpu_count() or 1, gpu=True)
        import ray

        check_cluster(settings.cpus, settings.gpus)
        task = ray.remote(_evaluation_task).options(num_cpus=settings.cpus, num_gpus=settings.gpus, max_retries=1,
                                                    name=TASK_NAME)
        attempts = retries.Attempts("evaluation")
        ref = task.remote(ray.put(vectors), list(words), settings.for_elsewhere(), attempts.tag(0))
        with progress.bar("evaluating (one Ray task)") as bar:  # it reports nothing until it ends: the time it takes
            for _ in progress.as_done([ref], bar):
                bar.set_postfix_str("finished")
        try:
            return ray.get(ref)
        finally:
            attempts.collect()
    except Exception as exc:
        return EvaluationOutcome(None, failure=exc)


def publish(artifact: str, outcome: EvaluationOutcome, manifest: dict[str, Any], words: Sequence[str],
            vectors: np.ndarray) -> list[str]:
    """Publish the outcome into an existing artifact (eval.json, report, pictures, projector files, the
    manifest's `evaluation` section), manifest last; returns the names of the files published. A
    failed outcome publishes nothing: its failure is raised (`raise_failure`)."""
    outcome.raise_failure()
    files, entry = outcome.artifact_files(manifest, words, vectors)
    files[export.EVAL_JSON] = export.json_bytes(outcome.evaluation)
    export.update_artifact(artifact, files, {"evaluation": entry.to_json()})
    return sorted(files)


def fitting_nodes(ray_nodes: Sequence[dict[str, Any]], cpus: float, gpus: float) -> list[str]:
    """Ids of the alive nodes (`ray.nodes()` records) with at least `cpus` CPUs and `gpus` GPUs in all.

    >>> n = lambda i, **r: {"NodeID": i, "Alive": True, "Resources": {"CPU": 4.0, **r}}
    >>> fitting_nodes([n("a"), n("b", GPU=1.0)], 1, 1), fitting_nodes([n("a")], 8, 0)
    (['b'], [])
    """
    return [n["NodeID"] for n in ray_nodes if n.get("Alive") and n["Resources"].get("CPU", 0) >= cpus
            and n["Resources"].get("GPU", 0) >= gpus]


def check_cluster(cpus: float, gpus: float) -> None:
    """Raise ClusterError unless an alive node of the Ray cluster can hold the evaluation task.

    Ray would queue a task no node can hold and wait for one forever (an autoscaler with a GPU
    node type could start one: w2v's cluster.yaml has none, so a GPU evaluation needs a GPU node
    up when the job asks).
    """
    import ray

    nodes = ray.nodes()
    if fitting_nodes(nodes, cpus, gpus):
        return
    alive = [n["Resources"] for n in nodes if n.get("Alive")]
    most = (max((r.get("CPU", 0) for r in alive), default=0), max((r.get("GPU", 0) for r in alive), default=0))
    raise ClusterError(f"--eval-cpus {cpus:g} --eval-gpus {gpus:g}: no alive node of the Ray cluster has that many "
                       f"(the most on one node: {most[0]:g} CPU(s), {most[1]:g} GPU(s)), so the evaluation task would "
                       f"wait forever; lower them, or start a node that has them")


@contextlib.contextmanager
def evaluation_failures():
    """A failure of the evaluation itself (TensorFlow, its Ray task) becomes EvaluationFailedError; bad input stays."""
    try:
        yield
    except W2VError:
        raise
    except Exception as exc:
        raise EvaluationFailedError(f"the evaluation failed: {one_line(exc)}") from exc


def _evaluate_here(vectors: np.ndarray, words: Sequence[str], settings: EvalSettings, threads: int,
                   gpu: bool) -> EvaluationOutcome:
    """eval.json's content and the projector files, computed in this process."""
    import_tensorflow(threads, gpu=gpu)  # the first import fixes TensorFlow's threads and devices for the process
    evaluation = evaluate(vectors, words, settings.seed, threads, analogies=settings.analogies, pairs=settings.pairs,
                          restrict_vocab=settings.restrict_vocab)
    evaluation["runtime"]["resources"] = None  # not a Ray task
    projector = projector_files(vectors, words, settings.projector_top) if settings.projector_top else {}
    return EvaluationOutcome(evaluation, projector)


def _evaluation_task(vectors: np.ndarray, words: Sequence[str], settings: EvalSettings,
                     tag: retries.Tag | None = None) -> EvaluationOutcome:
    """`_evaluate_here` inside the Ray task; eval.json records the resources Ray gave it.

    Without a GPU, CUDA is hidden so TensorFlow does not probe for one. The projector checkpoint is
    written here because this is where TensorFlow lives: the driver never imports it.
    """
    import ray

    if tag is not None:
        tag.note()
    outcome = _evaluate_here(vectors, words, settings, threads=max(1, int(settings.cpus)), gpu=settings.gpus > 0)
    outcome.evaluation["runtime"]["resources"] = ray.get_runtime_context().get_assigned_resources()  # {"CPU": 1.0}
    return outcome
