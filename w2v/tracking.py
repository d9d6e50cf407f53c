"""Experiment tracking: one MLflow run per job (`--mlflow-uri URI`), or the do-nothing tracker.

A run holds the job's parameters, per-epoch words/s, epoch_loss and sync share (step = epoch), the
evaluation's headline numbers, and where the artifact went (tag `w2v.artifact`, with the
manifest's sha256 in `w2v.manifest_sha256`). `--name` is the run's name, `--tags` become tags
(each `TAG: "true"`, and all of them in `w2v.tags`), the git commit MLflow's own
`mlflow.source.git.commit`, the Ray job id `w2v.ray_job_id`. Runs go to the experiment "w2v".

The job calls the same methods either way (`tracker_for(config)`), so it never asks "is tracking
on?". MLflow is an optional extra (`pip install 'w2v[mlflow]'`, the client only); its absence is
one line, found before the cluster starts. Once a run is open, a tracking failure is a warning:
hours of training are not thrown away because a tracking server went away.

    w2v train sample: --out demo --mlflow-uri sqlite:///mlflow.db    # then: mlflow ui --backend-store-uri ...
"""

from __future__ import annotations

import logging
import time
from typing import Any

from .display import redact
from .errors import ConfigError, one_line
from .manifest import EvaluationSummary, RunSection, TrainingSection, epoch_losses

logger = logging.getLogger(__name__)

EXPERIMENT = "w2v"
MAX_PARAM_CHARS = 6000  # MLflow's limit on a parameter value (since 2.x): longer ones (a corpus list) are cut


class NullTracker:
    """No tracking: every method does nothing."""

    def log_training(self, training: TrainingSection) -> None:
        pass

    def log_evaluation(self, evaluation: EvaluationSummary | None) -> None:
        pass

    def finish(self, artifact: str | None = None, manifest_sha256: str | None = None, failed: bool = False) -> None:
        pass


def require_mlflow(uri: str):
    """The MlflowClient class, or a ConfigError saying how to install it."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ConfigError(f"--mlflow-uri {uri}: mlflow is not installed; pip install 'w2v[mlflow]'") from None
    return MlflowClient


class MlflowTracker:
    """One MLflow run, opened at construction (status RUNNING) with the parameters logged."""

    def __init__(self, uri: str, parameters: dict[str, Any], run: RunSection):
        client_class = require_mlflow(uri)
        self.uri = redact(uri)  # for messages
        try:
            self.client = client_class(tracking_uri=uri)  # explicit client: no global "active run" state
            found = self.client.get_experiment_by_name(EXPERIMENT)
            experiment = found.experiment_id if found else self.client.create_experiment(EXPERIMENT)
            self.run_id = self.client.create_run(experiment, run_name=run.name, tags=run_tags(run)).info.run_id
            self._log(params=flat_parameters(parameters))
        except Exception as exc:  # before training: a wrong URI fails the job now, not after hours
            raise ConfigError(f"--mlflow-uri {uri}: cannot start a run: {one_line(exc)}") from None
        logger.info("MLflow run %s at %s", self.run_id, uri)

    def _log(self, metrics: list[tuple[str, float, int]] = (), params: dict[str, str] | None = None,
             tags: dict[str, str] | None = None) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, step) for k, v, step in metrics],
                              params=[Param(k, v) for k, v in (params or {}).items()],
                              tags=[RunTag(k, v) for k, v in (tags or {}).items()])

    def _quietly(self, what: str, **batch: Any) -> None:
        try:
            self._log(**batch)
        except Exception as exc:
            logger.warning("MLflow: could not log %s to %s: %s", what, self.uri, one_line(exc))

    def log_training(self, training: TrainingSection) -> None:
        share = training.shown_sync_share
        metrics = [("train/words_per_s", e["words_per_s"], e["epoch"]) for e in training.epochs
                   if e.get("words_per_s") is not None]
        metrics += [("train/epoch_loss", loss, e["epoch"]) for e, loss in zip(training.epochs,
                                                                           epoch_losses(training.epochs))
                    if loss is not None]
        metrics += [("train/sync_share", e.get("sync_share", share), e["epoch"]) for e in training.epochs
                    if e.get("sync_share", share) is not None]
        metrics += [("train/words", training.words, 0), ("train/seconds", training.seconds, 0),
                    ("train/mean_words_per_s", training.words_per_s, 0)]
        self._quietly("the training numbers", metrics=metrics)

    def log_evaluation(self, evaluation: EvaluationSummary | None) -> None:
        if evaluation is None:
            return
        if evaluation.error:
            self._quietly("the evaluation error", tags={"w2v.evaluation_error": evaluation.error[:5000]})
            return
        self._quietly("the evaluation", metrics=evaluation_metrics(evaluation))

    def finish(self, artifact: str | None = None, manifest_sha256: str | None = None, failed: bool = False) -> None:
        tags = {"w2v.artifact": artifact} if artifact else {}
        if manifest_sha256:
            tags["w2v.manifest_sha256"] = manifest_sha256
        if tags:
            self._quietly("the artifact location", tags=tags)
        try:
            self.client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")
        except Exception as exc:
            logger.warning("MLflow: could not close run %s at %s: %s", self.run_id, self.uri, one_line(exc))


def tracker_for(mlflow_uri: str | None, parameters: dict[str, Any], run: RunSection):
    """An MlflowTracker when a tracking URI is given, else the NullTracker."""
    return MlflowTracker(mlflow_uri, parameters, run) if mlflow_uri else NullTracker()


def flat_parameters(parameters: dict[str, Any]) -> dict[str, str]:
    """The config as MLflow parameters: strings (redacted), lists joined by commas, cut at MLflow's limit.

    >>> flat_parameters({"corpus": ["a.txt", "b.txt"], "max_final_vocab": None, "sg": True})
    {'corpus': 'a.txt,b.txt', 'max_final_vocab': 'None', 'sg': 'True'}
    """
    flat = {}
    for key, value in parameters.items():
        text = redact(",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value))
        flat[key] = text if len(text) <= MAX_PARAM_CHARS else text[: MAX_PARAM_CHARS - 3] + "..."
    return flat


def run_tags(run: RunSection) -> dict[str, str]:
    """MLflow tags of a run: the user's tags, the git commit (MLflow's own key), the Ray job.

    >>> run_tags(RunSection(tags=["news"], git_commit="abc", ray_job_id="01000000"))["mlflow.source.git.commit"]
    'abc'
    """
    tags = {tag: "true" for tag in run.tags}
    if run.tags:
        tags["w2v.tags"] = ",".join(run.tags)
    found = {"mlflow.source.git.commit": run.git_commit, "w2v.ray_job_id": run.ray_job_id,
             "w2v.ray_submission_id": run.ray_submission_id, "w2v.host": run.host}
    return {**tags, **{k: v for k, v in found.items() if v}}


def evaluation_metrics(evaluation: EvaluationSummary) -> list[tuple[str, float, int]]:
    """(key, value, step 0) of the evaluation's headline numbers; a None score (all OOV) is left out.

    >>> evaluation_metrics(EvaluationSummary(analogies={"q.txt": {"3CosAdd": 0.5, "oov_ratio": 2.0}}))
    [('eval/q.txt/3CosAdd', 0.5, 0), ('eval/q.txt/oov_ratio', 2.0, 0)]
    """
    metrics = [(f"eval/{name}/{key}", value, 0) for source in (evaluation.analogies, evaluation.pairs)
               for name, scores in source.items() for key, value in scores.items() if value is not None]
    if evaluation.seconds is not None:
        metrics.append(("eval/seconds", evaluation.seconds, 0))
    return metrics
