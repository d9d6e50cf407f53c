"""Train gensim Word2Vec on K Ray actors, one per node, and return one set of vectors.

Each `TrainerActor` owns a gensim model built from the same global vocabulary and seed, and
streams its own shards into gensim's Cython workers (workers = the node's CPUs). The driver runs
the rounds: every actor trains its next slice of words from the shared base, then `sync` combines
their weights. This module places actors, runs rounds and reports progress; the combine rule and
the schedule live in `sync`.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from . import sync
from .config import TrainConfig
from .corpus import ReadOptions, Shard, ShardSentences
from .errors import ConfigError
from .vocab import Vocabulary

logger = logging.getLogger(__name__)


def gensim_fast_version() -> int:
    """gensim's FAST_VERSION: >= 0 when its compiled (Cython/BLAS) routines are in use, -1 if not."""
    try:
        from gensim.models.word2vec_inner import FAST_VERSION
    except ImportError:
        return -1
    return int(FAST_VERSION)


def read_options(config: TrainConfig) -> ReadOptions:
    """The tokenization shared by the vocabulary pass and training."""
    return ReadOptions(lowercase=config.lowercase, unicode_errors=config.unicode_errors)


class _RoundWindow:
    """The next `budget` words of a running sentence stream, as a re-iterable for gensim.

    gensim iterates its corpus once per `train(epochs=1)` call; it rejects bare generators, so this
    object hands it a fresh generator over the shared stream. `words` counts what was taken.
    """

    def __init__(self, stream: Iterator[list[str]], budget: int | None):
        self.stream = stream  # the actor's sentence iterator for the current epoch
        self.budget = budget  # words to take; None: all that is left of the epoch
        self.words = 0  # tokens handed to gensim so far
        self.sentences = 0

    def __iter__(self) -> Iterator[list[str]]:
        for sentence in self.stream:
            self.words += len(sentence)
            self.sentences += 1
            yield sentence
            if self.budget is not None and self.words >= self.budget:
                return


class TrainerActor:
    """One per node: a gensim model over this node's shards. Thin: the logic is in `sync`/`corpus`."""

    def __init__(self, config: TrainConfig, vocab: Vocabulary, shards: Sequence[Shard], workers: int,
                 epoch_words: int):
        from gensim.models import Word2Vec

        self.model = Word2Vec(**config.gensim_kwargs(workers))  # untrained: vocabulary comes next
        self.model.build_vocab_from_freq(vocab.word_freq())
        if self.model.wv.index_to_key != list(vocab.words):
            raise RuntimeError("gensim reordered the vocabulary; rows would not match across actors")
        self.sentences = ShardSentences(shards, read_options(config))  # this actor's shards, in order
        self.epoch_words = epoch_words  # tokens in this actor's shards (from the vocabulary pass)
        self.stream: Iterator[list[str]] | None = None  # the current epoch's sentences
        self.epoch_taken = 0  # tokens taken from the current epoch's stream

    def info(self) -> dict[str, Any]:
        """Where this actor runs and whether gensim's compiled routines are in use."""
        import ray

        return {
            "node_id": ray.get_runtime_context().get_node_id(),
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "gensim_fast_version": gensim_fast_version(),
            "shards": len(self.sentences.shards),
            "epoch_words": self.epoch_words,
        }

    def weights(self) -> sync.Weights:
        """The model's trainable matrices (input vectors and output layer)."""
        found = {"vectors": self.model.wv.vectors}
        for name in ("syn1neg", "syn1"):
            if hasattr(self.model, name):
                found[name] = getattr(self.model, name)
        return found

    def train_round(self, base: sync.Weights | None, new_epoch: bool, start_alpha: float, end_alpha: float,
                    budget: int | None) -> tuple[dict[str, Any], sync.Weights]:
        """Load the base, train the next `budget` words (None: to the epoch's end), return the weights."""
        if base is not None:
            for name, array in self.weights().items():
                np.copyto(array, base[name])  # object-store arrays are read-only: copy into ours
        if new_epoch:
            self.stream = iter(self.sentences)
            self.epoch_taken = 0
        window = _RoundWindow(self.stream, budget)
        expected = budget if budget is not None else max(1, self.epoch_words - self.epoch_taken)
        # gensim falls back to its own alpha when given 0.0 ("start_alpha or self.alpha"): set both.
        self.model.alpha, self.model.min_alpha = start_alpha, end_alpha
        started = time.perf_counter()
        trained, raw = self.model.train(
            window, total_words=expected, epochs=1, start_alpha=start_alpha, end_alpha=end_alpha,
            compute_loss=True,
        ) if self.epoch_words else (0, 0)
        seconds = time.perf_counter() - started
        self.epoch_taken += window.words
        metrics = {
            "words": window.words,
            "sentences": window.sentences,
            "trained_words": trained,
            "train_seconds": seconds,
            "loss": float(self.model.get_latest_training_loss()),
        }
        return metrics, self.weights()


