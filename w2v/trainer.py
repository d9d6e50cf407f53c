"""What runs on each node: one `TrainerActor` per node trains gensim Word2Vec on that node's shards.

It spools its shards to a local file (`corpus.spool`), builds a gensim model from the global
vocabulary and seed (row i is the same word everywhere), and trains every epoch in one
`train(corpus_file=...)` call on a background thread, with the node's cores as gensim workers.
Between, the driver (`train`) calls `take`/`reduce`/`apply` for the delta exchange of `sync`
and `status` for progress. The actor holds no state the driver could not give it again: a
restarted process gets its vocabulary, shards and weights from the driver.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import warnings
from typing import Any, Sequence

import numpy as np

from . import sync
from .config import TrainConfig
from .corpus import ReadOptions, Shard, new_spool_dir, spool
from .errors import ConfigError
from .memory import peak_rss_bytes, private_rss_bytes
from .vocab import Vocabulary

logger = logging.getLogger(__name__)

# Test hook (fault injection): "K:E" makes trainer actor K's first incarnation exit its process
# (os._exit, as a crash would) right after epoch E ends; "K:E:exchange" makes it exit inside the first
# exchange (`take`) after epoch E, so the driver meets the death mid-exchange rather than in a status
# poll. Read by the driver, never set in production.
FAULT_ENV = "W2V_TEST_ACTOR_EXIT"


def epoch_schedule(alpha: float, min_alpha: float, epochs: int, start_epoch: int) -> tuple[int, float, float]:
    """(epochs left, start alpha, end alpha) to train from `start_epoch` on the global linear schedule.

    A restarted or resumed actor continues the same monotone decay instead of starting again at alpha.

    >>> epoch_schedule(0.025, 0.0, 5, 0), epoch_schedule(0.025, 0.0, 5, 2), epoch_schedule(0.025, 0.0, 5, 5)
    ((5, 0.025, 0.0), (3, 0.015, 0.0), (0, 0.0, 0.0))
    """
    start_epoch = min(max(start_epoch, 0), epochs)
    start_alpha = round(sync.learning_rate(alpha, min_alpha, start_epoch / epochs), 12)
    return epochs - start_epoch, start_alpha, min_alpha


def parse_fault_hook(value: str | None) -> dict[int, tuple[int, str]]:
    """`W2V_TEST_ACTOR_EXIT` -> {actor index: (epoch after which its first incarnation exits, where)}.

    >>> parse_fault_hook("1:2"), parse_fault_hook("0:3:exchange"), parse_fault_hook(None)
    ({1: (2, 'epoch')}, {0: (3, 'exchange')}, {})
    """
    if not value:
        return {}
    parts = value.split(":")
    where = parts.pop() if len(parts) == 3 else "epoch"
    try:
        actor, epoch = (int(part) for part in parts)
        if where not in ("epoch", "exchange"):
            raise ValueError(where)
    except ValueError:
        raise ConfigError(f"{FAULT_ENV}={value!r}: expected ACTOR:EPOCH or ACTOR:EPOCH:exchange, e.g. 1:2") from None
    return {actor: (epoch, where)}


def gensim_fast_version() -> int:
    """gensim's FAST_VERSION: >= 0 when its compiled (Cython/BLAS) routines are in use, -1 if not."""
    try:
        from gensim.models.word2vec_inner import FAST_VERSION
    except ImportError:
        return -1
    return int(FAST_VERSION)


def read_options(config: TrainConfig) -> ReadOptions:
    """The tokenization shared by the vocabulary pass and training."""
    return ReadOptions(lowercase=config.lowercase, unicode_errors=config.unicode_errors,
                       on_bad_shard=config.on_bad_shard, s3=config.s3_settings())


