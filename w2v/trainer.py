"""What runs on each node: one `TrainerActor` per node trains gensim Word2Vec on that node's shards.

It spools its shards to local chunk files (`spool.spool_chunks`), builds a gensim model from the
global vocabulary and seed (row i is the same word everywhere), and trains chunk after chunk on a
background thread with gensim's compiled corpus_file routines (`ChunkTrainer`), the node's cores as
gensim threads. After each chunk the driver (`driver`) calls `take`/`reduce`/`apply`/`advance` for
the delta exchange of `sync`, and `status` for progress. The actor holds no state the driver could not give it again: a
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
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np

from . import procfs, retries, sync
from .config import TrainConfig
from .corpus import ReadOptions, Shard
from .errors import ConfigError
from .exchange import ActorInfo, ActorNotStarted, ActorStatus, Spooled
from .memory import peak_rss_bytes, private_rss_bytes
from .recovery import weights_digest
from .spool import adopt_spool, new_spool_dir, spool_chunks, spool_key, write_spool_record
from .vocab import Vocabulary

logger = logging.getLogger(__name__)

# Test hook (fault injection): "K:E" makes trainer actor K's first incarnation exit its process
# (os._exit, as a crash would) at the end of the first chunk that completes E epochs (E may be a
# fraction: "1:0.66" is two thirds into the first epoch); "K:E:exchange" makes it exit inside the
# first exchange (`take`) after that, so the driver meets the death mid-exchange rather than in a
# status poll; "K:0:info", "K:0:spool" and "K:0:start" make it exit as the driver's first call of
# that start-up stage arrives (E is not used). Read by the driver, never set in production.
FAULT_ENV = "W2V_TEST_ACTOR_EXIT"
START_UP_STAGES = ("info", "spool", "start")  # the driver's calls before training, in order
FAULT_WHERE = ("epoch", "exchange", *START_UP_STAGES)  # where FAULT_ENV's exit can happen
# Test hook: "STAGE:DIR" makes every trainer actor's first incarnation, as that start-up stage's call
# arrives, write DIR/<its node id>.ready and wait (`retries.wait_for_release`) until DIR/release exists: a
# test removes a node while its actor is inside that stage. Read by the driver, never set in production.
PAUSE_ENV = "W2V_TEST_ACTOR_PAUSE"
# A trainer actor that gets SIGTERM (an operator's or an orchestrator's stop of that process) reports
# it and keeps training until the driver has exchanged every row and stopped it; once the driver has
# not called it for this many seconds (it is gone too), the process exits on its own.
NOTICE_GRACE_SECONDS = 60.0


def epoch_schedule(alpha: float, min_alpha: float, epochs: int, start_epoch: int) -> tuple[int, float, float]:
    """(epochs left, start alpha, end alpha) to train from `start_epoch` on the global linear schedule.

    A restarted or resumed actor continues the same monotone decay instead of starting again at alpha.

    >>> epoch_schedule(0.025, 0.0, 5, 0), epoch_schedule(0.025, 0.0, 5, 2), epoch_schedule(0.025, 0.0, 5, 5)
    ((5, 0.025, 0.0), (3, 0.015, 0.0), (0, 0.0, 0.0))
    """
    start_epoch = min(max(start_epoch, 0), epochs)
    start_alpha = round(sync.learning_rate(alpha, min_alpha, start_epoch / epochs), 12)
    return epochs - start_epoch, start_alpha, min_alpha


def parse_fault_hook(value: str | None) -> dict[int, tuple[float, str]]:
    """`W2V_TEST_ACTOR_EXIT` -> {actor index: (epochs after which its first incarnation exits, where)}.

    >>> parse_fault_hook("1:2"), parse_fault_hook("0:3:exchange"), parse_fault_hook("1:0.66"), parse_fault_hook(None)
    ({1: (2.0, 'epoch')}, {0: (3.0, 'exchange')}, {1: (0.66, 'epoch')}, {})
    >>> parse_fault_hook("1:0:spool")
    {1: (0.0, 'spool')}
    """
    if not value:
        return {}
    parts = value.split(":")
    where = parts.pop() if len(parts) == 3 else "epoch"
    try:
        actor, epochs = int(parts[0]), float(parts[1])
        if where not in FAULT_WHERE or len(parts) != 2:
            raise ValueError(where)
    except (ValueError, IndexError):
        raise ConfigError(f"{FAULT_ENV}={value!r}: expected ACTOR:EPOCHS[:WHERE] with WHERE one of "
                          f"{', '.join(FAULT_WHERE)}, e.g. 1:2 or 1:0.66 or 0:0:spool") from None
    return {actor: (epochs, where)}


def parse_pause_hook(value: str | None) -> tuple[str, str] | None:
    """`W2V_TEST_ACTOR_PAUSE` -> (start-up stage, directory), or None.

    >>> parse_pause_hook("spool:/tmp/x"), parse_pause_hook(None)
    (('spool', '/tmp/x'), None)
    """
    if not value:
        return None
    stage, _, folder = value.partition(":")
    if stage not in START_UP_STAGES or not folder:
        raise ConfigError(f"{PAUSE_ENV}={value!r}: expected STAGE:DIR with STAGE one of info, spool, start")
    return stage, folder


def gensim_fast_version() -> int:
    """gensim's FAST_VERSION: >= 0 when its compiled (Cython/BLAS) routines are in use, -1 if not."""
    try:
        from gensim.models.word2vec_inner import FAST_VERSION
    except ImportError:
        return -1
    return int(FAST_VERSION)


