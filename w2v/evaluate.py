"""Evaluate trained vectors with TensorFlow, in a Ray task of its own.

What it measures, all by cosine on l2-normalized rows:

- nearest neighbours of seeded frequent words (or chosen ones);
- analogies (`questions-words.txt` format, solved in `analogies`): 3CosAdd and 3CosMul, per section
  and in total, over the `restrict_vocab` most frequent words, OOV questions skipped and counted as
  gensim does;
- word-pair similarity (`wordsim353.tsv` format): Spearman and Pearson correlation, with OOV rate;
- `similarity` and `doesnt_match` for ad-hoc words.

Every search is a batched `matmul` + `top_k`, with the batch sized so that at most `MAX_SCORES`
scores exist at once: never a V x V matrix. Files are parsed by `eval_sets` (the same matching
rules as gensim, so the scores can be cross-checked against gensim's); pictures and the human
report are `report`'s job. TensorFlow is imported inside the functions here, never at module
import, so trainer actors and the CLI's other commands never pay for it.
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

from . import eval_sets
from .errors import EvaluationError
from .extras import require

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
            tf = require("tensorflow", "w2v's evaluation")

            if threads:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            tf.config.list_logical_devices()  # initializes the devices while stderr is silenced
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    return require("tensorflow", "w2v's evaluation")


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


def _unit(tf, vectors: np.ndarray):
    return tf.math.l2_normalize(tf.convert_to_tensor(vectors, dtype=tf.float32), axis=1)


def cosine_pairs(vectors: np.ndarray, rows: Sequence[tuple[int, int]]) -> np.ndarray:
    """Cosine similarity of each pair of rows.

    >>> cosine_pairs(np.array([[1.0, 0.0], [1.0, 1.0]]), [(0, 1), (1, 1)]).round(3).tolist()  # doctest: +SKIP
    [0.707, 1.0]
    """
    tf = _tensorflow()
    pairs = tf.constant(np.asarray(rows, dtype=np.int64).reshape(-1, 2))
    a = tf.math.l2_normalize(tf.gather(tf.convert_to_tensor(vectors, tf.float32), pairs[:, 0]), axis=1)
    b = tf.math.l2_normalize(tf.gather(tf.convert_to_tensor(vectors, tf.float32), pairs[:, 1]), axis=1)
    return tf.reduce_sum(a * b, axis=1).numpy()


def pair_scores(vectors: np.ndarray, words: Sequence[str], uri: str,
                restrict_vocab: int = eval_sets.DEFAULT_RESTRICT_VOCAB) -> dict[str, Any]:
    """Spearman (and Pearson) correlation of cosines with human judgements; OOV pairs skipped and counted."""
    from scipy import stats

    pairs = eval_sets.read_pairs(uri, words, min(restrict_vocab, len(words)))
    result: dict[str, Any] = {"file": pairs.name, "pairs": len(pairs.rows) + pairs.oov, "evaluated": len(pairs.rows),
                              "oov": pairs.oov, "oov_ratio": round(100 * pairs.oov / (len(pairs.rows) + pairs.oov), 2),
                              "invalid_lines": pairs.invalid, "spearman": None, "spearman_p": None, "pearson": None}
    if len(pairs.rows) >= 3:
        model = cosine_pairs(vectors, pairs.rows)
        spearman = stats.spearmanr(pairs.gold, model)
        result.update(spearman=round(float(spearman[0]), 4), spearman_p=float(spearman[1]),
                      pearson=round(float(stats.pearsonr(pairs.gold, model)[0]), 4))
    return result


def doesnt_match(vectors: np.ndarray, rows: Sequence[int]) -> int:
    """The row farthest (cosine) from the normalized mean of the rows' unit vectors, as gensim's `doesnt_match`."""
    if len(rows) < 2:
        raise EvaluationError(f"doesnt_match needs at least 2 words, got {len(rows)}")
    tf = _tensorflow()
    unit = tf.math.l2_normalize(tf.gather(tf.convert_to_tensor(vectors, tf.float32), list(rows)), axis=1)
    mean = tf.math.l2_normalize(tf.reduce_mean(unit, axis=0), axis=0)
    return int(rows[int(tf.argmin(tf.linalg.matvec(unit, mean)))])


def evaluate(vectors: np.ndarray, words: Sequence[str], seed: int, threads: int = 1,
             analogies: Sequence[str] = (eval_sets.DEFAULT_ANALOGIES,),
             pairs: Sequence[str] = eval_sets.DEFAULT_PAIRS,
             restrict_vocab: int = eval_sets.DEFAULT_RESTRICT_VOCAB) -> dict[str, Any]:
    """The evaluation report (eval.json): neighbours of 16 seeded frequent words, analogies, word pairs, timings."""
    started = time.perf_counter()
    tf = _tensorflow(threads)
    rows = sample_rows(len(words), seed)
    indices, cosines = nearest_neighbors(vectors, rows)
    neighbors = {
        words[row]: [{"word": words[int(j)], "cosine": round(float(c), 4)} for j, c in zip(idx, cos)]
        for row, idx, cos in zip(rows, indices, cosines)
    }
    from .analogies import analogy_scores

    analogy = [analogy_scores(vectors, words, uri, restrict_vocab) for uri in analogies]
    for a in analogy:
        logger.info("analogies %s: 3CosAdd %s, 3CosMul %s, %s%% OOV, %.1f s", a["file"],
                    a["total"]["3CosAdd"]["accuracy"], a["total"]["3CosMul"]["accuracy"], a["oov_ratio"], a["seconds"])
    return {
        "neighbors": neighbors,
        "sample": {"seed": seed, "words": len(rows), "from_top": SAMPLE_FROM_TOP, "k": NEIGHBORS},
        "analogies": analogy,
        "pairs": [pair_scores(vectors, words, uri, restrict_vocab) for uri in pairs],
        "shape": list(vectors.shape),
        "runtime": {
            "seconds": round(time.perf_counter() - started, 3),
            "tensorflow": tf.__version__,
            "devices": [d.name for d in tf.config.list_logical_devices()],
            "host": socket.gethostname(),
            "pid": os.getpid(),  # a Ray task's worker, or the calling process (`w2v eval` without a cluster)
        },
    }


def summary(evaluation: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of an evaluation, for the manifest."""
    return {
        "seconds": evaluation["runtime"]["seconds"],
        "analogies": {a["file"]: {**{m: a["total"][m]["accuracy"] for m in a["methods"]}, "oov_ratio": a["oov_ratio"]}
                      for a in evaluation.get("analogies", [])},
        "pairs": {p["file"]: {"spearman": p["spearman"], "oov_ratio": p["oov_ratio"]}
                  for p in evaluation.get("pairs", [])},
    }


