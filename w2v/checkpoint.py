"""Checkpoints: the combined weights and the training position, written so a crash never half-writes one.

A checkpoint is two files in the checkpoint location (`TrainConfig.checkpoint_location`, beside
the artifact by default): `ckpt-000007.npz` (the global matrices) and `ckpt-000007.json` (the
position, the job's fingerprint and the npz's sha256). Both are staged locally and published through
`storage` with the JSON last, so a checkpoint is complete exactly when its JSON exists and the
npz matches its checksum; anything else is ignored and the one before is used.

The position is the round (chunk of all epochs) of an exchange that moved every row, per actor
(a lone actor: the rounds of the live snapshot of its weights), with the words done and the
learning rate there: a resumed job starts every actor at that round
from these weights, so nothing before it is trained again. The random state is gensim's seed: a
restarted model draws from the same seeded generator.

`driver` calls a `Checkpointer` (or the do-nothing `NullCheckpointer`); `pipeline` builds it and reads
the last checkpoint back for `--resume`. This module does not train or place actors.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import time
import zipfile
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import counted, export, storage
from .config import RESUME_KEYS, TrainConfig
from .errors import ConfigError, StorageError
from .rounds import Position

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
KEEP = 2  # checkpoints kept: the newest, and the one before in case the newest is damaged
_NAME = re.compile(r"^ckpt-(\d{6,})\.json$")


@dataclass(frozen=True)
class Checkpoint:
    """One complete checkpoint as read back."""

    number: int  # 1, 2, ... in the order written
    weights: dict[str, np.ndarray]  # "vectors", "syn1neg" and/or "syn1": the global matrices
    state: dict[str, Any]  # position ("epoch", "actor_epochs", ...) and, under "identity", the job's fingerprint

    @property
    def position(self) -> Position:
        """Where training stood (`rounds.Position`), as any checkpoint wrote it."""
        return Position.from_json(self.state["position"])

    @property
    def epoch(self) -> int:
        """Epochs every actor had completed."""
        return self.position.epoch

    def round(self, chunks: int) -> int:
        """The round (chunk of all epochs) training resumes at, with `chunks` chunks per epoch.

        The checkpoint's own round when it was cut into as many chunks, else the start of its epoch.
        """
        return self.position.round_at(chunks)


def corpus_fingerprint(shards: Sequence[Any]) -> str:
    """sha256 over every shard's (name, size, mtime): a changed, added or removed file (or zip member) changes it.

    >>> from w2v.corpus import Shard
    >>> corpus_fingerprint([Shard("a", 1, 2.0)]) == corpus_fingerprint([Shard("a", 1, 2.0)])
    True
    """
    digest = hashlib.sha256()
    for s in sorted(shards, key=lambda s: s.name):  # name: the URI, and a zip member's name
        digest.update(f"{s.name}\t{s.size}\t{s.mtime!r}\n".encode("utf-8"))
    return digest.hexdigest()


def vocabulary_fingerprint(words: Sequence[str], counts: Sequence[int]) -> str:
    """sha256 of the vocabulary in row order: a resumed job must put the same word on every row."""
    digest = hashlib.sha256()
    for w, c in zip(words, counts):
        digest.update(f"{w}\t{c}\n".encode("utf-8"))
    return digest.hexdigest()


def fingerprint(config: TrainConfig, shards: Sequence[Any]) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed: the parameters that shape vectors, the corpus."""
    return {"parameters": {k: getattr(config, k) for k in RESUME_KEYS}, "corpus": corpus_fingerprint(shards),
            "shards": len(shards)}


def check_resumable(state: dict[str, Any], expected: dict[str, Any], location: str) -> None:
    """Refuse a checkpoint of another job, naming what differs."""
    then, now = state.get("identity", {}), expected
    changed = [f"{k}: {then.get('parameters', {}).get(k)!r} in the checkpoint, {v!r} now"
               for k, v in now["parameters"].items() if then.get("parameters", {}).get(k) != v]
    if changed:
        raise ConfigError(f"--resume: the checkpoint in {location} was written with other parameters "
                          f"({'; '.join(changed)}); rerun with the same values, or without --resume")
    if then.get("corpus") != now["corpus"]:
        raise ConfigError(f"--resume: the corpus changed since the checkpoint in {location} was written "
                          f"({then.get('shards')} file(s) then, {now['shards']} now, or their sizes or times "
                          f"differ); rerun on the same files, or without --resume (with --overwrite)")
    if "vocabulary" in then and "vocabulary" in now and then["vocabulary"] != now["vocabulary"]:
        raise ConfigError(f"--resume: the vocabulary differs from the one of the checkpoint in {location}, "
                          f"although the corpus and parameters agree; rerun without --resume (with --overwrite)")


class NullCheckpointer:
    """Checkpoints switched off: never due, saves nothing; `Checkpointer`'s interface, with no location."""

    location: str | None = None  # no checkpoint directory
    number = 1  # the number the next checkpoint would have
    saved = 0  # checkpoints written
    failed = 0  # checkpoints that could not be written

    def due(self) -> bool:
        return False

    def save(self, weights: dict[str, np.ndarray], position: Position) -> None:
        pass


