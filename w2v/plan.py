"""What a job is about to do, in numbers a person can check before the cluster spends hours.

The plan is printed at the start of every job and is all that `--dry-run` does: shards and bytes
per actor, the vocabulary (exact: it comes from the counting pass), and estimates of memory per
actor and on the driver and of the training time. Estimates are labelled as such: memory from the
matrix sizes plus per-word overheads measured on gensim 4.4, time from a short single-thread
gensim run on a sample of the corpus (`calibrate`), scaled to every gensim thread of the job.

This module computes and formats; it does not print (the CLI and `pipeline` decide who sees what).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Sequence

from .config import TrainConfig
from .corpus import ReadOptions, Shard, iter_sentences
from .errors import W2VError
from .forecast import FORECAST_SPREAD, Forecast, Speed

logger = logging.getLogger(__name__)

# Measured with tracemalloc on gensim 4.4 / CPython 3.11 (50,000 words), rounded up: what a
# gensim model holds per vocabulary word besides its matrices (key_to_index, index_to_key,
# counts, sampling table, the word itself), and what the driver's merged Counter holds per
# distinct corpus word (before min_count).
GENSIM_BYTES_PER_WORD = 160
COUNT_BYTES_PER_WORD = 140
# Private resident memory of a Ray worker or driver with Python, numpy, gensim and Ray loaded
# and a tiny model: 164 MiB measured for an actor holding an 8.5 MiB model (the sample job).
PROCESS_BASELINE_BYTES = 155 * 2**20
CALIBRATION_WORDS = 200_000  # words of the first shard(s) trained once on one thread by `calibrate`
SHARD_LINES = 20  # shards listed one per line in the plan; more are summed up in one line


@dataclass(frozen=True)
class ActorPlan:
    """One trainer actor's share."""

    node: str  # node id (shortened in print) or host
    workers: int  # gensim threads
    shards: int
    bytes: int  # on storage (compressed size for compressed files)


@dataclass(frozen=True)
class Plan:
    """The numbers printed before training; all sizes in bytes, times in seconds."""

    shards: int
    bytes: int
    actors: tuple[ActorPlan, ...]
    corpus_words: int  # tokens of one epoch, before min_count and downsampling
    distinct_words: int  # before min_count
    vocab_size: int  # rows of the matrices
    effective_min_count: int
    vector_size: int
    epochs: int
    actor_memory: int  # estimate, per actor
    driver_memory: int  # estimate
    words_per_s_per_thread: float  # calibration; 0 when not measured
    train_seconds: float  # estimate; 0 when not measured
    # per shard read by the counting pass: (name, records, bytes, words); records: JSON/Parquet records, text lines
    shards_read: tuple[tuple[str, int, int, int], ...] = ()
    forecast: Forecast | None = None  # the predicted quality of this many actors on this corpus (`forecast`)
    forecast_note: str = ""  # why the forecast is an extrapolation (parameters other than the law's), or ""
    speed: Speed | None = None  # the projected speed of this many actors against one node (`forecast.Speed`)

    def lines(self) -> list[str]:
        """The plan as a person reads it, one fact per line (log- and terminal-friendly)."""
        out = [f"plan: {self.shards} shard(s), {_size(self.bytes)} on {len(self.actors)} actor(s), "
               f"{sum(a.workers for a in self.actors)} gensim thread(s)"]
        for k, a in enumerate(self.actors):
            out.append(f"  actor {k} on node {a.node[:8]}: {a.shards} shard(s), {_size(a.bytes)}, {a.workers} thread(s)")
        for name, records, size, words in self.shards_read[:SHARD_LINES]:
            out.append(f"  shard {name}: {records:,} record(s), {_size(size)}, {words:,} words")
        if len(self.shards_read) > SHARD_LINES:
            rest = self.shards_read[SHARD_LINES:]
            out.append(f"  ... {len(rest)} more shard(s): {sum(r[1] for r in rest):,} record(s), "
                       f"{_size(sum(r[2] for r in rest))}, {sum(r[3] for r in rest):,} words")
        out.append(f"vocabulary: {self.vocab_size:,} words x {self.vector_size} dims (of {self.distinct_words:,} "
                   f"distinct; effective min_count {self.effective_min_count}); {self.corpus_words:,} words per epoch")
        out.append(f"memory (estimate): {_size(self.actor_memory)} per actor, {_size(self.driver_memory)} on the driver "
                   f"(each includes {_size(PROCESS_BASELINE_BYTES)} for the Python/Ray/gensim process itself)")
        if self.train_seconds:
            scaled = self.speed is not None and self.speed.actors > 1
            out.append(f"time (estimate): {duration(self.train_seconds)} of training for {self.epochs} epoch(s), at "
                       f"{self.words_per_s_per_thread:,.0f} words/s per thread (1-thread calibration on the driver) "
                       + (f"x {self.actors[0].workers} thread(s) per node, at the projected speed below" if scaled
                          else f"x {sum(a.workers for a in self.actors)} thread(s), perfect scaling assumed"))
        if self.forecast is not None:
            note = self._extrapolated()
            out.append(f"quality (forecast): {self.forecast.line()}" + (f"; {note}" if note else ""))
        if self.speed is not None and self.speed.actors > 1:
            out.append(f"speed (projection): {self.speed.line()}")
        return out

    def _extrapolated(self) -> str:
        """`forecast_note` where a law was used: one actor's forecast is no law's, nothing to extrapolate."""
        return self.forecast_note if self.forecast is not None and self.forecast.actors > 1 else ""

    def to_json(self) -> dict[str, Any]:
        """For the manifest: the plan next to what really happened."""
        return {"actor_memory": self.actor_memory, "driver_memory": self.driver_memory,
                "words_per_s_per_thread": round(self.words_per_s_per_thread),
                "train_seconds": round(self.train_seconds, 1),
                **({"forecast": {"actors": self.forecast.actors,
                                 "predicted_analogy_ratio": round(self.forecast.ratio, 3),
                                 "spread": FORECAST_SPREAD, "stale_share": self.forecast.stale_share,
                                 "words_per_row": round(self.forecast.words_per_row, 1),
                                 "extrapolated": self._extrapolated() or None}}
                   if self.forecast else {}),
                **({"speed": {"actors": self.speed.actors, "projected_speedup": round(self.speed.speedup, 3),
                              "chunk_seconds": self.speed.chunk_seconds,
                              "exchange_seconds": self.speed.exchange_seconds}}
                   if self.speed else {})}


