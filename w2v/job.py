"""The one path from corpus to artifact: list -> vocabulary -> train -> evaluate -> export.

`run` expects Ray to be initialized (the CLI and `jobs/` do that) and returns what it wrote;
it prints nothing: the caller decides what a person sees.
"""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from . import __version__, corpus, evaluate, export, report, train
from .config import TrainConfig
from .vocab import build_vocabulary

logger = logging.getLogger(__name__)


@dataclass
class JobResult:
    """What a finished job wrote."""

    out: str  # the artifact's location
    manifest: dict[str, Any]  # as written in manifest.json
    evaluation: dict[str, Any] | None  # as written in eval.json, None with --no-eval or on error


def versions() -> dict[str, str]:
    """Library versions that shape the vectors, for the manifest."""
    import gensim
    import numpy
    import ray
    import smart_open

    return {"w2v": __version__, "python": platform.python_version(), "gensim": gensim.__version__,
            "numpy": numpy.__version__, "ray": ray.__version__, "smart_open": smart_open.__version__}


def preflight(config: TrainConfig) -> list[corpus.Shard]:
    """The checks that need no cluster: the output location is free, the corpus exists and has text.

    The CLI runs them before starting Ray, so bad input fails in a second, not after start-up.
    """
    export.check_output(config.out, config.overwrite)
    return corpus.list_shards(config.corpus)


def run(config: TrainConfig, shards: list[corpus.Shard] | None = None) -> JobResult:
    """Train on the corpus and publish the artifact at `config.out`; raises W2VError on bad input.

    `shards` is what `preflight` returned, when the caller ran it already.
    """
    import ray

    timings: dict[str, float] = {}
    started = clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now

    if shards is None:
        shards = preflight(config)
    if train.gensim_fast_version() < 0:
        logger.error("!!! gensim's compiled routines are NOT in use on the driver: "
                     "reinstall gensim from a wheel; training will be ~100x slower")
    logger.info("stage 1/5: planning %d shard(s) of %s", len(shards), ", ".join(config.corpus))
    placement = train.place_actors(config, train.alive_nodes(), len(shards))
    plan = corpus.assign_shards(shards, len(placement))
    logger.info("plan: %d shard(s), %d bytes, %d actor(s): %s", len(shards), sum(s.size for s in shards),
                len(plan), "; ".join(f"actor {k}: {len(p)} shard(s) {sum(s.size for s in p):,} bytes "
                                     f"{n['workers']} workers" for k, (p, n) in enumerate(zip(plan, placement))))
    lap("list")

    logger.info("stage 2/5: counting words (one task per shard)")
    vocab, shard_counts = build_vocabulary(shards, train.read_options(config), config.min_count,
                                           config.max_final_vocab)
    lap("vocabulary")
    memory = 2 * len(vocab) * config.vector_size * 4
    logger.info("model: %d words x %d dims: %.1f MiB per actor, about %.1f MiB on the driver",
                len(vocab), config.vector_size, 2 * memory / 2**20, (len(plan) + 1) * memory / 2**20)

    logger.info("stage 3/5: training %d epoch(s) on %d actor(s)", config.epochs, len(plan))
    result = train.train(config, vocab, plan, placement)
    lap("train")

    evaluation, eval_error, extra_files = None, None, {}
    if config.eval:
        logger.info("stage 4/5: evaluating in a separate Ray task (TensorFlow)")
        ref = evaluate.evaluate_remote(ray.put(result.vectors), vocab.words, config.eval_seed,
                                       config.eval_cpus, config.eval_gpus, config.projector_top)
        try:
            evaluation, extra_files = ray.get(ref)
        except Exception as exc:  # publish the trained vectors anyway; the error goes in the manifest
            eval_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            logger.error("evaluation failed: %s", eval_error)
        lap("evaluate")

    logger.info("stage 5/5: writing the artifact to %s", config.out)
    by_uri = {s.uri: s for s in shards}
    manifest = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parameters": config.to_json(),
        "corpus": {
            "shards": [{**sc.summary(), "bytes": by_uri[sc.uri].size, "mtime": by_uri[sc.uri].mtime}
                       for sc in shard_counts],
            "bytes": sum(s.size for s in shards),
            "words": vocab.raw_words,
            "sentences": sum(sc.sentences for sc in shard_counts),
        },
        "vocabulary": {"size": len(vocab), "distinct_words": vocab.raw_distinct,
                       "effective_min_count": vocab.effective_min_count, "retained_words": vocab.retained_words},
        "vector_size": config.vector_size,
        "training": {**result.stats, "actors": result.actors, "epochs": result.epochs},
        "evaluation": ({"error": eval_error} if eval_error else
                       {"file": export.EVAL_JSON, **evaluate.summary(evaluation)} if evaluation else None),
        "versions": {**versions(), **({"tensorflow": evaluation["runtime"]["tensorflow"]} if evaluation else {})},
        "gensim_fast_version": train.gensim_fast_version(),
    }
    # The export is not timed: the manifest is written within it.
    manifest["timings"] = {**timings, "total_before_export": round(time.perf_counter() - started, 3)}
    if evaluation:
        try:
            extra_files.update(report.render(manifest, evaluation, vocab.words, result.vectors))
        except Exception as exc:  # the trained vectors matter more than the report: publish them anyway
            manifest["evaluation"]["report_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            logger.error("report failed: %s", manifest["evaluation"]["report_error"])
    written = export.write_artifact(config.out, vocab.words, vocab.counts, result.vectors, manifest,
                                    evaluation, config.overwrite, extra_files, config.text_vectors)
    return JobResult(out=config.out, manifest=written, evaluation=evaluation)