class _EpochRecorder:
    """gensim callback: when each epoch ended and the (racy, rough) cumulative training loss."""

    def __init__(self, exit_after: tuple[int, str] | None = None):
        self.ends: list[tuple[float, float]] = []  # (wall-clock time at epoch end, cumulative loss)
        self.first_epoch = 0  # epochs done before this train() call (a restart or resume)
        self.exit_after = exit_after  # fault injection (FAULT_ENV): die after this epoch, at its end or exchange

    def on_epoch_end(self, model) -> None:
        self.ends.append((time.time(), float(model.get_latest_training_loss())))
        self.maybe_exit("epoch")

    def maybe_exit(self, where: str) -> None:
        """Fault injection: exit the process (as a crash would) once past the planned epoch, at `where`."""
        if self.exit_after is not None and self.exit_after[1] == where and \
                self.first_epoch + len(self.ends) >= self.exit_after[0]:
            logger.warning("fault injection: exiting the actor process in its %s after epoch %d", where,
                           self.exit_after[0])
            os._exit(1)

    def on_epoch_begin(self, model) -> None:
        pass

    def on_train_begin(self, model) -> None:
        pass

    def on_train_end(self, model) -> None:
        pass


def _was_restarted() -> bool:
    """True inside a Ray actor whose constructor runs again after its process died."""
    try:
        import ray

        with warnings.catch_warnings():  # Ray 2.60's own property reads its deprecated `actor_id`
            warnings.simplefilter("ignore", DeprecationWarning)
            return bool(ray.get_runtime_context().was_current_actor_reconstructed)
    except Exception:  # not in a Ray actor (tests build TrainerActor directly)
        return False


