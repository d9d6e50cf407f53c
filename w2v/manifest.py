"""The artifact's `manifest.json`: its sections as typed records, its format version, who made it.

The job builds a `Manifest` from what its stages returned (`build`), `export` writes it last
(adding `files`: the sha256 of every other file), and every reader (`w2v info`, the report, the
model card, `w2v publish`, `w2v.load`, the benchmark) goes through `Manifest.from_json`, which
reads any manifest this format version describes, old or partial ones included: a section the
file lacks is None, a key it lacks is the field's default, and keys a reader does not know are
kept (`extra`) and written back as they were.

Layout (format 1; new optional sections and keys keep the version, a changed meaning bumps it)::

    format_version  1
    created         ISO 8601, UTC, to the second
    run             who and what made it: --name, --tags, the Ray job (and submission) id, git commit
    parameters      the TrainConfig as JSON (a --config file: `w2v train --config` reads it back)
    corpus          shards (uri, bytes, mtime, words, ...), words, sentences, bad lines, skipped shards
    vocabulary      size, distinct words, effective min_count, what the counting bound pruned
    vector_size     D
    training        words, seconds, words/s, exchanges, sync share, per-actor and per-epoch numbers (words/s,
                    epoch_loss, sync share: `epoch_losses` reads older manifests' running `loss` too)
    evaluation      the headline numbers of eval.json (or its error), None without an evaluation
    versions        libraries that shape the vectors
    plan            what the job announced before training
    timings         seconds per stage
    lineage         reserved: where the artifact came from (a parent artifact), absent until used
    files           name -> {bytes, sha256} of every other file (written by export)

This module does not read or write storage: `export` does.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import formats
from .training_stats import STATS_FIELDS, TrainingStats

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
EVAL_JSON = "eval.json"  # the evaluation's whole result, beside the manifest (its headline numbers are in it)


def _from_json(cls, data: dict[str, Any] | None):
    """A section record from its JSON: known keys by name, the others kept in `extra` (when it has one).

    >>> _from_json(VocabularySection, {"size": 3, "max_vocab_size": None}).extra
    {'max_vocab_size': None}
    """
    if data is None:
        return None
    names = {f.name for f in dataclasses.fields(cls) if f.init} - {"extra"}
    known = {k: v for k, v in data.items() if k in names}
    if "extra" in {f.name for f in dataclasses.fields(cls)}:
        known["extra"] = {k: v for k, v in data.items() if k not in names}
    return cls(**known)


def _to_json(record) -> dict[str, Any]:
    """A section record as JSON: its fields in order, then `extra`'s keys."""
    data = {f.name: getattr(record, f.name) for f in dataclasses.fields(record) if f.name != "extra"}
    return {**data, **getattr(record, "extra", {})}


@dataclass
class RunSection:
    """Who and what made the artifact: given by the user (`name`, `tags`) or found (`ray_*`, `git_*`)."""

    name: str | None = None  # --name
    tags: list[str] = field(default_factory=list)  # --tags
    ray_job_id: str | None = None  # the Ray driver's job id (hex), when Ray ran the job
    ray_submission_id: str | None = None  # the Jobs API submission id (`ray job submit`, `w2v submit`), else None
    git_commit: str | None = None  # HEAD of the working directory's repository, None outside one or without git
    git_dirty: bool | None = None  # uncommitted changes to tracked files at that commit
    host: str | None = None  # the driver's host name


@dataclass
class CorpusSection:
    """What was read: one record per shard (skipped ones too), and the totals."""

    shards: list[dict[str, Any]] = field(default_factory=list)  # uri, bytes, mtime, words, sentences, ...
    bytes: int = 0
    words: int = 0  # every word read, before the vocabulary rules
    kept_words: int = 0  # words of the vocabulary's words
    sentences: int = 0
    bad_lines: int = 0  # lines with bytes that were not UTF-8 (see unicode_errors)
    unicode_errors: str = "strict"
    skipped_shards: list[str] = field(default_factory=list)  # empty files, corrupt ones under --on-bad-shard skip
    extra: dict[str, Any] = field(default_factory=dict)  # keys a newer writer added


