"""Train gensim Word2Vec on K Ray actors, one per node, and return one set of vectors.

Each `TrainerActor` spools its shards to a local file (`corpus.spool`), builds a gensim model from
the global vocabulary and seed (row i is the same word everywhere), and trains every epoch in one
`train(corpus_file=...)` call on a background thread, with the node's cores as gensim workers.
The driver meanwhile runs the delta exchange of `sync` every `sync_interval` seconds and shows
progress. This module places actors and runs the loop; the exchange rules live in `sync`.
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from . import sync
from .config import TrainConfig
from .corpus import ReadOptions, Shard, spool
from .errors import ConfigError
from .vocab import Vocabulary

logger = logging.getLogger(__name__)

STATUS_POLL_SECONDS = 0.5  # how often the driver looks at progress when there is nothing to exchange


def gensim_fast_version() -> int:
    """gensim's FAST_VERSION: >= 0 when its compiled (Cython/BLAS) routines are in use, -1 if not."""
    try:
        from gensim.models.word2vec_inner import FAST_VERSION
    except ImportError:
        return -1
    return int(FAST_VERSION)


def read_options(config: TrainConfig) -> ReadOptions:
    """The tokenization shared by the vocabulary pass and training."""
    return ReadOptions(lowercase=config.lowercase, unicode_errors=config.unicode_errors, s3=config.s3_settings())


def peak_rss_bytes() -> int:
    """This process's peak resident memory (Linux reports kilobytes).

    It counts the pages of Ray's shared-memory object store that the process touched, so an
    actor that exchanges weights looks bigger than what it owns: see `private_rss_bytes`.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def private_rss_bytes() -> int:
    """Resident memory private to this process (RssAnon: no shared object-store or file pages), Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class _EpochRecorder:
    """gensim callback: when each epoch ended and the (racy, rough) cumulative training loss."""

    def __init__(self):
        self.ends: list[tuple[float, float]] = []  # (perf_counter at epoch end, cumulative loss)

    def on_epoch_end(self, model) -> None:
        self.ends.append((time.perf_counter(), float(model.get_latest_training_loss())))

    def on_epoch_begin(self, model) -> None:
        pass

    def on_train_begin(self, model) -> None:
        pass

    def on_train_end(self, model) -> None:
        pass


