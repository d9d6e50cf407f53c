"""One exception family per stage, so the CLI can turn any of them into one readable line.

Every message names the file, URI, key or parameter that was wrong: a user reading only the
last line of a job log must know what to fix. Each family carries the exit code `w2v` ends with
(`EXIT_CODES`, the table in README's "Command line"), so a script can tell bad input, which
retrying will not fix, from an unreachable cluster, which it may.
"""

import contextlib
import signal
import sys

from .display import redact

EXIT_BAD_INPUT = 2  # bad arguments, config, corpus, output location or artifact (argparse uses 2 too)
EXIT_CLUSTER = 3  # the Ray cluster or its Jobs API cannot be reached, or lacks the nodes or GPUs asked for
EXIT_TRAINING = 4  # training failed (an actor failed for good, the weights diverged)
EXIT_EVALUATION = 5  # the evaluation failed; a training job has published its vectors anyway
EXIT_UNAVAILABLE = 6  # storage failed for now: a full disk or quota, a server's 5xx or throttling after every retry


class W2VError(Exception):
    """Base of every error w2v raises on purpose (bad input, bad config, bad artifact).

    Its message is redacted (`display.redact`) as it is made: a URI's userinfo or a presigned URL's signature
    never reaches a terminal, a log or a caller's traceback, wherever the error is raised or shown.
    """

    exit_code = EXIT_BAD_INPUT
    resumable = False  # True for the failures after which `--resume` continues: the CLI prints that command

    def __init__(self, *args, **kwargs):
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args), **kwargs)


class ConfigError(W2VError):
    """A parameter or config key is unknown, of the wrong type, or impossible."""


class CorpusError(W2VError):
    """A corpus path is missing, empty, unreadable, not UTF-8 or a corrupt archive."""


class BadShardError(CorpusError):
    """A corpus file is a corrupt or truncated archive: `--on-bad-shard skip` may leave it out."""


class StorageError(W2VError):
    """A location cannot be listed, read or written (missing, exists already, denied)."""


class StorageUnavailableError(StorageError):
    """Storage failed for now, not the input: a full disk or quota, a server's 5xx or throttling after every
    retry, a connection that kept breaking. Freeing space or retrying later may fix it (exit 6, not 2)."""

    exit_code = EXIT_UNAVAILABLE


class ArtifactError(W2VError):
    """An artifact is incomplete (no manifest) or does not match its manifest's checksums."""


class EvaluationError(W2VError):
    """An evaluation file (analogies, word pairs) is missing or malformed, or a query word is unknown."""


class MissingExtraError(W2VError, ImportError):
    """An optional dependency is not installed; the message names the pip extra that brings it (`extras`).

    Also an ImportError: what the import itself would have raised, so code that catches that still does.
    """


class ClusterError(W2VError):
    """The Ray cluster or its Jobs API cannot be reached (wrong address, down, refused), or the cluster has
    too few nodes, CPUs or GPUs for what the job asks (`--actors`, `--eval-gpus`), or an embedded Ray cannot
    start (twice): waiting might fix it."""

    exit_code = EXIT_CLUSTER


class TrainingError(W2VError, RuntimeError):
    """Training failed after it started: an actor failed for good, or the weights stopped being finite.

    Also a RuntimeError: what `driver.train` raised before, so callers that catch that (jobs/benchmark.py) still do.
    """

    exit_code = EXIT_TRAINING


class ResumableTrainingError(TrainingError):
    """Training failed, but a checkpoint of this job exists (written on the way out, or before): `--resume`
    continues from it."""

    resumable = True


class TrainingStopped(W2VError):
    """The driver was told to stop (SIGINT, SIGTERM) and stopped after a checkpoint, so `--resume` continues.

    Its exit code is the shell's for the signal (128 + its number: 130 for Ctrl-C, 143 for SIGTERM).
    """

    resumable = True  # the CLI adds the command that continues the job

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


class StoppedAtOnce(KeyboardInterrupt):
    """A second stop signal (SIGINT, SIGTERM): the driver stops where it is, without a new checkpoint.

    A KeyboardInterrupt, not a W2VError, so that no `except Exception` on the way (in Ray, in a retry)
    swallows it; the CLI prints its one line and exits with the shell's code for the signal.
    """

    def __init__(self, signum: int):
        name = signal.Signals(signum).name
        super().__init__(f"stopped at once by {name} (sent twice): no new checkpoint; the checkpoints written so far "
                         f"are kept for --resume")
        self.exit_code = 128 + signum


class EvaluationFailedError(W2VError):
    """The evaluation itself failed (TensorFlow, its Ray task), not its input: see EvaluationError for that."""

    exit_code = EXIT_EVALUATION


# exit code -> what it means, as README's "Command line" lists it (0 is success, 1 an unexpected crash).
EXIT_CODES = {EXIT_BAD_INPUT: "bad arguments or bad input",
              EXIT_CLUSTER: "the Ray cluster or its Jobs API cannot be reached, or it lacks what the job asks for",
              EXIT_TRAINING: "training failed", EXIT_EVALUATION: "the evaluation failed",
              EXIT_UNAVAILABLE: "storage failed for now (a full disk, a server's 5xx after retries): free space or "
                                "retry",
              130: "stopped by Ctrl-C (SIGINT) after writing a checkpoint, or at once when sent twice",
              143: "stopped by SIGTERM after writing a checkpoint, or at once when sent twice"}


@contextlib.contextmanager
def training_failures():
    """A failure of training itself becomes TrainingError (exit 4); a W2VError (bad input, the cluster) stays.

    Training fails as RuntimeError (an actor gone for good, a restart that did not come back),
    FloatingPointError (the weights stopped being finite) or Ray's own errors (an actor that died
    while it spooled its shards); anything else is a bug and keeps its traceback.

    >>> with training_failures():
    ...     raise FloatingPointError("the summed 'vectors' deltas are not finite")
    Traceback (most recent call last):
    w2v.errors.TrainingError: training failed: FloatingPointError: the summed 'vectors' deltas are not finite
    """
    try:
        yield
    except W2VError:
        raise
    except Exception as exc:
        ray_errors = sys.modules.get("ray.exceptions")  # imported whenever Ray ran: no Ray, no Ray error
        if isinstance(exc, (RuntimeError, FloatingPointError)) or (ray_errors and isinstance(exc, ray_errors.RayError)):
            raise TrainingError(f"training failed: {one_line(exc)}") from exc
        raise


def one_line(exc: BaseException) -> str:
    """The error's type and the first line of its message; the original error's when Ray wrapped it.

    A Ray task error's own text is a remote traceback: the cause is what a person needs.

    >>> one_line(ValueError("k must be at most 5\\nmore detail"))
    'ValueError: k must be at most 5'
    """
    cause = getattr(exc, "cause", None)
    exc = cause if isinstance(cause, BaseException) else exc
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
