"""One exception family per stage, so the CLI can turn any of them into one readable line.

Every message names the file, URI, key or parameter that was wrong: a user reading only the
last line of a job log must know what to fix.
"""


class W2VError(Exception):
    """Base of every error w2v raises on purpose (bad input, bad config, bad artifact)."""


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
