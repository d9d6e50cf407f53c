"""The one path from corpus to artifact: list -> vocabulary -> train -> evaluate -> export.

`run` expects Ray to be initialized (the CLI and `jobs/` do that) and returns what it wrote;
it prints nothing: the caller decides what a person sees (the stages draw progress bars only
inside a caller's `progress.shown`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from . import (checkpoint, collective, corpus, counted, driver, export, forecast, lineage, manifest, phrases,
               placement, retries, scalars, storage, sync, tracking, trainer)
from .evaluation import stage as eval_stage
from .config import TrainConfig
from .corpus import ReadOptions
from .errors import ConfigError, StorageError, training_failures
from .plan import ActorPlan, Plan, duration, calibrate, estimate_memory, estimate_train_seconds, matrix_bytes
from .vocab import Vocabulary, ShardCount, build_vocabulary

logger = logging.getLogger(__name__)


class Stopwatch:
    """Seconds per stage, written into a dict the caller keeps (stages may span functions and callers).

    `since` is when the first stage began (a `time.perf_counter()` value); default: now.
    """

    def __init__(self, timings: dict[str, float], since: float | None = None):
        self.timings = timings  # stage -> seconds
        self.clock = time.perf_counter() if since is None else since  # when the current stage began

    def lap(self, stage: str, until: float | None = None) -> None:
        """The current stage ends now (or at `until`, a `time.perf_counter()` value), and the next begins."""
        now = time.perf_counter() if until is None else until
        self.timings[stage] = round(now - self.clock, 3)
        self.clock = now


@dataclass
class JobResult:
    """What a finished job wrote."""

    out: str  # the artifact's location
    manifest: manifest.Manifest  # as written in manifest.json (`files` included)
    manifest_sha256: str  # of manifest.json's bytes: pins the artifact (`w2v.load(..., manifest_sha256=)`)
    evaluation: dict[str, Any] | None  # as written in eval.json, None with --no-eval or on error
    plan: Plan  # what the job announced before training
    timings: dict[str, float]  # seconds per stage, the export included (the manifest's stop before it)


EMPTY = "empty file"  # why an empty shard is skipped


@dataclass
class Prepared:
    """Stages 1-2 done: the shards placed on actors and the global vocabulary counted."""

    shards: list[corpus.Shard]  # every listed shard, skipped ones included (the manifest lists them)
    skipped: set[str]  # names of shards left out: empty files, corrupt ones under --on-bad-shard skip
    placement: list[dict[str, Any]]  # per actor: node_id, cpus, workers
    assignment: list[list[corpus.Shard]]  # per actor: its shards (the readable ones)
    vocab: Vocabulary
    shard_counts: list[ShardCount]
    plan: Plan
    parent: lineage.Parent | None = None  # the artifact this job continues (--init-from), or None
    dropped: dict[str, int] | None = None  # word -> count of counted words left out (--save-training-state)
    counts_reused: bool = False  # --resume took stage 2's outcome from the checkpoint location (`counted`)


def preflight(config: TrainConfig) -> list[corpus.Shard]:
    """The checks that need no cluster: the output location is free, the corpus exists and has text.

    The CLI runs them before starting Ray, so bad input fails in a second, not after start-up.
    """
    storage.configure(config.s3_settings())
    location = config.checkpoint_location
    if config.resume and not checkpoint.exists(location):
        raise ConfigError(f"--resume: there is no checkpoint in {location} (see --checkpoint-dir)")
    if not config.resume and not config.overwrite and checkpoint.exists(location):
        raise StorageError(f"{location} holds a checkpoint of an unfinished job: pass --resume to continue it, "
                           f"or --overwrite to start over")
    export.check_output(config.out, config.overwrite)
    storage.check_writable(config.out)
    if config.mlflow_uri:
        tracking.require_mlflow(config.mlflow_uri)  # not installed: one line now, not after training
    if config.init_from:  # a parent without training state, or trained otherwise, fails now (its manifest only)
        lineage.check_parent(config, config.init_from_sha256)
    shards = corpus.list_shards(config.corpus, keep_empty=True)  # empty files: left out, listed in the manifest
    corpus.check_formats(shards, config.text_field)  # --text-field missing or misplaced, pyarrow missing: now
    corpus.refuse_overlap(config.corpus, {"--out": config.out, "--checkpoint-dir": config.checkpoint_location})
    if config.resume:  # a changed corpus or parameters is refused now, not after counting
        state = checkpoint.latest_state(location)
        if state is None:
            raise ConfigError(f"--resume: no readable checkpoint in {location}")
        checkpoint.check_resumable(state, checkpoint.fingerprint(config, shards), location)
    return shards


def resume_point(config: TrainConfig, fingerprint: dict[str, Any]) -> checkpoint.Checkpoint | None:
    """The checkpoint `--resume` continues (checked against this job), or None for a fresh start.

    A fresh start with --overwrite drops the checkpoints of the job it replaces.
    """
    location = config.checkpoint_location
    if not config.resume:
        if checkpoint.exists(location):
            checkpoint.remove_all(location)
        return None
    skipped: list[str] = []  # why each damaged checkpoint was passed over, newest first
    found = checkpoint.latest(location, skipped)
    if found is None:
        raise ConfigError(f"--resume: no complete checkpoint in {location}"
                          + (f" (the newest: {skipped[0]})" if skipped else ""))
    checkpoint.check_resumable(found.state, fingerprint, location)
    return found


def checkpointer(config: TrainConfig, fingerprint: dict[str, Any], resumed: checkpoint.Checkpoint | None):
    """A Checkpointer at `checkpoint_interval`, or the do-nothing one when checkpoints are off."""
    if config.checkpoint_interval <= 0:
        return checkpoint.NullCheckpointer()
    return checkpoint.Checkpointer(config.checkpoint_location, config.checkpoint_interval, fingerprint,
                                   first_number=resumed.number + 1 if resumed else 1)


def prepare(config: TrainConfig, shards: list[corpus.Shard], timings: dict[str, float],
            reuse_counts: bool = True) -> Prepared:
    """List, place and count (stages 1-2), then compute the plan; adds each stage's seconds to `timings`.

    The counting pass reads the whole corpus on the cluster, so after it every shard is known to be
    readable and decodable, and the vocabulary size in the plan is exact. A `--resume` takes the
    stopped job's counts instead (`counted`), unless `reuse_counts` is False.
    """
    watch = Stopwatch(timings)

    if trainer.gensim_fast_version() < 0:
        logger.error("!!! gensim's compiled routines are NOT in use on the driver: "
                     "reinstall gensim from a wheel; training will be ~100x slower")
    logger.info("stage 1/5: planning %d file(s) of %s", len(shards), ", ".join(config.corpus))
    nodes = placement.wait_for_nodes(config)
    if config.eval:  # a task no node can hold would wait forever after training: refused before it
        eval_stage.check_cluster(config.eval_cpus, config.eval_gpus)
    listed = shards  # what checkpoint.fingerprint covers
    empty = [s for s in shards if s.size == 0]  # nothing to read: left out, but listed as skipped
    shards = [s for s in shards if s.size > 0]
    shards = corpus.split_shards(shards, config.actors or len(nodes) or 1, config.shard_bytes)  # byte ranges
    placed = placement.place_actors(config, nodes, len(shards))
    assignment = corpus.assign_shards(shards, len(placed))
    logger.info("%s; workers per actor: %s", corpus.assignment_summary(assignment), [n["workers"] for n in placed])
    watch.lap("list")

    parent = lineage.load_parent(config) if config.init_from else None  # checksums verified
    kept = _counted_for_resume(config, listed, shards + empty, parent) if reuse_counts else None
    if kept is not None:
        logger.info("stage 2/5: counting skipped: --resume takes the vocabulary and each shard's word count from "
                    "%s (written before training, for the same parameters and files)", config.checkpoint_location)
        vocab, dropped = kept.vocab, dict(kept.dropped) if kept.dropped is not None else None
        shard_counts = [sc for sc in kept.shard_counts if sc.skipped != EMPTY]
        options = ReadOptions.of(config, vocab.phrasing)
    else:
        vocab, shard_counts, dropped, options = _count(config, shards, parent, watch)
    if parent:
        logger.info("vocabulary: %d word(s) of %s keep their rows, %d new word(s) follow", vocab.inherited,
                    parent.uri, len(vocab) - vocab.inherited)
    corrupt = {sc.uri for sc in shard_counts if sc.skipped}  # shard names (byte ranges say #bytes=...)
    good = [s for s in shards if s.name not in corrupt]
    if corrupt:  # --on-bad-shard skip: train on the good shards only
        placed = placed[: len(good)]
        assignment = corpus.assign_shards(good, len(placed))
        logger.warning("%d corrupt shard(s) skipped: %s", len(corrupt), ", ".join(sorted(corrupt)))
    shard_counts = shard_counts + [ShardCount(uri=s.name, words=0, sentences=0, distinct=0, counts={},
                                              skipped=EMPTY) for s in empty]
    skipped = corrupt | {s.name for s in empty}
    watch.lap("vocabulary")

    # Every K up to the placed nodes, once: what --actors auto chooses from and the warnings' advice names.
    rate = calibrate(config, good, options)
    speed = _speed_model(config, len(vocab), placed, rate)
    chosen, every = forecast.choose_actors(vocab.raw_words, len(vocab), len(placed), config.sync_words, speed=speed)
    if config.actors is None and len(placed) > 1:  # --actors auto: the fastest K the forecast allows
        logger.info("actors: auto: %d of %d node(s), the %s whose forecast reaches %.2f x one node's quality "
                    "(%s)", chosen, len(placed), "fastest (projected)" if speed else "most",
                    forecast.TARGET_RATIO, ("; " if speed else ", ").join(
                        f"K={f.actors}: {f.ratio:.3f}" + (f" at {speed(f).speedup:.2f}x the speed" if speed else "")
                        for f in every[1:]))
        if chosen < len(placed):
            placed = placed[:chosen]
            assignment = corpus.assign_shards(good, chosen)
    predicted = every[len(placed) - 1]
    projected = speed(predicted) if speed else None

    size_of = {s.name: s.size for s in shards}  # shard name -> bytes on storage
    actor_memory, driver_memory = estimate_memory(config, len(vocab), vocab.raw_distinct, len(placed))
    threads = sum(n["workers"] for n in placed)
    plan = Plan(
        shards=len(shards), bytes=sum(s.size for s in shards),
        actors=tuple(ActorPlan(node=n["node_id"], workers=n["workers"], shards=len(p), bytes=sum(s.size for s in p))
                     for n, p in zip(placed, assignment)),
        corpus_words=vocab.raw_words, distinct_words=vocab.raw_distinct, vocab_size=len(vocab),
        effective_min_count=vocab.effective_min_count, vector_size=config.vector_size, epochs=config.epochs,
        actor_memory=actor_memory, driver_memory=driver_memory, words_per_s_per_thread=rate,
        train_seconds=(estimate_train_seconds(vocab.raw_words, config.epochs, rate, placed[0]["workers"])
                       / projected.speedup if projected and projected.actors > 1
                       else estimate_train_seconds(vocab.raw_words, config.epochs, rate, threads)),
        shards_read=tuple((sc.uri, sc.records, size_of[sc.uri], sc.words) for sc in shard_counts
                          if not sc.skipped and sc.uri in size_of),
        forecast=predicted, forecast_note=forecast.extrapolated(config), speed=projected,
    )
    watch.lap("plan")
    for line in plan.lines():
        logger.info("%s", line)
    one_node = estimate_train_seconds(vocab.raw_words, config.epochs, rate, placed[0]["workers"])
    warning = forecast.shortfall(predicted, every, duration(one_node) if one_node else "", speed=speed)
    if warning:
        logger.warning("%s", warning)
    slow = forecast.slower(projected, duration(one_node) if one_node else "") if projected else None
    if slow:
        logger.warning("%s", slow)
    return Prepared(shards + empty, skipped, placed, assignment, vocab, shard_counts, plan, parent, dropped,
                    counts_reused=kept is not None)


def _speed_model(config: TrainConfig, vocab_rows: int, placed: list[dict], rate: float
                 ) -> Callable[[forecast.Forecast], forecast.Speed] | None:
    """K's projected speed over one node (`forecast.projected_speed`) for this job, or None when there is
    nothing to project or it cannot be: one node, no calibrated rate, or a driver that will exchange
    through the object store (`--transport object-store`, no torch here, a Ray Client driver: that round's
    cost is not modelled). An actor node without torch is only found when the actors start.

    The baseline is one actor on the first placed node (what K=1 would use); K nodes are projected at the
    fewest threads among them and scaled to that baseline, so unequal nodes are not flattered."""
    if len(placed) <= 1 or rate <= 0 or config.transport == "object-store":
        return None
    if collective.torch_missing() is not None or driver.ray_client():
        return None
    row_bytes = matrix_bytes(1, config.vector_size, config.hs, config.negative)
    slice_bytes = sync.mean_slice_bytes(vocab_rows, row_bytes, config.sync_tiers)
    value_bytes = collective.VALUE_BYTES[config.wire]
    baseline = placed[0]["workers"]

    def speed(f: forecast.Forecast) -> forecast.Speed:
        cores = min(n["workers"] for n in placed[: f.actors])
        projected = forecast.projected_speed(f.actors, cores, f.sync_words, slice_bytes, rate, value_bytes)
        return replace(projected, speedup=projected.speedup * cores / baseline)

    return speed


def _count(config: TrainConfig, shards: list[corpus.Shard], parent: lineage.Parent | None,
           watch: Stopwatch) -> tuple[Vocabulary, list[ShardCount], dict[str, int] | None, Any]:
    """Stage 2: phrases (with --phrases), then the words, counted on the cluster. (vocabulary, per-shard
    summaries, the words left out when --save-training-state wants them, the reading options with phrases)."""
    logger.info("stage 2/5: counting %s (one task per shard, small shards batched, merged by a tree of tasks)",
                f"phrases ({config.phrase_passes} pass(es)), then words" if config.phrases else "words")
    options, phrasing = ReadOptions.of(config), None
    if config.phrases:  # counted like the words, then the words are counted again over the phrased text
        phrasing = phrases.learn(shards, options, config.phrase_passes, config.phrase_min_count,
                                 config.phrase_threshold, config.phrase_scoring, config.phrase_connector_words,
                                 config.max_vocab_size)
        options = ReadOptions.of(config, phrasing)
        watch.lap("phrases")
    dropped: dict[str, int] | None = {} if config.save_training_state else None  # filled by build_vocabulary
    vocab, shard_counts = build_vocabulary(shards, options, config.min_count, config.max_final_vocab,
                                           config.max_vocab_size, dropped=dropped,
                                           parent=(parent.words, parent.counts, parent.dropped) if parent else None)
    return replace(vocab, phrasing=phrasing), shard_counts, dropped, options


def _counted_for_resume(config: TrainConfig, listed: list[corpus.Shard], split: list[corpus.Shard],
                        parent: lineage.Parent | None) -> counted.Counted | None:
    """With --resume, what the stopped job's counting pass found (`counted`), if it holds for this run: the
    same parameters and files, the files cut into the same byte ranges (the number of actors may change),
    the same counting bound, and the left-out words when --save-training-state wants them."""
    if not config.resume:
        return None
    kept = counted.read(config.checkpoint_location, _counts_fingerprint(checkpoint.fingerprint(config, listed), parent))
    if kept is None:
        return None
    if {sc.uri for sc in kept.shard_counts} != {s.name for s in split}:
        logger.info("--resume: the files are cut into other shards now (another number of actors or "
                    "--shard-bytes): counting the corpus again")
        return None
    if kept.vocab.max_vocab_size != config.max_vocab_size or (config.save_training_state and kept.dropped is None):
        logger.info("--resume: --max-vocab-size or --save-training-state changed: counting the corpus again")
        return None
    return kept


def _counts_fingerprint(job: dict[str, Any], parent: lineage.Parent | None) -> dict[str, Any]:
    """What a `counted` record is written for and checked against: the job's `checkpoint.fingerprint` and the parent."""
    return counted.fingerprint(job, parent.manifest_sha256 if parent else None)