@dataclass
class VocabularySection:
    size: int = 0  # V: rows of vectors.npy
    distinct_words: int = 0  # before min_count and max_final_vocab
    effective_min_count: int | None = None  # min_count as max_final_vocab raised it
    retained_words: int = 0  # corpus words that are in the vocabulary
    extra: dict[str, Any] = field(default_factory=dict)  # the counting bound: max_vocab_size, pruned_*


@dataclass
class ResumedFrom:
    """The checkpoint a `--resume` job continued from."""

    checkpoint: int
    epoch: int
    words_done: int
    # Words the stopped job's actors had trained past the checkpoint when it was written, trained again now
    # (a driver killed later also lost what it trained after it, at most one --checkpoint-interval: unknown).
    # None: a manifest from before it was counted.
    words_retrained: int | None = None
    # False: the counting pass's outcome came from the checkpoint location (`counted`), the corpus was read only
    # to train; True: it was counted again (files cut otherwise, a record from another job). None: an old manifest.
    corpus_counted_again: bool | None = None


@dataclass
class TrainingSection(TrainingStats):
    """`driver.TrainResult` as the manifest keeps it: the run's counters (`training_stats.TrainingStats`, read by
    name), then the per-actor and per-epoch lists; keys a newer writer added stay in `extra`.

    A counter that an older manifest lacks reads as its default and is not written back (`recorded`).
    """

    actors: list[dict[str, Any]] = field(default_factory=list)  # per actor: node, shards, seconds, memory
    # Per epoch: epoch, words, seconds, words_per_s, epoch_loss (`loss`, a running total, in older manifests:
    # read both with `epoch_losses`), and with 2+ actors sync_share (absent in manifests written before it was
    # recorded per epoch: readers fall back on the run's `shown_sync_share`).
    epochs: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: ResumedFrom | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # counters a newer writer added
    # The counters the manifest read lacked (`from_json`), left out when written back while still at their default.
    absent: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    @property
    def shown_sync_share(self) -> float | None:
        """The sync share to draw or log: None when nothing was exchanged (one actor)."""
        return self.sync_share if self.exchanges else None

    def recorded(self, name: str) -> bool:
        """Whether the manifest has counter `name` (one older than the counter has its default instead)."""
        return name not in self.absent

    @classmethod
    def of(cls, stats: TrainingStats, actors: list[dict[str, Any]], epochs: list[dict[str, Any]],
           resumed_from: ResumedFrom | None) -> "TrainingSection":
        """The section of a run that just ended."""
        return cls(**{name: getattr(stats, name) for name in STATS_FIELDS}, actors=actors, epochs=epochs,
                   resumed_from=resumed_from)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> "TrainingSection | None":
        section = _from_json(cls, data)
        if section is None:
            return None
        if isinstance(section.resumed_from, dict):
            section.resumed_from = ResumedFrom(**section.resumed_from)
        section.absent = frozenset(STATS_FIELDS) - set(data)
        return section

    def to_json(self) -> dict[str, Any]:
        defaults = TrainingStats()
        counters = {name: getattr(self, name) for name in STATS_FIELDS
                    if name not in self.absent or getattr(self, name) != getattr(defaults, name)}
        resumed = {k: v for k, v in dataclasses.asdict(self.resumed_from).items()
                   if v is not None} if self.resumed_from else None  # an old one's fields only
        # the counters first, the long lists last (as before)
        return {**counters, **self.extra, "actors": self.actors, "epochs": self.epochs, "resumed_from": resumed}


