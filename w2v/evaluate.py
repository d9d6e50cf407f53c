"""Evaluate trained vectors with TensorFlow, in a Ray task of its own.

TensorFlow is imported inside the functions here, never at module import, so trainer actors and
the CLI's other commands never pay for it. Similarities are cosines: the matrix is l2-normalized
once, and neighbours come from batched `matmul` + `top_k`, with the batch sized so that at most
`MAX_SCORES` scores exist at once: never a V x V matrix.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import sys
import time
from typing import Any, Sequence

import numpy as np

logger = logging.getLogger(__name__)

MAX_SCORES = 1 << 25  # scores held at once per batch (128 MiB of float32)
SAMPLE_FROM_TOP = 100  # evaluation words are drawn among this many most frequent words
SAMPLE_WORDS = 16
NEIGHBORS = 8


def _tensorflow(threads: int | None = None):
    """Import and initialize TensorFlow quietly, thread pools sized to what the task was given.

    TF 2.21 prints absl lines (oneDNN, "no CUDA drivers", cuInit) before its log level applies,
    and `ray job logs` would carry them: file descriptor 2 is silenced while TF imports and
    initializes its devices, nothing else. Errors still surface as Python exceptions.
    """
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            import tensorflow as tf

            if threads:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            tf.config.list_logical_devices()  # initializes the devices while stderr is silenced
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    import tensorflow as tf

    return tf


def sample_rows(vocab_size: int, seed: int, count: int = SAMPLE_WORDS, top: int = SAMPLE_FROM_TOP) -> list[int]:
    """Seeded random rows among the `top` most frequent words (rows are sorted by frequency).

    >>> sample_rows(1000, seed=0) == sample_rows(1000, seed=0), len(sample_rows(5, seed=0))
    (True, 5)
    """
    pool = min(top, vocab_size)
    return sorted(random.Random(seed).sample(range(pool), min(count, pool)))


def nearest_neighbors(vectors: np.ndarray, rows: Sequence[int], k: int = NEIGHBORS,
                      max_scores: int = MAX_SCORES) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest rows by cosine of each query row, itself excluded: (indices, cosines), each len(rows) x k.

    Runs on whatever device TensorFlow picks (the GPU when the task was given one).
    """
    tf = _tensorflow()
    vocab_size = vectors.shape[0]
    k = min(k, vocab_size - 1)
    unit = tf.math.l2_normalize(tf.convert_to_tensor(vectors, dtype=tf.float32), axis=1)
    batch = max(1, max_scores // max(vocab_size, 1))
    indices, cosines = [], []
    for start in range(0, len(rows), batch):
        query_rows = tf.constant(list(rows[start : start + batch]), dtype=tf.int32)
        scores = tf.matmul(tf.gather(unit, query_rows), unit, transpose_b=True)  # batch x V
        # A word is its own nearest neighbour: mask it out.
        self_mask = tf.one_hot(query_rows, vocab_size, on_value=-np.inf, off_value=0.0, dtype=tf.float32)
        top = tf.math.top_k(scores + self_mask, k=k)
        indices.append(top.indices.numpy())
        cosines.append(top.values.numpy())
    if not indices:
        return np.zeros((0, k), dtype=np.int32), np.zeros((0, k), dtype=np.float32)
    return np.concatenate(indices), np.concatenate(cosines)


def evaluate(vectors: np.ndarray, words: Sequence[str], seed: int, threads: int = 1) -> dict[str, Any]:
    """The evaluation report: the 8 nearest neighbours of 16 seeded frequent words, with timings."""
    started = time.perf_counter()
    tf = _tensorflow(threads)
    rows = sample_rows(len(words), seed)
    indices, cosines = nearest_neighbors(vectors, rows)
    neighbors = {
        words[row]: [{"word": words[int(j)], "cosine": round(float(c), 4)} for j, c in zip(idx, cos)]
        for row, idx, cos in zip(rows, indices, cosines)
    }
    return {
        "neighbors": neighbors,
        "sample": {"seed": seed, "words": len(rows), "from_top": SAMPLE_FROM_TOP, "k": NEIGHBORS},
        "runtime": {
            "seconds": round(time.perf_counter() - started, 3),
            "tensorflow": tf.__version__,
            "devices": [d.name for d in tf.config.list_logical_devices()],
            "host": socket.gethostname(),
        },
    }


def _evaluate_task(vectors: np.ndarray, words: Sequence[str], seed: int, threads: int, use_gpu: bool):
    """`evaluate` inside a Ray worker; without a GPU, CUDA is hidden so TF does not probe for one."""
    if not use_gpu and "tensorflow" not in sys.modules:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    return evaluate(vectors, words, seed, threads)


def evaluate_remote(vectors_ref, words: Sequence[str], seed: int, num_cpus: float, num_gpus: float):
    """Start `evaluate` as a separate Ray task with its own resources; returns its ObjectRef."""
    import ray

    task = ray.remote(_evaluate_task).options(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=1,
                                              name="w2v-evaluate")
    return task.remote(vectors_ref, list(words), seed, max(1, int(num_cpus)), num_gpus > 0)


def format_neighbors(neighbors: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One printable line per word: `word: n1 (0.81), n2 (0.77), ...`."""
    return [f"{word}: " + ", ".join(f"{n['word']} ({n['cosine']:.2f})" for n in found)
            for word, found in neighbors.items()]