class TrainerActor:
    """One per node: a gensim model over this node's shards. Thin: the logic is in `sync`/`corpus`."""

    def __init__(self, config: TrainConfig, vocab: Vocabulary, shards: Sequence[Shard], workers: int):
        from gensim.models import Word2Vec

        self.config = config  # the job's parameters
        self.shards = list(shards)  # this actor's shards, spooled in this order
        self.model = Word2Vec(**config.gensim_kwargs(workers))  # untrained: vocabulary comes next
        self.model.build_vocab_from_freq(vocab.word_freq())
        if self.model.wv.index_to_key != list(vocab.words):
            raise RuntimeError("gensim reordered the vocabulary; rows would not match across actors")
        self.spool_dir = tempfile.mkdtemp(prefix="w2v-spool-", dir=config.spool_dir)  # removed by close()
        self.spooled: Any = None  # SpoolStats once prepare() ran
        self.tracker: sync.DeltaTracker | None = None  # exchange bookkeeping, from start()
        self.thread: threading.Thread | None = None  # gensim's train() call
        self.recorder = _EpochRecorder()  # epoch ends and loss
        self.started = 0.0  # perf_counter when training started
        self.finished: float | None = None  # perf_counter when train() returned
        self.error: str | None = None  # train() failure, reported by status()
        self.sync_seconds = 0.0  # time spent in take/apply (competes with training for CPU)
        self.peak_private = private_rss_bytes()  # the largest RssAnon seen at any call (sampled)

    def info(self) -> dict[str, Any]:
        """Where this actor runs and whether gensim's compiled routines are in use."""
        import ray

        return {"node_id": ray.get_runtime_context().get_node_id(), "hostname": socket.gethostname(),
                "pid": os.getpid(), "gensim_fast_version": gensim_fast_version(), "shards": len(self.shards),
                "workers": self.model.workers}

    def prepare(self) -> dict[str, Any]:
        """Spool the shards to a local plain file for gensim's corpus_file mode."""
        started = time.perf_counter()
        self.spooled = spool(self.shards, read_options(self.config), os.path.join(self.spool_dir, "corpus.txt"))
        return {"words": self.spooled.words, "sentences": self.spooled.sentences, "bytes": self.spooled.bytes,
                "seconds": round(time.perf_counter() - started, 3)}

    def weights(self) -> sync.Weights:
        """The model's trainable matrices (input vectors and output layer), live."""
        found = {"vectors": self.model.wv.vectors}
        for name in ("syn1neg", "syn1"):
            if hasattr(self.model, name):
                found[name] = getattr(self.model, name)
        return found

    def start(self, initial: sync.Weights | None, exchange: bool) -> None:
        """Load the shared initial weights, then train every epoch on a background thread.

        With `exchange`, a DeltaTracker keeps the reference copy deltas are measured against (one
        more copy of the matrices); a lone actor needs none.
        """
        if initial is not None:
            for name, array in self.weights().items():
                np.copyto(array, initial[name])  # object-store arrays are read-only: copy into ours
        self.tracker = sync.DeltaTracker(self.weights()) if exchange else None
        self.started = time.perf_counter()
        self.thread = threading.Thread(target=self._train, name="gensim-train", daemon=True)
        self.thread.start()

    def _train(self) -> None:
        try:
            if self.spooled.words:
                self.model.train(corpus_file=self.spooled.path, total_words=self.spooled.words,
                                 epochs=self.config.epochs, start_alpha=self.config.alpha,
                                 end_alpha=self.config.min_alpha, compute_loss=True, callbacks=[self.recorder])
        except Exception as exc:  # reported to the driver by status()
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.finished = time.perf_counter()

    def take(self, start: int, stop: int) -> sync.Weights:
        """This actor's change of rows [start, stop) since the last exchange."""
        began = time.perf_counter()
        delta = self.tracker.take(self.weights(), slice(start, stop))
        self.peak_private = max(self.peak_private, private_rss_bytes())
        self.sync_seconds += time.perf_counter() - began
        return delta

    def apply(self, start: int, stop: int, total: sync.Weights) -> None:
        """Add the other actors' change of rows [start, stop)."""
        began = time.perf_counter()
        self.tracker.apply(self.weights(), slice(start, stop), total)
        self.sync_seconds += time.perf_counter() - began

    def status(self) -> dict[str, Any]:
        """Progress: epochs done, whether train() returned, errors, timings, memory."""
        self.peak_private = max(self.peak_private, private_rss_bytes())
        now = self.finished or time.perf_counter()
        return {"epochs_done": len(self.recorder.ends), "done": self.finished is not None, "error": self.error,
                "seconds": round(now - self.started, 3), "sync_seconds": round(self.sync_seconds, 3),
                "epoch_ends": [round(t - self.started, 3) for t, _ in self.recorder.ends],
                "loss": [loss for _, loss in self.recorder.ends], "peak_rss": peak_rss_bytes(),
                "peak_private_rss": self.peak_private}

    def close(self) -> None:
        shutil.rmtree(self.spool_dir, ignore_errors=True)