class _EpochRecorder:
    """When each epoch ended, its (racy, rough) training loss and the sync seconds then; the fault hook."""

    def __init__(self, exit_after: tuple[float, str] | None = None, pause: tuple[str, str] | None = None):
        # (wall-clock time at epoch end, the epoch's loss, cumulative seconds in the exchange and waiting for it)
        self.ends: list[tuple[float, float, float]] = []
        self.running_loss = 0.0  # gensim's running total at the last epoch end: it only grows over a process's life
        self.first_epoch = 0  # epochs done before this training run (a restart or resume)
        self.exit_after = exit_after  # fault injection (FAULT_ENV): die past these epochs, at a chunk end or exchange
        self.pause = pause  # fault injection (PAUSE_ENV): (start-up stage, directory) to wait in

    def epoch_end(self, running_loss: float, sync_seconds: float = 0.0) -> None:
        """`running_loss` is gensim's total since the model was built; the epoch's is what it added since the last end.

        >>> recorder = _EpochRecorder()
        >>> recorder.epoch_end(5.0); recorder.epoch_end(9.0)
        >>> [loss for _, loss, _ in recorder.ends]
        [5.0, 4.0]
        """
        self.ends.append((time.time(), running_loss - self.running_loss, sync_seconds))
        self.running_loss = running_loss

    def maybe_exit(self, where: str, epochs_done: float) -> None:
        """Fault injection: exit the process (as a crash would) once `epochs_done` (from the job's start,
        fractional) reaches the planned point, at `where` ("epoch": a chunk's end; "exchange": a take)."""
        if self.exit_after is not None and self.exit_after[1] == where and epochs_done >= self.exit_after[0]:
            logger.warning("fault injection: exiting the actor process in its %s after %g epoch(s)", where,
                           self.exit_after[0])
            os._exit(1)

    def maybe_pause(self, stage: str, node_id: str) -> None:
        """Fault injection: at start-up stage `stage`, say so in the pause directory and wait for its release."""
        if self.pause is None or self.pause[0] != stage:
            return
        retries.wait_for_release(self.pause[1], node_id)

    def at_start_up(self, stage: str, node_id: str) -> None:
        """The test hooks of a start-up stage's call (`info`, `spool`, `start`): pause, then exit."""
        self.maybe_pause(stage, node_id)
        self.maybe_exit(stage, 0.0)