def dry_run(config: TrainConfig, shards: list[corpus.Shard] | None = None) -> Plan:
    """Everything before training: output check, listing, placement, the counting pass, the plan.

    Nothing is trained or written. Raises W2VError where a real run would.
    """
    if shards is None:
        shards = preflight(config)
    try:
        return prepare(config, shards, {}, reuse_counts=False).plan  # a dry run reads every shard
    finally:
        if config.wait_for_nodes:
            placement.release_node_request()


def run(config: TrainConfig, shards: list[corpus.Shard] | None = None,
        timings: dict[str, float] | None = None) -> JobResult:
    """Train on the corpus and publish the artifact at `config.out`; raises W2VError on bad input,
    TrainingError when training fails.

    `shards` is what `preflight` returned, when the caller ran it already. `timings` holds the
    caller's stages before this one (preflight, Ray start-up): they stay first, so the stages of
    the manifest and the summary add up to the whole job.
    """
    timings = {} if timings is None else timings
    if shards is None:
        watch = Stopwatch(timings)
        shards = preflight(config)
        watch.lap("preflight")
    run_section = manifest.run_section(config.name, config.tags)
    tracker = tracking.tracker_for(config.mlflow_uri, config.to_json(), run_section)
    try:
        with retries.recording(retries.Ledger()) as ledger:  # the tasks Ray ran again, stage by stage
            done = _train_and_publish(config, shards, timings, run_section, tracker, ledger)
    except BaseException:
        tracker.finish(failed=True)
        raise
    tracker.finish(artifact=artifact_location(config.out),
                   manifest_sha256=done.manifest_sha256)
    return done