class TrainerActor:
    """One per node: a gensim model over this node's shards. Thin: the logic is in `sync`/`corpus`."""

    def __init__(self, config: TrainConfig, workers: int, exit_after: tuple[int, str] | None = None):
        """Small arguments only: Ray reruns this on a restart, and arguments it had to keep in the object
        store (the vocabulary, a long shard list) could be gone by then. `prepare` brings those."""
        self.config = config  # the job's parameters
        self.workers = workers  # gensim threads
        self.model: Any = None  # gensim Word2Vec, from prepare()
        self.shards: list[Shard] = []  # this actor's shards, spooled in this order (prepare)
        self.spool_dir: str | None = None  # made by prepare(); removed by close(), or by a later actor after a crash
        self.spooled: Any = None  # SpoolStats once prepare() ran
        self.tracker: sync.DeltaTracker | None = None  # exchange bookkeeping, from start()
        self.thread: threading.Thread | None = None  # gensim's train() call
        self.restarted = _was_restarted()  # Ray re-ran this constructor after the process died
        self.recorder = _EpochRecorder(None if self.restarted else exit_after)  # epoch ends and loss
        self.start_epoch = 0  # the global epoch training starts at (after a restart or resume)
        self.started = 0.0  # perf_counter when training started
        self.finished: float | None = None  # perf_counter when train() returned
        self.error: str | None = None  # train() failure, reported by status()
        self.sync_seconds = 0.0  # time spent in take/apply (competes with training for CPU)
        self.peak_private = private_rss_bytes()  # the largest RssAnon seen at any call (sampled)

    def info(self) -> dict[str, Any]:
        """Where this actor runs and whether gensim's compiled routines are in use."""
        import ray

        return {"node_id": ray.get_runtime_context().get_node_id(), "hostname": socket.gethostname(),
                "pid": os.getpid(), "gensim_fast_version": gensim_fast_version(),
                "workers": self.workers, "restarted": self.restarted}

    def prepare(self, vocab: Vocabulary, shards: Sequence[Shard]) -> dict[str, Any]:
        """Build the model from the global vocabulary, then spool `shards` to a local plain file for
        gensim's corpus_file mode."""
        from gensim.models import Word2Vec

        self.model = Word2Vec(**self.config.gensim_kwargs(self.workers))  # untrained: vocabulary comes next
        self.model.build_vocab_from_freq(vocab.word_freq())
        if self.model.wv.index_to_key != list(vocab.words):
            raise RuntimeError("gensim reordered the vocabulary; rows would not match across actors")
        self.shards = list(shards)
        if self.spool_dir is None:  # here, not in the constructor: a bad --spool-dir is one error line, not a dead actor
            self.spool_dir = new_spool_dir(self.config.spool_dir)
        started = time.perf_counter()
        self.spooled = spool(self.shards, read_options(self.config), os.path.join(self.spool_dir, "corpus.txt"))
        return {"shards": len(self.shards), "words": self.spooled.words, "sentences": self.spooled.sentences,
                "bytes": self.spooled.bytes, "bad_lines": self.spooled.bad_lines,
                "seconds": round(time.perf_counter() - started, 3)}

    def weights(self) -> sync.Weights:
        """The model's trainable matrices (input vectors and output layer), live."""
        found = {"vectors": self.model.wv.vectors}
        for name in ("syn1neg", "syn1"):
            if hasattr(self.model, name):
                found[name] = getattr(self.model, name)
        return found

    def start(self, initial: sync.Weights | None, exchange: bool, start_epoch: int = 0) -> None:
        """Load the shared initial weights, then train epochs `start_epoch`.. on a background thread.

        With `exchange`, a DeltaTracker keeps the reference copy deltas are measured against (one
        more copy of the matrices); a lone actor needs none.
        """
        self.start_epoch = self.recorder.first_epoch = start_epoch
        if initial is not None:
            for name, array in self.weights().items():
                np.copyto(array, initial[name])  # object-store arrays are read-only: copy into ours
        self.tracker = sync.DeltaTracker(self.weights()) if exchange else None
        self.started = time.perf_counter()
        self.thread = threading.Thread(target=self._train, name="gensim-train", daemon=True)
        self.thread.start()

    def _train(self) -> None:
        c = self.config
        epochs, start_alpha, end_alpha = epoch_schedule(c.alpha, c.min_alpha, c.epochs, self.start_epoch)
        try:
            if self.spooled.words and epochs:
                self.model.train(corpus_file=self.spooled.path, total_words=self.spooled.words, epochs=epochs,
                                 start_alpha=start_alpha, end_alpha=end_alpha, compute_loss=True,
                                 callbacks=[self.recorder])
        except Exception as exc:  # reported to the driver by status()
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.finished = time.perf_counter()

    def take(self, start: int, stop: int, parts: int) -> list:
        """This actor's change of rows [start, stop) since the last exchange, cut in `parts` pieces.

        Called with num_returns=parts+1: first whether this process could take part (False: Ray
        restarted it and the driver has not started it again), then piece j for actor j to reduce.
        """
        if self.tracker is None:
            return [False] + [None] * parts
        self.recorder.maybe_exit("exchange")
        began = time.perf_counter()
        rows = slice(start, stop)
        delta = self.tracker.take(self.weights(), rows)
        pieces = sync.cut(delta, sync.split_rows(rows, parts), start)
        self.peak_private = max(self.peak_private, private_rss_bytes())
        self.sync_seconds += time.perf_counter() - began
        return [True, *pieces]

    def untake(self, start: int) -> bool:
        """The exchange of the slice at `start` failed elsewhere: keep its delta for the next one."""
        if self.tracker is None or start not in self.tracker.taken:
            return False
        self.tracker.untake(start)
        return True

    def reduce(self, *pieces: sync.Weights) -> sync.Weights:
        """The sum of every actor's delta for the piece this actor owns."""
        began = time.perf_counter()
        total = sync.sum_deltas(pieces)
        self.sync_seconds += time.perf_counter() - began
        return total

    def apply(self, start: int, stop: int, *sums: sync.Weights) -> bool:
        """Add the other actors' change of rows [start, stop) from the owners' summed pieces.

        False when this process never took those rows (Ray restarted it in between).
        """
        if self.tracker is None or start not in self.tracker.taken:
            return False
        began = time.perf_counter()
        self.tracker.apply(self.weights(), slice(start, stop), *sums)
        self.sync_seconds += time.perf_counter() - began
        return True

    def status(self) -> dict[str, Any]:
        """Progress: epochs done, whether train() returned, errors, timings, memory."""
        self.peak_private = max(self.peak_private, private_rss_bytes())
        now = self.finished or time.perf_counter()
        before = [None] * self.start_epoch  # epochs trained by an earlier process: their times are gone
        return {"pid": os.getpid(), "epochs_done": self.start_epoch + len(self.recorder.ends),
                "done": self.finished is not None,
                "error": self.error, "seconds": round(now - self.started, 3),
                "sync_seconds": round(self.sync_seconds, 3), "start_epoch": self.start_epoch,
                "epoch_ends": before + [round(t, 3) for t, _ in self.recorder.ends],  # wall clock: comparable
                "loss": before + [loss for _, loss in self.recorder.ends], "peak_rss": peak_rss_bytes(),
                "peak_private_rss": self.peak_private}

    def close(self) -> None:
        if self.spool_dir is not None:
            shutil.rmtree(self.spool_dir, ignore_errors=True)