class ChunkTrainer:
    """Trains one chunk (one file per worker thread) with gensim's compiled corpus_file routines.

    These are the functions gensim's own `train(corpus_file=...)` runs in each worker thread
    (`word2vec_corpusfile.train_epoch_cbow` / `train_epoch_sg`, without the GIL). Calling them per
    chunk instead of `train()` per chunk saves what `train()` redoes on every call: it rebuilds the
    compiled vocabulary from `wv` in Python (measured: 30-50 ms per call at a 34,000-word vocabulary,
    a third of a 20,000-word chunk's time; more with a bigger vocabulary) and starts new threads.
    Each thread trains its own file to its end (`model.workers` is 1 inside the routine, so its
    stop rule is the file's end and its learning rate decays over that file's words), from the
    chunk's start to its end learning rate.
    """

    def __init__(self, model: Any, workers: int):
        from gensim.models import word2vec_corpusfile as compiled

        self.model = model  # gensim Word2Vec, trained in place
        self.routine = compiled.train_epoch_sg if model.sg else compiled.train_epoch_cbow
        self.vocab = compiled.CythonVocab(model.wv, hs=model.hs, fasttext=False)  # built once, not per chunk
        self.memory = [model._get_thread_working_mem() for _ in range(workers)]  # per thread (work, neu1)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gensim-worker")
        self.cpu_seconds = 0.0  # CPU time of the gensim threads, all chunks: the node's training work
        model.workers, model.epochs, model.compute_loss = 1, 1, True  # see the class docstring

    def train(self, files: Sequence[tuple[str, int]], start_alpha: float, end_alpha: float) -> int:
        """Train one chunk: `files` are (path, words), one per thread. Returns the words read."""
        self.model.alpha, self.model.min_alpha = start_alpha, end_alpha
        jobs = [self.pool.submit(self._timed, path, words, work, neu1)
                for (path, words), (work, neu1) in zip(files, self.memory) if words]
        done = [job.result() for job in jobs]
        self.cpu_seconds += sum(cpu for _, cpu in done)
        return sum(words for words, _ in done)

    def _timed(self, path: str, words: int, work: Any, neu1: Any) -> tuple[int, float]:
        """One thread's file: (words read, the thread's CPU seconds). CPU time, not wall time: it is
        what a core of a real node spends, whatever else shares this machine's cores."""
        began = time.thread_time()
        result = self.routine(self.model, path, 0, self.vocab, 0, None, words, work, neu1, True)
        return result[2], time.thread_time() - began

    def close(self) -> None:
        self.pool.shutdown(wait=True)


class _CpuClock:
    """CPU seconds of this process and of its raylet (its parent in Ray) since `reset`.

    What a node spends on the exchange, measured so that it means the same on a real node and on
    simulated nodes sharing this machine's cores (wall times there mostly measure each other's
    turns): this process's CPU outside gensim's threads (the delta, the combining, applying, Ray's
    serialisation and RPC threads) plus the raylet's (it moves the objects between nodes). The
    raylet also serves anything else on its node (on the head node, the driver's fetches).
    """

    def __init__(self):
        parent = os.getppid()  # not Linux, or not started by a raylet (tests build actors directly): None
        self.raylet = parent if procfs.command_name(parent) == "raylet" else None  # the raylet's pid, or None
        self.began = self._now()

    def _now(self) -> tuple[float, float | None]:
        raylet = None if self.raylet is None else procfs.cpu_seconds(self.raylet)
        if raylet is None:  # the raylet is gone: the node is going down
            self.raylet = None
        return time.process_time(), raylet

    def reset(self) -> None:
        self.began = self._now()

    def elapsed(self) -> tuple[float, float | None]:
        """(this process's CPU seconds, its raylet's or None) since `reset`."""
        now = self._now()
        raylet = None if now[1] is None or self.began[1] is None else now[1] - self.began[1]
        return now[0] - self.began[0], raylet


