"""One exception family per stage, so the CLI can turn any of them into one readable line.

Every message names the file, URI, key or parameter that was wrong: a user reading only the
last line of a job log must know what to fix. Each family carries the exit code `w2v` ends with
(`EXIT_CODES`, the table in README's "Command line"), so a script can tell bad input, which
retrying will not fix, from an unreachable cluster, which it may.
"""

EXIT_BAD_INPUT = 2  # bad arguments, config, corpus, output location or artifact (argparse uses 2 too)
EXIT_CLUSTER = 3  # the Ray cluster or its Jobs API cannot be reached
EXIT_TRAINING = 4  # training failed (an actor failed for good, the weights diverged)
EXIT_EVALUATION = 5  # the evaluation failed; a training job has published its vectors anyway


class W2VError(Exception):
    """Base of every error w2v raises on purpose (bad input, bad config, bad artifact)."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(W2VError):
    """A parameter or config key is unknown, of the wrong type, or impossible."""


class CorpusError(W2VError):
    """A corpus path is missing, empty, unreadable, not UTF-8 or a corrupt archive."""


class BadShardError(CorpusError):
    """A corpus file is a corrupt or truncated archive: `--on-bad-shard skip` may leave it out."""


class StorageError(W2VError):
    """A location cannot be listed, read or written (missing, exists already, denied)."""


class ArtifactError(W2VError):
    """An artifact is incomplete (no manifest) or does not match its manifest's checksums."""


class EvaluationError(W2VError):
    """An evaluation file (analogies, word pairs) is missing or malformed, or a query word is unknown."""


class MissingExtraError(W2VError, ImportError):
    """An optional dependency is not installed; the message names the pip extra that brings it (`extras`).

    Also an ImportError: what the import itself would have raised, so code that catches that still does.
    """


class ClusterError(W2VError):
    """The Ray cluster or its Jobs API cannot be reached (wrong address, down, refused)."""

    exit_code = EXIT_CLUSTER


class TrainingError(W2VError, RuntimeError):
    """Training failed after it started: an actor failed for good, or the weights stopped being finite.

    Also a RuntimeError: what `train` raised before, so callers that catch that (jobs/benchmark.py) still do.
    """

    exit_code = EXIT_TRAINING


class EvaluationFailedError(W2VError):
    """The evaluation itself failed (TensorFlow, its Ray task), not its input: see EvaluationError for that."""

    exit_code = EXIT_EVALUATION


# exit code -> what it means, as README's "Command line" lists it (0 is success, 1 an unexpected crash).
EXIT_CODES = {EXIT_BAD_INPUT: "bad arguments or bad input",
              EXIT_CLUSTER: "the Ray cluster or its Jobs API cannot be reached",
              EXIT_TRAINING: "training failed", EXIT_EVALUATION: "the evaluation failed"}


def one_line(exc: BaseException) -> str:
    """The error's type and the first line of its message; the original error's when Ray wrapped it.

    A Ray task error's own text is a remote traceback: the cause is what a person needs.

    >>> one_line(ValueError("k must be at most 5\\nmore detail"))
    'ValueError: k must be at most 5'
    """
    cause = getattr(exc, "cause", None)
    exc = cause if isinstance(cause, BaseException) else exc
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