def _evaluate_task(vectors: np.ndarray, words: Sequence[str], seed: int, threads: int, use_gpu: bool,
                   projector_top: int = 0, options: dict[str, Any] | None = None):
    """`evaluate` inside a Ray worker: (evaluation, projector files as name -> bytes).

    Without a GPU, CUDA is hidden so TF does not probe for one. The projector checkpoint is
    written here because this is where TensorFlow lives: the driver never imports it.
    """
    if not use_gpu and "tensorflow" not in sys.modules:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    from .projector import projector_files

    evaluation = evaluate(vectors, words, seed, threads, **(options or {}))
    return evaluation, (projector_files(vectors, words, projector_top) if projector_top else {})


def evaluate_remote(vectors_ref, words: Sequence[str], seed: int, num_cpus: float, num_gpus: float,
                    projector_top: int = 0, options: dict[str, Any] | None = None):
    """Start `_evaluate_task` as a separate Ray task with its own resources; returns its ObjectRef."""
    import ray

    task = ray.remote(_evaluate_task).options(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=1,
                                              name="w2v-evaluate")
    return task.remote(vectors_ref, list(words), seed, max(1, int(num_cpus)), num_gpus > 0, projector_top, options)


def format_neighbors(neighbors: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One printable line per word: `word: n1 (0.81), n2 (0.77), ...` (control characters escaped)."""
    from .display import printable

    return [f"{printable(word)}: " + ", ".join(f"{printable(n['word'])} ({n['cosine']:.2f})" for n in found)
            for word, found in neighbors.items()]