def matrix_bytes(vocab_size: int, vector_size: int, hs: bool, negative: int) -> int:
    """Bytes of a model's float32 matrices: input vectors, plus syn1neg (negative) and syn1 (hs).

    >>> matrix_bytes(1000, 100, hs=False, negative=5)
    800000
    """
    matrices = 1 + (negative > 0) + bool(hs)
    return matrices * vocab_size * vector_size * 4


def estimate_memory(config: TrainConfig, vocab_size: int, distinct_words: int, actors: int) -> tuple[int, int]:
    """(bytes per actor, bytes on the driver), rough: the process baseline plus the job's data.

    An actor holds gensim's model and, with 2+ actors, the exchange's reference copy of every
    matrix. The driver holds every distinct word's count until the vocabulary is cut, the global
    matrices (2+ actors) and one copy of the vectors for evaluation and export.

    >>> c = TrainConfig(corpus=("c",), out="o", vector_size=100)
    >>> [b - PROCESS_BASELINE_BYTES for b in estimate_memory(c, 1000, 5000, actors=1)]
    [960000, 1100000]
    """
    matrices = matrix_bytes(vocab_size, config.vector_size, config.hs, config.negative)
    exchange = actors > 1
    actor = matrices * (2 if exchange else 1) + vocab_size * GENSIM_BYTES_PER_WORD
    driver = distinct_words * COUNT_BYTES_PER_WORD + (matrices if exchange else 0) + vocab_size * config.vector_size * 4
    return PROCESS_BASELINE_BYTES + actor, PROCESS_BASELINE_BYTES + driver


def estimate_train_seconds(words_per_epoch: int, epochs: int, words_per_s_per_thread: float, threads: int) -> float:
    """Seconds for every epoch at the calibrated rate on every thread, perfect scaling (a lower bound).

    >>> estimate_train_seconds(1_000_000, 5, 500_000, 4)
    2.5
    """
    if words_per_s_per_thread <= 0 or threads <= 0:
        return 0.0
    return words_per_epoch * epochs / (words_per_s_per_thread * threads)


def calibrate(config: TrainConfig, shards: Sequence[Shard], options: ReadOptions,
              words: int = CALIBRATION_WORDS) -> float:
    """Words per second of one gensim thread with this job's parameters, on this machine.

    Trains one epoch in corpus_file mode (as the actors do) on the first `words` words of the
    corpus with its own small vocabulary. Returns 0.0 when the sample is too small to time.
    """
    try:
        return _calibrate(config, shards, options, words)
    except W2VError as exc:  # advisory: the counting pass on the cluster is the real corpus check
        logger.warning("no time estimate: the driver cannot read the corpus sample (%s)", exc)
        return 0.0


def _calibrate(config: TrainConfig, shards: Sequence[Shard], options: ReadOptions, words: int) -> float:
    from gensim.models import Word2Vec

    with tempfile.TemporaryDirectory(prefix="w2v-calibrate-") as tmp:
        path = os.path.join(tmp, "sample.txt")
        taken = 0
        with open(path, "w", encoding="utf-8") as f:
            for shard in shards:
                for sentence in iter_sentences(shard, options):
                    f.write(" ".join(sentence) + "\n")
                    taken += len(sentence)
                    if taken >= words:
                        break
                if taken >= words:
                    break
        if taken < 1000:
            return 0.0
        kwargs = {**config.gensim_kwargs(workers=1), "epochs": 1}
        model = Word2Vec(**kwargs)
        model.build_vocab(corpus_file=path)
        if not model.wv.index_to_key:
            return 0.0
        began = time.perf_counter()
        model.train(corpus_file=path, total_words=taken, epochs=1)
        seconds = time.perf_counter() - began
    rate = taken / max(seconds, 1e-6)
    logger.info("calibration: %d words in %.2f s on one gensim thread: %s words/s", taken, seconds, f"{rate:,.0f}")
    return rate


def _size(n: int) -> str:
    """Bytes for people.

    >>> _size(512), _size(3 * 2**20), _size(5 * 2**30)
    ('512 B', '3.0 MiB', '5.0 GiB')
    """
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def duration(seconds: float) -> str:
    """Seconds for people.

    >>> duration(42.4), duration(3725)
    ('42 s', '1 h 02 min')
    """
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