@dataclass
class TrainResult:
    """The combined vectors and what the training saw."""

    vectors: np.ndarray  # V x D float32, row i = vocab.words[i]
    actors: list[dict[str, Any]]  # per actor: node, shards, words
    stats: dict[str, Any] = field(default_factory=dict)  # rounds, words, bytes exchanged, timings
    epochs: list[dict[str, Any]] = field(default_factory=list)  # per epoch: words/s, loss, sync share


def alive_nodes() -> list[dict[str, Any]]:
    """Alive Ray nodes that have CPUs, largest first: {'node_id', 'cpus', 'address'}."""
    import ray

    nodes = [
        {"node_id": n["NodeID"], "cpus": int(n["Resources"].get("CPU", 0)), "address": n["NodeManagerAddress"]}
        for n in ray.nodes()
        if n.get("Alive") and n["Resources"].get("CPU", 0) >= 1
    ]
    return sorted(nodes, key=lambda n: (-n["cpus"], n["node_id"]))


def place_actors(config: TrainConfig, nodes: Sequence[dict[str, Any]], shards: int) -> list[dict[str, Any]]:
    """Pick one node per actor: K = --actors (default: every node), never more actors than shards."""
    if not nodes:
        raise ConfigError("the Ray cluster has no alive node with a CPU")
    wanted = config.actors or len(nodes)
    if wanted > len(nodes):
        raise ConfigError(
            f"actors={wanted}: one trainer actor runs per node and the cluster has {len(nodes)} alive "
            f"node(s) with CPUs; add nodes or lower --actors"
        )
    if wanted > shards:
        logger.warning("actors=%d but the corpus has %d file(s): training with %d actor(s)", wanted, shards, shards)
        wanted = shards
    return [dict(node, workers=config.workers or node["cpus"]) for node in nodes[:wanted]]


class _Progress:
    """A progress bar on a terminal; one log line per epoch always (readable in `ray job logs`)."""

    def __init__(self, total_words: int):
        from tqdm import tqdm

        self.bar = tqdm(total=total_words, unit="w", unit_scale=True, dynamic_ncols=True,
                        disable=not sys.stderr.isatty(), desc="training")

    def update(self, words: int, epoch: int, epochs: int, words_per_s: float, sync_share: float) -> None:
        self.bar.set_postfix_str(f"epoch {epoch + 1}/{epochs} {words_per_s:,.0f} w/s sync {sync_share:.0%}",
                                 refresh=False)
        self.bar.update(words)

    def close(self) -> None:
        self.bar.close()


def train(config: TrainConfig, vocab: Vocabulary, plan: Sequence[Sequence[Shard]],
          shard_words: dict[str, int], nodes: Sequence[dict[str, Any]]) -> TrainResult:
    """Run every round on one actor per planned node; returns the combined vectors.

    `plan[k]` are actor k's shards, `nodes[k]` its node, `shard_words` the tokens of each shard.
    """
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    epoch_words = [sum(shard_words[s.uri] for s in shards) for shards in plan]
    vocab_ref = ray.put(vocab)
    actor_cls = ray.remote(TrainerActor)
    actors = [
        actor_cls.options(
            num_cpus=min(node["workers"], node["cpus"]),
            scheduling_strategy=NodeAffinitySchedulingStrategy(node["node_id"], soft=False),
        ).remote(config, vocab_ref, list(shards), node["workers"], words)
        for node, shards, words in zip(nodes, plan, epoch_words)
    ]
    try:
        return _run_rounds(config, actors, epoch_words)
    finally:
        for actor in actors:
            ray.kill(actor)