def epoch_losses(epochs: list[dict[str, Any]]) -> list[float | None]:
    """Each epoch's training loss (gensim's, summed over the actors) of `training.epochs` entries, in order.

    Entries have `epoch_loss`; manifests written before it have `loss`, gensim's running total over
    the run, whose differences are the epochs' losses. None where an entry has neither.

    >>> epoch_losses([{"epoch_loss": 5.0}, {"epoch_loss": 4.0}]), epoch_losses([{"loss": 5.0}, {"loss": 9.0}])
    ([5.0, 4.0], [5.0, 4.0])
    """
    losses, previous = [], 0.0
    for e in epochs:
        if "epoch_loss" in e or e.get("loss") is None:
            losses.append(e.get("epoch_loss"))
        else:
            losses.append(e["loss"] - previous)
            previous = e["loss"]
    return losses


@dataclass
class EvaluationSummary:
    """The evaluation's headline numbers (the whole of it is eval.json), or why it failed."""

    file: str | None = None  # eval.json
    seconds: float | None = None
    analogies: dict[str, dict[str, Any]] = field(default_factory=dict)  # file -> {method: accuracy, oov_ratio}
    pairs: dict[str, dict[str, Any]] = field(default_factory=dict)  # file -> {spearman, oov_ratio}
    error: str | None = None  # the evaluation failed: the vectors were published anyway
    report_error: str | None = None  # report.md could not be drawn
    extra: dict[str, Any] = field(default_factory=dict)  # other headline numbers of `summary`

    @classmethod
    def of(cls, evaluation: dict[str, Any] | None, error: str | None = None) -> "EvaluationSummary | None":
        """The manifest's `evaluation` section of an evaluation's outcome (the one place it is built): its
        headline numbers from eval.json's content, the error when it failed, None when none ran.

        >>> EvaluationSummary.of({"runtime": {"seconds": 2.5}}).to_json()
        {'file': 'eval.json', 'seconds': 2.5, 'analogies': {}, 'pairs': {}}
        >>> EvaluationSummary.of(None, "ValueError: no GPU").to_json(), EvaluationSummary.of(None)
        ({'error': 'ValueError: no GPU'}, None)
        """
        if error:
            return cls(error=error)
        return _from_json(cls, {"file": EVAL_JSON, **summary(evaluation)}) if evaluation else None

    def to_json(self) -> dict[str, Any]:
        if self.error:
            return {"error": self.error}
        data = {"file": self.file, "seconds": self.seconds, "analogies": self.analogies, "pairs": self.pairs}
        return {**data, **self.extra, **({"report_error": self.report_error} if self.report_error else {})}


@dataclass
class Manifest:
    """Every section of manifest.json; `to_json` is what is written, `from_json` what every reader reads."""

    created: str = ""
    run: RunSection | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # TrainConfig.to_json()
    corpus: CorpusSection | None = None
    vocabulary: VocabularySection | None = None
    vector_size: int | None = None
    training: TrainingSection | None = None
    evaluation: EvaluationSummary | None = None
    versions: dict[str, str] = field(default_factory=dict)  # library -> version
    gensim_fast_version: int | None = None  # gensim's compiled routines (-1: pure Python, ~100x slower)
    plan: dict[str, Any] = field(default_factory=dict)  # plan.Plan.to_json()
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    phrases: dict[str, Any] | None = None  # the phrase settings and counts (phrases.Phrasing.settings); omitted when None
    parent: dict[str, Any] | None = None  # --init-from: the parent artifact (lineage.lineage_section); omitted when None
    training_state: dict[str, Any] | None = None  # --save-training-state: its files (lineage.state_section)
    lineage: dict[str, Any] | None = None  # reserved for where the artifact came from; omitted when None
    # The tasks Ray ran more than once (counting, merging, evaluation: `retries.Ledger.to_json`); the
    # trainer actors' faults are `training.faults`. Absent in manifests written before it was recorded.
    faults: dict[str, Any] | None = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {bytes, sha256}, by export
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Manifest":
        """Read a manifest dict (any format-1 manifest, partial ones too: absent sections are None)."""
        evaluation = data.get("evaluation")
        return cls(
            created=data.get("created", ""), run=_from_json(RunSection, data.get("run")),
            parameters=data.get("parameters") or {}, corpus=_from_json(CorpusSection, data.get("corpus")),
            vocabulary=_from_json(VocabularySection, data.get("vocabulary")), vector_size=data.get("vector_size"),
            training=TrainingSection.from_json(data.get("training")),
            evaluation=_from_json(EvaluationSummary, evaluation) if evaluation else None,
            versions=data.get("versions") or {}, gensim_fast_version=data.get("gensim_fast_version"),
            plan=data.get("plan") or {}, timings=data.get("timings") or {}, phrases=data.get("phrases"),
            parent=data.get("parent"), training_state=data.get("training_state"),
            lineage=data.get("lineage"), faults=data.get("faults"),
            files=data.get("files") or {}, format_version=data.get("format_version", FORMAT_VERSION))

    def to_json(self) -> dict[str, Any]:
        """The manifest as written (without `files` until export adds them)."""
        data = {
            "format_version": self.format_version, "created": self.created,
            "run": _to_json(self.run) if self.run else None, "parameters": self.parameters,
            "corpus": _to_json(self.corpus) if self.corpus else None,
            "vocabulary": _to_json(self.vocabulary) if self.vocabulary else None,
            "vector_size": self.vector_size, "training": self.training.to_json() if self.training else None,
            "evaluation": self.evaluation.to_json() if self.evaluation else None, "versions": self.versions,
            "gensim_fast_version": self.gensim_fast_version, "plan": self.plan, "timings": self.timings,
        }
        for name in ("phrases", "parent", "training_state", "faults"):  # optional sections: absent when unused
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.lineage is not None:
            data["lineage"] = self.lineage
        if self.files:
            data["files"] = self.files
        return data