def _listen_for_sigterm(actor: "TrainerActor") -> None:
    """SIGTERM (an operator's `kill`, an orchestrator stopping the process) becomes a notice the driver
    reads in `status`.

    Ray's own handler would exit at once and take the un-exchanged changes with it. Instead the
    actor keeps training; the driver exchanges every row at its next round and then stops it, so
    its successor loses nothing. Should the driver stop calling it (it is going too), the process
    exits once NOTICE_GRACE_SECONDS pass without a call: a driver busy elsewhere (recovering
    another actor, a long exchange) still reaches it. A whole node going away is better announced
    by draining it (`placement.draining_nodes`): its raylet stops its workers too. Handlers can
    only be set from the main thread (Ray runs an actor's constructor there); elsewhere, and
    outside Ray, nothing changes.
    """
    import signal

    if threading.current_thread() is not threading.main_thread() or not _in_ray_actor():
        return

    def exit_once_the_driver_is_silent():
        while time.monotonic() - actor.contact < NOTICE_GRACE_SECONDS:
            time.sleep(1.0)
        logger.warning("no call from the driver for %.0f s since SIGTERM: exiting", NOTICE_GRACE_SECONDS)
        os._exit(128 + signal.SIGTERM)

    def noticed(signum, frame):
        if actor.notice is None:
            actor.notice = "SIGTERM"
            logger.warning("SIGTERM: this trainer's changes go to the driver at the next exchange")
            threading.Thread(target=exit_once_the_driver_is_silent, name="w2v-notice", daemon=True).start()

    signal.signal(signal.SIGTERM, noticed)


def _node_id() -> str:
    """The Ray node this process runs on ("" outside Ray)."""
    try:
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""
    except Exception:
        return ""


def _in_ray_actor() -> bool:
    try:
        import ray

        return ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None
    except Exception:
        return False


def _was_restarted() -> bool:
    """True inside a Ray actor whose constructor runs again after its process died."""
    try:
        import ray

        if not ray.is_initialized():  # built outside Ray (tests, jobs.replay): asking would start a local instance
            return False
        with warnings.catch_warnings():  # Ray 2.60's own property reads its deprecated `actor_id`
            warnings.simplefilter("ignore", DeprecationWarning)
            return bool(ray.get_runtime_context().was_current_actor_reconstructed)
    except Exception:  # not in a Ray actor (tests build TrainerActor directly)
        return False


