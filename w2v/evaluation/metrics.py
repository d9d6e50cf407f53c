"""The evaluation's measures, computed with TensorFlow: `evaluate` builds eval.json.

What it measures, all by cosine on l2-normalized rows:

- nearest neighbours of seeded frequent words (or chosen ones);
- analogies (`questions-words.txt` format, solved in `analogies`): 3CosAdd and 3CosMul, per section
  and in total, over the `restrict_vocab` most frequent words, OOV questions skipped and counted as
  gensim does;
- word-pair similarity (`wordsim353.tsv` format): Spearman and Pearson correlation, with OOV rate;
- `similarity` and `doesnt_match` for ad-hoc words.

Every search is a batched `matmul` + `top_k`, with the batch sized so that at most `MAX_SCORES`
scores exist at once: never a V x V matrix. Files are parsed by `sets` (the same matching
rules as gensim, so the scores can be cross-checked against gensim's); pictures and the human
report are `report`'s job; where the evaluation runs (this process or a Ray task of its own) and
how it is published are `stage`'s. TensorFlow comes from `tf_common`, inside the functions
here, never at module import, so trainer actors and the CLI's other commands never pay for it.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from typing import Any, Sequence

import numpy as np

from . import sets
from .analogies import analogy_scores
from ..errors import EvaluationError
from .tf_common import MAX_SCORES, import_tensorflow, rows_per_batch, unit_rows

logger = logging.getLogger(__name__)

SAMPLE_FROM_TOP = 100  # evaluation words are drawn among this many most frequent words
SAMPLE_WORDS = 16
NEIGHBORS = 8


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
    tf = import_tensorflow()
    vocab_size = vectors.shape[0]
    k = min(k, vocab_size - 1)
    unit = unit_rows(tf, vectors)
    batch = rows_per_batch(vocab_size, max_scores)
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


def cosine_pairs(vectors: np.ndarray, rows: Sequence[tuple[int, int]]) -> np.ndarray:
    """Cosine similarity of each pair of rows.

    >>> cosine_pairs(np.array([[1.0, 0.0], [1.0, 1.0]]), [(0, 1), (1, 1)]).round(3).tolist()  # doctest: +SKIP
    [0.707, 1.0]
    """
    tf = import_tensorflow()
    pairs = tf.constant(np.asarray(rows, dtype=np.int64).reshape(-1, 2))
    a = tf.math.l2_normalize(tf.gather(tf.convert_to_tensor(vectors, tf.float32), pairs[:, 0]), axis=1)
    b = tf.math.l2_normalize(tf.gather(tf.convert_to_tensor(vectors, tf.float32), pairs[:, 1]), axis=1)
    return tf.reduce_sum(a * b, axis=1).numpy()


def pair_scores(vectors: np.ndarray, words: Sequence[str], uri: str,
                restrict_vocab: int = sets.DEFAULT_RESTRICT_VOCAB) -> dict[str, Any]:
    """Spearman (and Pearson) correlation of cosines with human judgements; OOV pairs skipped and counted."""
    from scipy import stats

    pairs = sets.read_pairs(uri, words, min(restrict_vocab, len(words)))
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
    tf = import_tensorflow()
    unit = tf.math.l2_normalize(tf.gather(tf.convert_to_tensor(vectors, tf.float32), list(rows)), axis=1)
    mean = tf.math.l2_normalize(tf.reduce_mean(unit, axis=0), axis=0)
    return int(rows[int(tf.argmin(tf.linalg.matvec(unit, mean)))])


def evaluate(vectors: np.ndarray, words: Sequence[str], seed: int, threads: int = 1,
             analogies: Sequence[str] = (sets.DEFAULT_ANALOGIES,),
             pairs: Sequence[str] = sets.DEFAULT_PAIRS,
             restrict_vocab: int = sets.DEFAULT_RESTRICT_VOCAB) -> dict[str, Any]:
    """The evaluation report (eval.json): neighbours of 16 seeded frequent words, analogies, word pairs, timings."""
    started = time.perf_counter()
    tf = import_tensorflow(threads)
    rows = sample_rows(len(words), seed)
    indices, cosines = nearest_neighbors(vectors, rows)
    neighbors = {
        words[row]: [{"word": words[int(j)], "cosine": round(float(c), 4)} for j, c in zip(idx, cos)]
        for row, idx, cos in zip(rows, indices, cosines)
    }
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