def _run_rounds(config: TrainConfig, actors: list, epoch_words: list[int]) -> TrainResult:
    import ray

    try:
        infos = ray.get([a.info.remote() for a in actors], timeout=300)
    except ray.exceptions.GetTimeoutError:
        raise ConfigError("trainer actors could not be placed within 300 s: are the nodes' CPUs busy?") from None
    for info in infos:
        if info["gensim_fast_version"] < 0:
            logger.error("!!! gensim on %s runs WITHOUT its compiled routines: training will be ~100x slower",
                         info["hostname"])
    for k, info in enumerate(infos):
        logger.info("actor %d on %s (node %s): %d shard(s), %d words per epoch",
                    k, info["hostname"], info["node_id"][:8], info["shards"], info["epoch_words"])

    rounds = sync.rounds_per_epoch(epoch_words, config.sync_words)
    combiner = sync.DeltaSum(ray.get(actors[0].weights.remote()))
    exchanged = 0  # bytes moved between actors and the driver
    sync_seconds = 0.0
    totals = {"words": 0, "trained_words": 0, "sentences": 0}
    epochs: list[dict[str, Any]] = []
    progress = _Progress(total_words=sum(epoch_words) * config.epochs)
    started = time.perf_counter()
    try:
        for epoch in range(config.epochs):
            epoch_started, epoch_sync, epoch_words_done, epoch_loss = time.perf_counter(), 0.0, 0, 0.0
            for r in range(rounds):
                round_started = time.perf_counter()
                start_alpha, end_alpha = sync.round_alphas(config.alpha, config.min_alpha, epoch, config.epochs,
                                                           r, rounds)
                # Round 0 of the job needs no base: every actor starts from the same seeded weights.
                base_ref = None if (epoch == 0 and r == 0) else ray.put(combiner.base)
                results = ray.get([
                    a.train_round.remote(base_ref, r == 0, start_alpha, end_alpha,
                                         sync.round_budget(words, rounds, r))
                    for a, words in zip(actors, epoch_words)
                ])
                combiner.combine([weights for _, weights in results])
                # Sync time: the round's wall time not spent in the slowest actor's gensim call
                # (weights in and out of the object store, copying, combining).
                epoch_sync += time.perf_counter() - round_started - max(m["train_seconds"] for m, _ in results)
                exchanged += (2 if base_ref is not None else 1) * len(actors) * sync.nbytes(combiner.base)
                words = sum(m["words"] for m, _ in results)
                for key in totals:
                    totals[key] += sum(m[key] for m, _ in results)
                epoch_words_done += words
                epoch_loss += sum(m["loss"] for m, _ in results)
                elapsed = time.perf_counter() - epoch_started
                progress.update(words, epoch, config.epochs, epoch_words_done / max(elapsed, 1e-9),
                                epoch_sync / max(elapsed, 1e-9))
            seconds = time.perf_counter() - epoch_started
            sync_seconds += epoch_sync
            epochs.append({"epoch": epoch + 1, "words": epoch_words_done, "seconds": round(seconds, 3),
                           "words_per_s": round(epoch_words_done / max(seconds, 1e-9)),
                           "sync_share": round(epoch_sync / max(seconds, 1e-9), 4), "loss": epoch_loss})
            eta = (time.perf_counter() - started) / (epoch + 1) * (config.epochs - epoch - 1)
            logger.info("epoch %d/%d: %d words in %.1f s (%s words/s), sync %.0f%% of time, loss %.4g, eta %.0f s",
                        epoch + 1, config.epochs, epoch_words_done, seconds,
                        f"{epochs[-1]['words_per_s']:,}", 100 * epochs[-1]["sync_share"], epoch_loss, eta)
    finally:
        progress.close()
    seconds = time.perf_counter() - started
    stats = {
        **totals,
        "rounds_per_epoch": rounds,
        "rounds": rounds * config.epochs,
        "seconds": round(seconds, 3),
        "words_per_s": round(totals["words"] / max(seconds, 1e-9)),
        "sync_seconds": round(sync_seconds, 3),
        "bytes_exchanged": exchanged,
        "bytes_per_word": round(exchanged / max(totals["words"], 1), 2),
    }
    actors_out = [{**info, "epoch_words": w} for info, w in zip(infos, epoch_words)]
    return TrainResult(vectors=combiner.base["vectors"], actors=actors_out, stats=stats, epochs=epochs)