def now() -> str:
    """The `created` time: ISO 8601, UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------- the run


def run_section(name: str | None, tags: tuple[str, ...] | list[str], cwd: str | None = None) -> RunSection:
    """The `run` section of this process: the user's name and tags, what Ray and git say about the job.

    Never fails: outside Ray, outside a git repository or without git, those fields are None.
    """
    import socket

    job_id, submission_id = ray_job()
    commit, dirty = git_commit(cwd)
    return RunSection(name=name, tags=list(tags), ray_job_id=job_id, ray_submission_id=submission_id,
                      git_commit=commit, git_dirty=dirty, host=socket.gethostname())


def ray_job() -> tuple[str | None, str | None]:
    """(job id, submission id) of the Ray driver this process is; (None, None) when Ray is not running.

    The job id is the runtime context's; the submission id is set only for a job submitted
    through the Jobs API (`ray job submit`, `w2v submit`): its supervisor passes the job's
    metadata to the driver in RAY_JOB_CONFIG_JSON_ENV_VAR, under `job_submission_id`.
    """
    import json
    import sys

    submission_id = None
    try:
        metadata = json.loads(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR", "{}")).get("metadata") or {}
        submission_id = metadata.get("job_submission_id") or None
    except (ValueError, AttributeError):
        pass
    submission_id = submission_id or os.environ.get("RAY_JOB_SUBMISSION_ID") or None  # older Ray releases
    job_id = None
    ray = sys.modules.get("ray")  # never imported here: a process without Ray has no Ray job
    if ray is not None and ray.is_initialized():
        try:
            job_id = ray.get_runtime_context().get_job_id()
        except Exception as exc:  # a field of provenance is not worth failing a published job
            logger.info("no Ray job id: %s", exc)
    return job_id, submission_id


def git_commit(cwd: str | None = None) -> tuple[str | None, bool | None]:
    """(HEAD commit, dirty) of the git repository holding `cwd` (default: the working directory).

    (None, None) outside a repository, without git, or when git does not answer within 10 s.
    """
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=cwd or os.getcwd(), capture_output=True, text=True,
                                  timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--verify", "HEAD")
    if not commit:
        return None, None
    status = git("status", "--porcelain", "--untracked-files=no")
    return commit, (bool(status) if status is not None else None)


def versions() -> dict[str, str]:
    """Library versions that shape the vectors, for the manifest."""
    import gensim
    import numpy
    import ray
    import smart_open

    from .version import __version__

    return {"w2v": __version__, "python": platform.python_version(), "gensim": gensim.__version__,
            "numpy": numpy.__version__, "ray": ray.__version__, "smart_open": smart_open.__version__}


# ---------------------------------------------------------------------- the job's manifest


def summary(evaluation: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of an evaluation (eval.json's content), for the manifest's `evaluation` section.

    >>> summary({"runtime": {"seconds": 2.5}, "pairs": [{"file": "p.tsv", "spearman": 0.5, "oov_ratio": 1.0}]})
    {'seconds': 2.5, 'analogies': {}, 'pairs': {'p.tsv': {'spearman': 0.5, 'oov_ratio': 1.0}}}
    """
    return {
        "seconds": evaluation["runtime"]["seconds"],
        "analogies": {a["file"]: {**{m: a["total"][m]["accuracy"] for m in a["methods"]}, "oov_ratio": a["oov_ratio"]}
                      for a in evaluation.get("analogies", [])},
        "pairs": {p["file"]: {"spearman": p["spearman"], "oov_ratio": p["oov_ratio"]}
                  for p in evaluation.get("pairs", [])},
    }