def artifact_location(out: str) -> str:
    """The artifact's URI, a local directory made absolute (for a tracking server read elsewhere)."""
    path = storage.local_path(out)
    return out if path is None else os.path.abspath(path)


def _train_and_publish(config: TrainConfig, shards: list[corpus.Shard], timings: dict[str, float],
                       run: manifest.RunSection, tracker, ledger: retries.Ledger) -> JobResult:
    """Stages 1-5 of `run`, logging to `tracker` (a tracking.MlflowTracker or NullTracker); the manifest's
    `faults` are the task retries `ledger` recorded."""
    try:
        p = prepare(config, shards, timings)
        vocab, shard_counts = p.vocab, p.shard_counts
        watch = Stopwatch(timings)  # continues after stages 1-2

        job = checkpoint.fingerprint(config, shards)
        fingerprint = {**job, "vocabulary": checkpoint.vocabulary_fingerprint(vocab.words, vocab.counts)}
        resumed = resume_point(config, fingerprint)
        if config.checkpoint_interval > 0 and not p.counts_reused:  # a --resume later need not count again
            counted.write(config.checkpoint_location, counted.Counted(
                fingerprint=_counts_fingerprint(job, p.parent), vocab=vocab, shard_counts=tuple(shard_counts),
                dropped=p.dropped))

        logger.info("stage 3/5: training %d epoch(s) on %d actor(s)", config.epochs, len(p.assignment))
        with training_failures():  # driver.py's failures: actors gone for good, divergence, Ray's errors
            result = driver.train(config, vocab, p.assignment, p.placement, resume=resumed,
                                 checkpointer=checkpointer(config, fingerprint, resumed),
                                 shard_words={sc.uri: sc.words for sc in shard_counts}, parent=p.parent)
        watch.lap("train")
    finally:
        if config.wait_for_nodes:  # training releases it once its actors hold the nodes; a failure before, here
            placement.release_node_request()

    outcome = None
    if config.eval:
        logger.info("stage 4/5: evaluating in a separate Ray task (TensorFlow)")
        outcome = eval_stage.run_evaluation(result.vectors, vocab.words, eval_stage.EvalSettings.of(config),
                                            in_ray_task=True)
        if outcome.failure:  # publish the trained vectors anyway; the error goes in the manifest
            logger.error("evaluation failed: %s", outcome.error)
        watch.lap("evaluate")
    evaluation = outcome.evaluation if outcome else None

    logger.info("stage 5/5: writing the artifact to %s", config.out)
    m = manifest.build(config, p.shards, shard_counts, p.skipped, vocab, p.plan, result, resumed, evaluation,
                       outcome.error if outcome else None, timings, run)
    m.phrases = vocab.phrasing.settings() if vocab.phrasing else None
    m.faults = ledger.to_json()
    if m.training.resumed_from is not None:
        m.training.resumed_from.corpus_counted_again = not p.counts_reused
    m.parent = lineage.lineage_section(p.parent, vocab) if p.parent else None  # where the first weights came from
    m.training_state = lineage.state_section(config) if config.save_training_state else None
    tracker.log_training(m.training)
    extra_files = {scalars.EVENTS_FILE: scalars.event_file(m.training.epochs, m.training.shown_sync_share)}
    if evaluation:  # the report is drawn from the manifest; a report that fails is an error in it, not a lost job
        files, m.evaluation = outcome.artifact_files(m.to_json(), vocab.words, result.vectors)
        extra_files.update(files)
    tracker.log_evaluation(m.evaluation)
    if vocab.phrasing:
        extra_files.update(phrases.artifact_files(vocab.phrasing, pickle=config.phrases_pickle))
    extra_files.update(lineage.state_files(config, p.dropped))
    rescue = storage.join(config.checkpoint_location, "rescue")  # beside the checkpoints, else a temp directory
    kept = (f"the last checkpoint is kept in {config.checkpoint_location}: rerun with --resume once {config.out} "
            f"can take the artifact"
            if checkpoint.exists(config.checkpoint_location) else "the trained vectors are lost")
    written = export.publish_artifact(config.out, vocab.words, vocab.counts, result.vectors, m.to_json(), evaluation,
                                      config.overwrite, rescue_to=[rescue], lost_hint=kept, extra_files=extra_files,
                                      text_vectors=config.text_vectors, kv_pickle=config.kv_pickle,
                                      arrays=lineage.state_arrays(config, result.syn1neg))
    checkpoint.remove_all(config.checkpoint_location)  # the artifact is published: the job is done
    watch.lap("export")
    return JobResult(out=config.out, manifest=manifest.Manifest.from_json(written),
                     manifest_sha256=hashlib.sha256(export.json_bytes(written)).hexdigest(), evaluation=evaluation,
                     plan=p.plan, timings=timings)