class TrainerActor:
    """One per node: a gensim model over this node's shards. Thin: the logic is in `sync`/`corpus`.

    Word pacing: the actor trains its spool chunk by chunk (`sync_words` words each, see
    `sync.chunks_per_epoch`); round r is chunk r % C of epoch r // C. The driver exchanges round r
    once the actor has trained chunk r (`take` waits for it); meanwhile the actor trains chunk r + 1,
    but it starts chunk r + 2 only after round r was applied (`advance`). So an actor is never more
    than two chunks of the others' words behind, however fast its node is: when the exchange cannot
    keep up, it waits, and the wait counts in its sync time.
    """

    LAG = 2  # chunk r may start once round r - LAG is applied: one exchange in flight beside training

    def __init__(self, config: TrainConfig, workers: int, exit_after: tuple[float, str] | None = None,
                 pause: tuple[str, str] | None = None):
        """Small arguments only: Ray reruns this on a restart, and arguments it had to keep in the object
        store (the vocabulary, a long shard list) could be gone by then. `spool` brings those."""
        self.config = config  # the job's parameters
        self.workers = workers  # gensim threads
        self.model: Any = None  # gensim Word2Vec, from spool()
        self.shards: list[Shard] = []  # this actor's shards, spooled in this order (spool)
        self.spool_dir: str | None = None  # made by spool(); removed by close(), or by a later actor after a crash
        self.spooled: Any = None  # SpoolStats (with the chunk files) once spool() ran
        self.book: sync.DeltaBook | None = None  # exchange bookkeeping, from start()
        self.thread: threading.Thread | None = None  # the chunk loop
        self.restarted = _was_restarted()  # Ray re-ran this constructor after the process died
        first = not self.restarted  # the test hooks act on a first incarnation only
        self.recorder = _EpochRecorder(exit_after if first else None, pause if first else None)  # epoch ends, loss
        self.progress = threading.Condition()  # guards the round counters below; notified when they move
        self.start_round = 0  # the round training starts at (after a restart or resume)
        self.rounds_done = 0  # rounds (chunks) trained, from round 0 of the job
        self.applied = -1  # the last round whose exchange the driver finished (`advance`)
        self.rounds = 0  # epochs x chunks per epoch
        self.counted: tuple[Sequence[int], int, int] | None = None  # `saturation`: (counts, words per epoch, chunks)
        self.row_updates_of: dict[int, sync.RowUpdates] = {}  # `saturation`'s expected updates per row, by K
        self.words_trained = 0  # words this process trained
        self.started = 0.0  # perf_counter when training started
        self.finished: float | None = None  # perf_counter when the chunk loop returned
        self.error: str | None = None  # training failure, reported by status()
        self.sync_seconds = 0.0  # time spent in take/apply (competes with training for CPU)
        self.wait_seconds = 0.0  # time the chunk loop waited for an exchange (the network did not keep up)
        self.peak_private = private_rss_bytes()  # the largest RssAnon seen at any call (sampled)
        self.notice: str | None = None  # why this process expects to go ("SIGTERM"), reported by status()
        self.contact = time.monotonic()  # the driver's last call (status, take, apply, advance): it is still there
        self.start_digest = ""  # recovery.weights_digest of the weights start() loaded
        self.start_alpha = 0.0  # the learning rate of the first chunk start() trains
        self.cpu = _CpuClock()  # CPU time of this process and its raylet since training started
        self.train_cpu = 0.0  # CPU seconds of the gensim threads (ChunkTrainer.cpu_seconds)
        self.loop_cpu = 0.0  # CPU seconds of the chunk loop's own thread (handing chunks to gensim's, between them)
        self.exchanges = 0  # exchanges this process took part in (each one's first slice starts at row 0)
        self.exchanged_bytes = 0  # bytes of the slices it took
        self.lock = threading.Lock()  # guards the book between the collective's round thread and calls
        self.peers: Any = None  # collective.PeerRounds once `join` ran (the collective transport), else None
        _listen_for_sigterm(self)

    def info(self) -> ActorInfo:
        """Where this actor runs and whether gensim's compiled routines are in use."""
        import ray

        node_id = ray.get_runtime_context().get_node_id()
        self.recorder.at_start_up("info", node_id)
        return ActorInfo(node_id=node_id, hostname=socket.gethostname(),
                         pid=os.getpid(), gensim_fast_version=gensim_fast_version(), workers=self.workers,
                         restarted=self.restarted)

    def spool(self, vocab: Vocabulary, shards: Sequence[Shard], chunks: int, expected_words: int
                ) -> Spooled:
        """Build the model from the global vocabulary, then spool `shards` to local plain files for
        gensim's corpus_file routines: `chunks` chunks of about expected_words / chunks words, one
        file per worker thread each (`spool.spool_chunks`)."""
        from gensim.models import Word2Vec

        self.recorder.at_start_up("spool", _node_id())
        self.model = Word2Vec(**self.config.gensim_kwargs(self.workers))  # untrained: vocabulary comes next
        self.model.build_vocab_from_freq(vocab.word_freq())
        if self.model.wv.index_to_key != list(vocab.words):
            raise RuntimeError("gensim reordered the vocabulary; rows would not match across actors")
        self.shards = list(shards)
        started = time.perf_counter()
        options = ReadOptions.of(self.config, vocab.phrasing)  # phrases joined as the counting pass joined them
        key = spool_key(self.shards, options, chunks, self.workers, expected_words)
        reused = self.spool_dir is None and self._adopt(key)  # a restart on this node: the dead process's spool
        if not reused:
            if self.spool_dir is None:  # here, not in the constructor: a bad --spool-dir is one error line
                self.spool_dir = new_spool_dir(self.config.spool_dir)
            self.spooled = spool_chunks(self.shards, options, self.spool_dir, chunks, self.workers, expected_words)
            write_spool_record(self.spooled, key)
        if self.config.sync_combine == "saturation":  # the global counts, for each row's expected updates a round
            self.counted = (vocab.counts, vocab.raw_words, max(chunks, 1))
        return Spooled(shards=len(self.shards), words=self.spooled.words, sentences=self.spooled.sentences,
                       bytes=self.spooled.bytes, bad_lines=self.spooled.bad_lines, chunks=len(self.spooled.chunks),
                       seconds=round(time.perf_counter() - started, 3), reused=reused, pid=os.getpid())

    def _adopt(self, key: str) -> bool:
        """Take over the finished spool of a dead trainer process of this host with the same `key`, if any."""
        adopted = adopt_spool(self.config.spool_dir, key)
        if adopted is None:
            return False
        self.spool_dir, self.spooled = adopted.path, adopted
        return True

    def weights(self) -> sync.Weights:
        """The model's trainable matrices (input vectors and output layer), live."""
        if self.model is None:
            raise ActorNotStarted(f"trainer process {os.getpid()} has no model: it was restarted since it spooled")
        found = {"vectors": self.model.wv.vectors}
        for name in ("syn1neg", "syn1"):
            if hasattr(self.model, name):
                found[name] = getattr(self.model, name)
        return found

    def start(self, initial: sync.Weights | None, exchange: bool, start_round: int = 0) -> None:
        """Load the shared initial weights, then train rounds `start_round`.. on a background thread.

        With `exchange`, a DeltaBook keeps the reference copy deltas are measured against (one
        more copy of the matrices); a lone actor needs none and never waits.
        """
        self.recorder.at_start_up("start", _node_id())
        if self.spooled is None:
            raise ActorNotStarted(f"trainer process {os.getpid()} has not spooled: it was restarted since")
        chunks = len(self.spooled.chunks)
        self.rounds = self.config.epochs * chunks
        self.start_round = self.rounds_done = min(max(start_round, 0), self.rounds)
        self.applied = self.start_round - 1
        self.recorder.first_epoch = self.start_round // chunks
        if initial is not None:
            for name, array in self.weights().items():
                np.copyto(array, initial[name])  # object-store arrays are read-only: copy into ours
        self.start_digest = weights_digest(self.weights())  # the driver compares it with what it sent
        self.start_alpha = sync.chunk_alphas(self.config.alpha, self.config.min_alpha, max(self.rounds, 1),
                                             self.start_round)[0]
        self.book = sync.DeltaBook(self.weights()) if exchange else None
        self.started = time.perf_counter()
        self.thread = threading.Thread(target=self._train, name="w2v-chunks", daemon=True)
        self.thread.start()

    def _train(self) -> None:
        c = self.config
        chunks = self.spooled.chunks
        trainer = ChunkTrainer(self.model, self.workers)
        self.cpu.reset()  # after the compiled vocabulary is built: from here on, training and exchanges
        loop_began = time.thread_time()
        try:
            for r in range(self.start_round, self.rounds):
                if self.book is not None:
                    self._wait_for(lambda: self.applied >= r - self.LAG)
                start_alpha, end_alpha = sync.chunk_alphas(c.alpha, c.min_alpha, self.rounds, r)
                words = trainer.train(chunks[r % len(chunks)], start_alpha, end_alpha)
                self.train_cpu = trainer.cpu_seconds
                with self.progress:
                    self.rounds_done = r + 1
                    self.words_trained += words
                    self.progress.notify_all()
                if (r + 1) % len(chunks) == 0:
                    self.recorder.epoch_end(float(self.model.running_training_loss),
                                            self.sync_seconds + self.wait_seconds)
                self.recorder.maybe_exit("epoch", (r + 1) / len(chunks))
                self.loop_cpu = time.thread_time() - loop_began
        except Exception as exc:  # reported to the driver by status()
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            trainer.close()
            with self.progress:
                self.finished = time.perf_counter()
                self.progress.notify_all()

    def _wait_for(self, ready) -> None:
        """Block the chunk loop until `ready()` (an exchange landed); the time counts as sync time."""
        began = time.perf_counter()
        with self.progress:
            self.progress.wait_for(ready)
        self.wait_seconds += time.perf_counter() - began

    # ------------------------------------------------------------------ the collective transport (`collective`)
    def join(self, spec: Any) -> None:
        """Exchange rounds with the other actors in group generation `spec` (a collective.GroupSpec), on a
        thread: the driver takes no part in the rounds. Called after `start`, and after every fault."""
        from .collective import PeerRounds

        self.contact = time.monotonic()
        self._started()
        if self.peers is None or self.peers.book is not self.book:  # a new start: a new round loop
            chunks = max(len(self.spooled.chunks), 1)
            self.peers = PeerRounds(self.weights, self.book, len(self.model.wv), self.rounds,
                                    self.config.sync_tiers, self.config.sync_combine, self._chunk_done,
                                    self.advance, self.lock,
                                    before_payload=lambda r: self.recorder.maybe_exit("exchange", r / chunks),
                                    row_updates=self.row_updates(spec.size))
        self.peers.start(spec)

    def warm_up(self) -> str | None:
        """Why the collective cannot run on this node (torch missing), else None: torch is imported now
        (seconds), so that joining the group later does not wait for it."""
        from .collective import torch_missing

        return torch_missing()

    def _started(self) -> None:
        """The collective's calls need a started process: one Ray restarted since is the actor's death."""
        if self.book is None:
            raise ActorNotStarted(f"trainer process {os.getpid()} was not started: it was restarted since")

    def _chunk_done(self, round_: int) -> bool:
        """Block until chunk `round_` is trained (False: training ended before it)."""
        with self.progress:
            self.progress.wait_for(lambda: self.rounds_done > round_ or self.finished is not None)
            return self.rounds_done > round_

    def request(self, full: bool = False, halt: bool = False, snapshot: bool = False) -> None:
        """The driver's wish for the group (`collective.PeerRounds.request`)."""
        self.contact = time.monotonic()
        self._joined()
        self.peers.request(full=full, halt=halt, snapshot=snapshot)

    def resolve(self, last_round: int) -> int:
        """After a fault: make `last_round` (`collective.settled_round` of the survivors) the last round applied
        here (`collective.PeerRounds.resolve`). Returns the last round applied here."""
        self.contact = time.monotonic()
        self._joined()
        return self.peers.resolve(last_round)

    def snapshot(self) -> tuple[int, sync.Weights]:
        """(round, the global weights after it): the reference copied after a requested full round."""
        self.contact = time.monotonic()
        self._joined()
        return self.peers.take_snapshot()

    def adopt_reference(self, reference: sync.Weights) -> None:
        """After a fault that took a round back here: another survivor's exact global weights
        (`collective.PeerRounds.adopt`)."""
        self.contact = time.monotonic()
        self._joined()
        self.peers.adopt(reference)

    def reference(self) -> sync.Weights:
        """The global weights as this member holds them (initial + every applied sum): a copy."""
        self.contact = time.monotonic()
        self._started()
        with self.lock:
            return sync.copy_weights(self.book.reference)

    def _joined(self) -> None:
        self._started()
        if self.peers is None or self.peers.book is not self.book:
            raise ActorNotStarted(f"trainer process {os.getpid()} has not joined the exchange group since it started")

    def take(self, start: int, stop: int, parts: int, round_: int | None = None) -> list:
        """This actor's change of rows [start, stop) since the last exchange, cut in `parts` pieces.

        With `round_`, first waits until chunk `round_` is trained (or training ended). Called with
        num_returns=parts+1: first whether this process could take part (False: Ray restarted it and
        the driver has not started it again), then piece j for actor j to reduce; the driver holds the
        refs as an `exchange.Handed`.
        """
        if self.book is None:
            return [False] + [None] * parts
        if round_ is not None:
            self._chunk_done(round_)
        self.contact = time.monotonic()
        self.recorder.maybe_exit("exchange", self.rounds_done / max(len(self.spooled.chunks), 1))
        began = time.perf_counter()
        rows = slice(start, stop)
        delta = self.book.take(self.weights(), rows)
        self.exchanges += start == 0
        self.exchanged_bytes += sync.nbytes(delta)
        pieces = sync.cut(delta, sync.split_rows(rows, parts), start)
        self.peak_private = max(self.peak_private, private_rss_bytes())
        self.sync_seconds += time.perf_counter() - began
        return [True, *pieces]

    def untake(self, start: int) -> bool:
        """The exchange of the slice at `start` failed elsewhere: keep its delta for the next one."""
        if self.book is None or start not in self.book.taken:
            return False
        self.book.untake(start)
        return True

    def row_updates(self, actors: int) -> sync.RowUpdates | None:
        """Each row's expected updates per member's round with `actors` members (`saturation`), the same on every
        member: from the global counts and the epoch's words over all members' chunks, not this member's words."""
        if self.counted is None:
            return None
        if actors not in self.row_updates_of:
            counts, words, chunks = self.counted
            c = self.config
            self.row_updates_of[actors] = sync.RowUpdates(counts, words, words / (chunks * actors), c.window,
                                                          0 if c.hs else c.negative, c.sample, sg=c.sg)
        return self.row_updates_of[actors]

    def reduce(self, *pieces: sync.Weights, rows: slice | None = None, exchange: int = 0, full: bool = False
               ) -> sync.Weights:
        """The combined delta of every actor for the piece this actor owns (`sync.sum_deltas`): `rows`, at
        exchange number `exchange` of the tier schedule (`full`: every row), for `saturation`'s floors."""
        began = time.perf_counter()
        floors = None
        updates = self.row_updates(len(pieces)) if rows is not None else None  # None unless `saturation`
        if updates is not None:
            floors = updates.floors(rows, exchange, len(pieces), self.config.sync_tiers, final=full)
        total = sync.sum_deltas(pieces, self.config.sync_combine, floors)
        self.sync_seconds += time.perf_counter() - began
        return total

    def apply(self, start: int, stop: int, *sums: sync.Weights) -> bool:
        """Add the other actors' change of rows [start, stop) from the owners' summed pieces.

        False when this process never took those rows (Ray restarted it in between).
        """
        if self.book is None or start not in self.book.taken:
            return False
        began = time.perf_counter()
        self.book.apply(self.weights(), slice(start, stop), *sums)
        self.sync_seconds += time.perf_counter() - began
        return True

    def advance(self, round_: int) -> None:
        """Round `round_`'s exchange is complete here: the chunk loop may start chunk round_ + LAG."""
        self.contact = time.monotonic()
        with self.progress:
            self.applied = max(self.applied, round_)
            self.progress.notify_all()

    def status(self) -> ActorStatus:
        """Progress: rounds and epochs done, whether training ended, errors, timings, memory."""
        self.contact = time.monotonic()
        self.peak_private = max(self.peak_private, private_rss_bytes())
        now = self.finished or time.perf_counter()
        before = [None] * self.recorder.first_epoch  # epochs trained by an earlier process: their times are gone
        chunks = max(len(self.spooled.chunks), 1) if self.spooled else 1
        process_cpu, raylet_cpu = self.cpu.elapsed()
        sync_seconds = self.sync_seconds + (self.peers.seconds if self.peers else 0.0)
        return ActorStatus(
            pid=os.getpid(), rounds_done=self.rounds_done, epochs_done=self.rounds_done // chunks, rounds=self.rounds,
            start_round=self.start_round, start_epoch=self.recorder.first_epoch, words_trained=self.words_trained,
            done=self.finished is not None, error=self.error, seconds=round(now - self.started, 3),
            sync_seconds=round(sync_seconds + self.wait_seconds, 3), wait_seconds=round(self.wait_seconds, 3),
            epoch_ends=before + [round(t, 3) for t, _, _ in self.recorder.ends],  # wall clock: comparable
            epoch_loss=before + [loss for _, loss, _ in self.recorder.ends],
            epoch_sync=before + [round(sync, 3) for _, _, sync in self.recorder.ends], peak_rss=peak_rss_bytes(),
            peak_private_rss=self.peak_private, notice=self.notice, start_digest=self.start_digest,
            start_alpha=self.start_alpha, train_cpu_seconds=round(self.train_cpu, 3),
            exchange_cpu_seconds=round(process_cpu - self.train_cpu, 3), loop_cpu_seconds=round(self.loop_cpu, 4),
            raylet_cpu_seconds=None if raylet_cpu is None else round(raylet_cpu, 3),
            exchanges=self.peers.status.exchanges if self.peers else self.exchanges,
            exchanged_bytes=self.peers.status.exchanged_bytes if self.peers else self.exchanged_bytes,
            peer=self.peers.report() if self.peers else None)

    def close(self) -> None:
        if self.spool_dir is not None:
            shutil.rmtree(self.spool_dir, ignore_errors=True)