def build(config, shards, shard_counts, skipped, vocab, plan, result, resumed, evaluation: dict[str, Any] | None,
          eval_error: str | None, timings: dict[str, float], run: RunSection) -> Manifest:
    """The manifest of a finished job, from what its stages returned.

    `config` a TrainConfig; `shards` every listed corpus.Shard; `shard_counts` the vocab.ShardCount
    of each (skipped ones too); `vocab` the Vocabulary; `plan` the plan.Plan; `result` the
    driver.TrainResult; `resumed` the checkpoint.Checkpoint continued from (or None); `evaluation`
    eval.json's content or None, `eval_error` why it failed; `timings` stage -> seconds so far
    (the export is not timed: the manifest is written within it).
    """
    from .trainer import gensim_fast_version

    by_uri = {s.name: s for s in shards}
    read_as = lambda s: formats.read_as(s.member or s.uri, config.text_field)  # noqa: E731 - text, jsonl or parquet
    return Manifest(
        created=now(), run=run, parameters=config.to_json(),
        corpus=CorpusSection(
            shards=[{**sc.summary(), "format": read_as(by_uri[sc.uri]), "bytes": by_uri[sc.uri].size, "mtime": by_uri[sc.uri].mtime,
                     **by_uri[sc.uri].version()}  # etag / last_modified where the store gives them
                    for sc in shard_counts],
            bytes=plan.bytes, words=vocab.raw_words, kept_words=vocab.retained_words,
            sentences=sum(sc.sentences for sc in shard_counts), bad_lines=sum(sc.bad_lines for sc in shard_counts),
            unicode_errors=config.unicode_errors, skipped_shards=sorted(skipped),
            # in `extra`, so manifests written before the formats existed read and write back unchanged
            extra={"text_field": config.text_field, "formats": dict(Counter(map(read_as, shards)))}),
        vocabulary=VocabularySection(size=len(vocab), distinct_words=vocab.raw_distinct,
                                     effective_min_count=vocab.effective_min_count,
                                     retained_words=vocab.retained_words, extra=vocab.pruning()),
        vector_size=config.vector_size,
        training=TrainingSection.of(
            result.stats, result.actors, result.epochs,
            ResumedFrom(checkpoint=resumed.number, epoch=resumed.epoch, words_done=resumed.position.words_done,
                        words_retrained=resumed.position.words_trained_past) if resumed else None),
        evaluation=EvaluationSummary.of(evaluation, eval_error),
        versions={**versions(), **({"tensorflow": evaluation["runtime"]["tensorflow"]} if evaluation else {})},
        gensim_fast_version=gensim_fast_version(), plan=plan.to_json(),
        timings={**timings, "total_before_export": round(sum(timings.values()), 3)},
    )