class Checkpointer:
    """Writes a checkpoint when `interval` seconds have passed since the last one (or the start)."""

    def __init__(self, location: str, interval: float, fingerprint: dict[str, Any], first_number: int = 1):
        self.location = location  # the checkpoint directory (local path or URI)
        self.interval = interval  # seconds between checkpoints
        self.fingerprint = fingerprint  # the job's parameters and corpus files, checked by --resume
        self.number = first_number  # the next checkpoint's number
        self.last = time.monotonic()  # when the last checkpoint was written (or the job started)
        self.saved = 0  # checkpoints written by this run
        self.failed = 0  # checkpoints that could not be written (a full disk, a denied upload)
        self.seconds = 0.0  # time spent writing them

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.interval

    def save(self, weights: dict[str, np.ndarray], position: Position) -> None:
        """Write the next checkpoint; one that cannot be written is one warning, and training goes on.

        A checkpoint is insurance: a full disk or a denied upload must not stop the job it insures
        (the last complete checkpoint, if any, is still there). The next try is one interval later.
        """
        began = time.perf_counter()
        try:
            write(self.location, self.number, weights, {"identity": self.fingerprint, "position": position.to_json()})
        except (OSError, StorageError) as exc:
            self.failed += 1
            logger.warning("checkpoint %d could not be written to %s (%s); training goes on, next try in %.0f s",
                           self.number, self.location, getattr(exc, "strerror", None) or exc, self.interval)
        else:
            logger.info("checkpoint %d written to %s: epoch %s", self.number, self.location, position.epoch)
            self.number += 1
            self.saved += 1
        self.last = time.monotonic()
        self.seconds += time.perf_counter() - began


def _names(number: int) -> tuple[str, str]:
    return f"ckpt-{number:06d}.npz", f"ckpt-{number:06d}.json"


def write(location: str, number: int, weights: dict[str, np.ndarray], state: dict[str, Any],
          keep: int = KEEP) -> None:
    """Stage the npz and the JSON, publish them JSON last, then drop checkpoints older than `keep`."""
    npz, meta = _names(number)
    staging = storage.staging_dir(location)
    try:
        with open(os.path.join(staging, npz), "wb") as f:
            np.savez(f, **{name: np.asarray(a) for name, a in weights.items()})
        sha = export.sha256_file(os.path.join(staging, npz))  # streamed: a checkpoint can be GBs
        record = {"format_version": FORMAT_VERSION, "number": number, "npz": npz, "sha256": sha,
                  "created": time.time(), **state}
        with open(os.path.join(staging, meta), "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
        storage.publish(staging, location, [npz, meta], last=meta)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for old in _numbers(location)[keep:]:
        old_npz, old_meta = _names(old)
        storage.remove(storage.join(location, old_meta))  # the JSON first: the pair stops being complete
        storage.remove(storage.join(location, old_npz))


def _numbers(location: str) -> list[int]:
    """Checkpoint numbers with a JSON in `location`, newest first."""
    found = (_NAME.match(n) for n in storage.list_names(location))
    return sorted((int(m.group(1)) for m in found if m), reverse=True)


def latest(location: str, skipped: list[str] | None = None) -> Checkpoint | None:
    """The newest complete checkpoint, or None; a damaged one is logged, and skipped (why: appended to `skipped`)."""

    def skip(number: int, why: str) -> None:
        logger.warning("ignoring checkpoint %d in %s: %s", number, location, why)
        if skipped is not None:
            skipped.append(why)

    for number in _numbers(location):
        npz, meta = _names(number)
        try:
            with storage.open(storage.join(location, meta), "rb") as f:
                state = json.loads(f.read().decode("utf-8"))
            with storage.open(storage.join(location, npz), "rb") as f:
                data = f.read()
        except (StorageError, OSError, ValueError) as exc:
            skip(number, str(exc))
            continue
        if hashlib.sha256(data).hexdigest() != state.get("sha256"):
            skip(number, f"{npz} does not match its sha256")
            continue
        try:
            weights = _weights(data)
        except (ValueError, OSError, zipfile.BadZipFile) as exc:  # checksummed, yet not what a checkpoint holds
            skip(number, f"{npz}: {exc}")
            continue
        return Checkpoint(number=number, weights=weights, state=state)
    return None


def _weights(data: bytes) -> dict[str, np.ndarray]:
    """name -> matrix of a checkpoint's .npz, without pickle; a ValueError for anything but arrays of numbers."""
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:  # an object array raises ValueError here
        weights = {name: arrays[name] for name in arrays.files}
    odd = next((name for name, a in weights.items() if a.dtype.kind not in "fiu"), None)
    if odd is not None:
        raise ValueError(f"{odd!r} holds {weights[odd].dtype} values, not numbers")
    return weights


def latest_state(location: str) -> dict[str, Any] | None:
    """The newest checkpoint's JSON (position and fingerprint) without reading its weights: a cheap check."""
    for number in _numbers(location):
        try:
            with storage.open(storage.join(location, _names(number)[1]), "rb") as f:
                return json.loads(f.read().decode("utf-8"))
        except (StorageError, OSError, ValueError) as exc:
            logger.warning("ignoring checkpoint %d in %s: %s", number, location, exc)
    return None


def exists(location: str) -> bool:
    """True when the location holds a checkpoint JSON (complete or not)."""
    return bool(_numbers(location))


def remove_all(location: str) -> None:
    """Drop every checkpoint once the artifact is published: the job is done."""
    for name in storage.list_names(location):
        if name.startswith("ckpt-") or name == counted.FILE:  # and the counting pass's outcome
            storage.remove(storage.join(location, name))
    storage.remove_dir(location)