@dataclass
class TrainResult:
    """The combined vectors and what the training saw."""

    vectors: np.ndarray  # V x D float32, row i = vocab.words[i]
    actors: list[dict[str, Any]]  # per actor: node, shards, words, timings, peak memory
    stats: dict[str, Any] = field(default_factory=dict)  # words, exchanges, bytes, timings
    epochs: list[dict[str, Any]] = field(default_factory=list)  # per epoch: words/s, loss


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

    def __init__(self, epochs: int):
        from tqdm import tqdm

        self.epochs = epochs
        self.logged = 0  # epochs already logged
        self.bar = tqdm(total=epochs, unit="epoch", dynamic_ncols=True, disable=not sys.stderr.isatty(),
                        desc="training")

    def update(self, statuses: Sequence[dict[str, Any]], words_per_epoch: int, sync_share: float) -> None:
        done = min(s["epochs_done"] for s in statuses)  # the slowest actor sets the pace
        elapsed = max(s["seconds"] for s in statuses)
        rate = done * words_per_epoch / elapsed if done and elapsed else 0.0
        eta = (self.epochs - done) * elapsed / done if done else float("nan")
        self.bar.set_postfix_str(f"{rate:,.0f} w/s sync {sync_share:.0%} eta {eta:.0f}s", refresh=False)
        self.bar.update(done - self.bar.n)
        while self.logged < done:
            self.logged += 1
            logger.info("epoch %d/%d done: %s words/s, sync %.0f%% of actor time, eta %.0f s",
                        self.logged, self.epochs, f"{rate:,.0f}", 100 * sync_share, eta)

    def close(self) -> None:
        self.bar.close()


