"""The counting pass's outcome, kept beside the checkpoints so that `--resume` does not read the corpus again.

Counting is a full read of the corpus (tens of GB from S3 for a real job). A resumed job needs
what it found, not the text: the vocabulary in row order (the checkpoint's rows), the phrases the
text was joined with, each shard's word count (it sizes each actor's epoch) and the words left
out (`--save-training-state`). The job writes them once, before training, as `counted.json.gz` in
the checkpoint location; `--resume` uses them when they were written for the same parameters and
the same files (`checkpoint.fingerprint`: names, sizes and times), and counts again otherwise.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import os
import shutil
import zlib
from dataclasses import dataclass
from typing import Any, Mapping

from . import phrases, storage
from .errors import StorageError
from .vocab import ShardCount, Vocabulary

logger = logging.getLogger(__name__)

FILE = "counted.json.gz"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Counted:
    """What the counting pass found, as a resumed job needs it."""

    fingerprint: Mapping[str, Any]  # `fingerprint` of the job that counted: parameters, files, the parent's manifest
    vocab: Vocabulary  # row order, counts, totals and phrases
    shard_counts: tuple[ShardCount, ...]  # per shard: words, sentences, ... (no word tables)
    dropped: Mapping[str, int] | None = None  # word -> count of counted words left out (--save-training-state)

    def to_json(self) -> dict[str, Any]:
        vocab = {f.name: getattr(self.vocab, f.name) for f in dataclasses.fields(Vocabulary) if f.name != "phrasing"}
        phrasing = self.vocab.phrasing
        return {"format_version": FORMAT_VERSION, "identity": dict(self.fingerprint), "vocabulary": vocab,
                "phrases": {"settings": phrasing.settings(), "tsv": phrases.tsv_bytes(phrasing).decode("utf-8")}
                if phrasing else None,
                "shards": [{**dataclasses.asdict(sc), "counts": {}} for sc in self.shard_counts],
                "dropped": dict(self.dropped) if self.dropped is not None else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Counted":
        """The record `to_json` wrote (ValueError for another format or a damaged one).

        >>> v = Vocabulary(("a", "b"), (3, 2), 2, 7, 4)
        >>> c = Counted({"corpus": "x"}, v, (ShardCount("s", 7, 1, 4, {}),), {"z": 1})
        >>> Counted.from_json(json.loads(json.dumps(c.to_json()))) == c
        True
        """
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format_version {data.get('format_version')!r}, expected {FORMAT_VERSION}")
        try:
            fields = dict(data["vocabulary"])
            fields["words"], fields["counts"] = tuple(fields["words"]), tuple(fields["counts"])
            listed = data.get("phrases")
            phrasing = phrases.from_tsv(listed["tsv"].encode("utf-8"), listed["settings"]) if listed else None
            vocab = Vocabulary(**fields, phrasing=phrasing)
            shard_counts = tuple(ShardCount(**sc) for sc in data["shards"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"missing or unexpected field ({exc})") from None
        return cls(fingerprint=data["identity"], vocab=vocab, shard_counts=shard_counts, dropped=data.get("dropped"))


def fingerprint(job: Mapping[str, Any], parent_manifest_sha256: str | None) -> dict[str, Any]:
    """What a record must have been written for: the job's `checkpoint.fingerprint` (parameters and files) and,
    with --init-from, the parent's manifest (a parent republished at the same URI holds other words)."""
    return {**job, "parent": parent_manifest_sha256}


def write(location: str, counted: Counted) -> None:
    """Publish the record in the checkpoint location; one that cannot be written is a warning (it only saves
    a later `--resume` a pass over the corpus)."""
    staging = None
    try:
        staging = storage.staging_dir(location)
        with gzip.open(os.path.join(staging, FILE), "wt", encoding="utf-8") as f:
            json.dump(counted.to_json(), f)
        storage.publish(staging, location, [FILE], last=FILE)
    except (OSError, StorageError) as exc:
        logger.warning("the counting pass's outcome could not be written to %s (%s): a --resume would count "
                       "the corpus again", location, getattr(exc, "strerror", None) or exc)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def read(location: str, fingerprint: Mapping[str, Any]) -> Counted | None:
    """The record in `location` when it was written for this `fingerprint` (parameters and files), else None."""
    where = storage.join(location, FILE)
    if not storage.exists(where):
        return None
    try:
        with storage.open(where, "rb") as f:  # decompressed on the way, by its extension (smart_open)
            data = json.loads(f.read().decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        counted = Counted.from_json(data)
    except (OSError, StorageError, ValueError, EOFError, zlib.error) as exc:
        logger.warning("ignoring %s: %s; counting the corpus again", where, exc)
        return None
    if counted.fingerprint != json.loads(json.dumps(fingerprint)):  # as JSON holds it (tuples are lists there)
        logger.info("%s was written for other parameters or files: counting the corpus again", where)
        return None
    return counted