def train(config: TrainConfig, vocab: Vocabulary, plan: Sequence[Sequence[Shard]],
          nodes: Sequence[dict[str, Any]]) -> TrainResult:
    """Train on one actor per planned node (`plan[k]` are actor k's shards, `nodes[k]` its node)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    vocab_ref = ray.put(vocab)
    actor_cls = ray.remote(TrainerActor)
    actors = [
        actor_cls.options(
            num_cpus=min(node["workers"], node["cpus"]),
            scheduling_strategy=NodeAffinitySchedulingStrategy(node["node_id"], soft=False),
        ).remote(config, vocab_ref, list(shards), node["workers"])
        for node, shards in zip(nodes, plan)
    ]
    try:
        return _run(config, actors, vocab)
    finally:
        try:
            ray.get([a.close.remote() for a in actors], timeout=60)
        except Exception:  # the actor may be dead already; its spool dir is in a temp dir
            pass
        for actor in actors:
            ray.kill(actor)


def _run(config: TrainConfig, actors: list, vocab: Vocabulary) -> TrainResult:
    import ray

    try:
        infos = ray.get([a.info.remote() for a in actors], timeout=300)
    except ray.exceptions.GetTimeoutError:
        raise ConfigError("trainer actors could not be placed within 300 s: are the nodes' CPUs busy?") from None
    for info in infos:
        if info["gensim_fast_version"] < 0:
            logger.error("!!! gensim on %s runs WITHOUT its compiled routines: training will be ~100x slower",
                         info["hostname"])
    spool_started = time.perf_counter()
    spooled = ray.get([a.prepare.remote() for a in actors])
    spool_seconds = time.perf_counter() - spool_started
    for k, (info, sp) in enumerate(zip(infos, spooled)):
        logger.info("actor %d on %s (node %s, %d workers): %d shard(s) spooled, %d words, %.1f MB in %.1f s",
                    k, info["hostname"], info["node_id"][:8], info["workers"], info["shards"], sp["words"],
                    sp["bytes"] / 1e6, sp["seconds"])

    # Every actor starts from actor 0's seeded weights; the driver keeps the global weights.
    exchange = len(actors) > 1
    if exchange:
        global_weights = {name: np.array(a, copy=True) for name, a in ray.get(actors[0].weights.remote()).items()}
        initial_ref = ray.put(global_weights)
        ray.get([a.start.remote(initial_ref, True) for a in actors])
        del initial_ref
    else:
        ray.get(actors[0].start.remote(None, False))
        global_weights = {}
    row_bytes = sum(a.shape[1] * 4 for a in global_weights.values())  # of all matrices; 0 without exchange
    words_per_epoch = sum(sp["words"] for sp in spooled)
    exchanges = exchanged_bytes = 0
    started = time.perf_counter()
    progress = _Progress(config.epochs)
    try:
        while True:
            round_started = time.perf_counter()
            statuses = ray.get([a.status.remote() for a in actors])
            failed = [s["error"] for s in statuses if s["error"]]
            if failed:
                raise RuntimeError(f"gensim training failed in an actor: {failed[0]}")
            all_done = all(s["done"] for s in statuses)
            if exchange:  # one more exchange after the last actor finished: it collects the final deltas
                for rows in sync.exchange_slices(len(vocab), row_bytes, exchanges, final=all_done,
                                                   tiers=config.sync_tiers):
                    deltas = ray.get([a.take.remote(rows.start, rows.stop) for a in actors])
                    total = sync.sum_deltas(deltas)
                    for name, array in total.items():
                        global_weights[name][rows] += array
                    total_ref = ray.put(total)
                    ray.get([a.apply.remote(rows.start, rows.stop, total_ref) for a in actors])
                    exchanged_bytes += 2 * len(actors) * sync.nbytes(total)
                exchanges += 1
            actor_seconds = max(s["seconds"] for s in statuses)
            share = sum(s["sync_seconds"] for s in statuses) / max(len(actors) * actor_seconds, 1e-9)
            progress.update(statuses, words_per_epoch, share)
            if all_done:
                break
            pause = (config.sync_interval if exchange else STATUS_POLL_SECONDS) - (time.perf_counter() - round_started)
            if pause > 0:
                time.sleep(pause)
        final = ray.get([a.status.remote() for a in actors])
        if not exchange:  # one actor: its weights are the model
            global_weights = {name: np.array(a, copy=True) for name, a in ray.get(actors[0].weights.remote()).items()}
    finally:
        progress.close()
    seconds = time.perf_counter() - started
    train_seconds = max(s["seconds"] for s in final)
    sync_seconds = sum(s["sync_seconds"] for s in final) / len(final)
    words = words_per_epoch * config.epochs
    stats = {
        "words": words,
        "seconds": round(seconds, 3),
        "words_per_s": round(words / max(train_seconds, 1e-9)),
        "spool_seconds": round(spool_seconds, 3),
        "exchanges": exchanges,
        "sync_interval": config.sync_interval,
        "sync_tiers": config.sync_tiers,
        "sync_seconds": round(sync_seconds, 3),
        "sync_share": round(sync_seconds / max(train_seconds, 1e-9), 4),
        "bytes_exchanged": exchanged_bytes,
        "bytes_per_word": round(exchanged_bytes / max(words, 1), 2),
    }
    actors_out = [{**info, **{f"spool_{k}": v for k, v in sp.items()}, "train_seconds": s["seconds"],
                   "sync_seconds": s["sync_seconds"], "peak_rss": s["peak_rss"],
                   "peak_private_rss": s["peak_private_rss"]}
                  for info, sp, s in zip(infos, spooled, final)]
    return TrainResult(vectors=global_weights["vectors"], actors=actors_out, stats=stats,
                       epochs=_epoch_stats(final, words_per_epoch))


def _epoch_stats(statuses: Sequence[dict[str, Any]], words_per_epoch: int) -> list[dict[str, Any]]:
    """Per epoch: when the slowest actor finished it, words/s over it, and gensim's rough running loss."""
    epochs, previous_end = [], 0.0
    for e in range(min(len(s["epoch_ends"]) for s in statuses)):
        end = max(s["epoch_ends"][e] for s in statuses)
        seconds = max(end - previous_end, 1e-9)
        epochs.append({"epoch": e + 1, "words": words_per_epoch, "seconds": round(seconds, 3),
                       "words_per_s": round(words_per_epoch / seconds),
                       "loss": round(sum(s["loss"][e] for s in statuses), 1)})
        previous_end = end
    return epochs
