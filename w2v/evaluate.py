"""Evaluate trained vectors with TensorFlow, in a Ray task of its own.

What it measures, all by cosine on l2-normalized rows:

- nearest neighbours of seeded frequent words (or chosen ones);
- analogies (`questions-words.txt` format): 3CosAdd and 3CosMul, per section and in total, over the
  `restrict_vocab` most frequent words, OOV questions skipped and counted as gensim does;
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


def _unit(tf, vectors: np.ndarray):
    return tf.math.l2_normalize(tf.convert_to_tensor(vectors, dtype=tf.float32), axis=1)


ANALOGY_METHODS = ("3CosAdd", "3CosMul")
ANALOGY_TOPN = 5  # gensim looks at this many candidates for one that is not a question word
COSMUL_EPSILON = 1e-6  # gensim's most_similar_cosmul


def solve_analogies(vectors: np.ndarray, questions: np.ndarray, canonical: np.ndarray,
                    methods: Sequence[str] = ANALOGY_METHODS, max_scores: int = MAX_SCORES) -> dict[str, np.ndarray]:
    """method -> whether each question `a:b :: c:expected` (rows, n x 4) is answered right (n booleans).

    Candidates are the first `len(canonical)` rows (`restrict_vocab`); `canonical[row]` is the row
    standing for a candidate's key (its most frequent case variant). Like gensim, the answer is the
    best of the top 5 candidates (a, b, c excluded) whose key is not a question word.
    3CosAdd: argmax cos(x, b - a + c); 3CosMul: argmax cos'(x,b) cos'(x,c) / (cos'(x,a) + 1e-6),
    cos' = (1 + cos) / 2 (Levy and Goldberg 2014).

    Both need only the cosines of the question words with every candidate, and a question set
    has few distinct words (905 for the 19,544 questions of questions-words.txt): those cosines
    are computed once per block of candidates (one matmul); then each question is a few
    element-wise operations on three of their rows and an argmax, in one TensorFlow graph. The
    rare question whose best candidate is a case variant of a question word is solved again with
    gensim's top-5 rule (`_answers_by_top_k`).
    """
    unknown = set(methods) - set(ANALOGY_METHODS)
    if unknown:
        raise ValueError(f"analogy methods {sorted(unknown)}: must be among {ANALOGY_METHODS}")
    n = len(questions)
    if not n:
        return {m: np.zeros(0, dtype=bool) for m in methods}
    tf = _tensorflow()
    restrict = len(canonical)
    unit = _unit(tf, vectors[:restrict])
    distinct, position = np.unique(questions[:, :3], return_inverse=True)
    position = position.reshape(-1, 3).astype(np.int32)  # question -> rows of `distinct` for a, b, c
    asked = tf.gather(unit, distinct)
    block = max(1, min(restrict, max_scores // len(distinct)))  # candidate columns per block
    batch = max(1, max_scores // block)  # questions per step
    best = {m: (np.full(n, -np.inf, dtype=np.float32), np.zeros(n, dtype=np.int64)) for m in ANALOGY_METHODS}
    step = _analogy_step()
    for first_col in range(0, restrict, block):
        last_col = min(first_col + block, restrict)
        cosines = tf.matmul(asked, unit[first_col:last_col], transpose_b=True)  # distinct words x block
        for start in range(0, n, batch):
            rows = questions[start : start + batch, :3]
            inside = np.nonzero((rows >= first_col) & (rows < last_col))  # a, b, c in this block: excluded
            excluded = np.stack([inside[0], rows[inside] - first_col], axis=1).astype(np.int64)
            for m, (value, index) in zip(ANALOGY_METHODS, step(cosines, position[start : start + batch], excluded)):
                old_value, old_index = (a[start : start + batch] for a in best[m])
                better = value.numpy() > old_value  # ties: the earlier (more frequent) row, as argmax
                old_value[better] = value.numpy()[better]
                old_index[better] = index.numpy()[better] + first_col
    results = {}
    for m in methods:
        winner = canonical[best[m][1]]
        results[m] = winner == questions[:, 3]
        ambiguous = np.nonzero((winner[:, None] == questions[:, :3]).any(axis=1))[0]  # a case variant won
        if len(ambiguous):
            results[m][ambiguous] = _answers_by_top_k(tf, unit, questions[ambiguous], canonical, m, max_scores)
    return results


_STEP = None  # the compiled TensorFlow graph of one analogy step, built once per process


def _analogy_step():
    """A tf.function: (cosines of distinct words x block, question positions n x 3, excluded (question, column)
    pairs) -> per method, the best score and column of the block, a, b and c excluded."""
    global _STEP
    if _STEP is None:
        tf = _tensorflow()

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None, 3], tf.int32),
                                      tf.TensorSpec([None, 2], tf.int64)])
        def step(cosines, position, excluded):
            cos_a, cos_b, cos_c = (tf.gather(cosines, position[:, i]) for i in range(3))
            minus_inf = tf.fill(tf.shape(excluded)[:1], tf.constant(-np.inf, tf.float32))
            out = []
            for scores in _analogy_scores(tf, cos_a, cos_b, cos_c):
                scores = tf.tensor_scatter_nd_update(scores, excluded, minus_inf)
                out.append((tf.reduce_max(scores, axis=1), tf.argmax(scores, axis=1)))
            return out

        _STEP = step
    return _STEP


def _analogy_scores(tf, cos_a, cos_b, cos_c):
    """(3CosAdd, 3CosMul) scores from the candidates' cosines with a, b and c."""
    add = cos_b - cos_a + cos_c  # = cos(x, b - a + c) up to a positive factor: the same argmax
    mul = ((1.0 + cos_b) / 2.0) * ((1.0 + cos_c) / 2.0) / ((1.0 + cos_a) / 2.0 + COSMUL_EPSILON)
    return add, mul


def _answers_by_top_k(tf, unit, questions: np.ndarray, canonical: np.ndarray, method: str,
                      max_scores: int) -> np.ndarray:
    """gensim's rule in full for a few questions: the top 8 candidates, then `_gensim_answer`."""
    k = min(ANALOGY_TOPN + 3, len(canonical))
    batch = max(1, max_scores // len(canonical))
    scores_out, rows_out = [], []
    for start in range(0, len(questions), batch):
        q = questions[start : start + batch]
        cos = [tf.matmul(tf.gather(unit, q[:, i]), unit, transpose_b=True) for i in range(3)]
        scores = _analogy_scores(tf, *cos)[ANALOGY_METHODS.index(method)]
        top = tf.math.top_k(scores, k=k)
        scores_out.append(top.values.numpy())
        rows_out.append(top.indices.numpy())
    return _gensim_answer(np.concatenate(scores_out), np.concatenate(rows_out), questions, canonical)


def _gensim_answer(scores: np.ndarray, rows: np.ndarray, questions: np.ndarray, canonical: np.ndarray) -> np.ndarray:
    """Whether gensim's rule picks the expected word from each question's candidates (n x m, any order)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    rows = np.take_along_axis(rows, order, axis=1)
    n = len(questions)
    # most_similar drops a, b and c themselves, then returns the best 5 of the rest
    kept = ~(rows[:, None, :] == questions[:, :3, None]).any(axis=1)
    rank = np.cumsum(kept, axis=1)
    kept &= rank <= ANALOGY_TOPN
    top = np.where(kept, canonical[rows], -1)
    # then takes the first whose key is not a question word, or keeps the last one when none is
    usable = kept & ~(top[:, None, :] == questions[:, :3, None]).any(axis=1)
    last = np.where(kept, np.arange(kept.shape[1]), -1).max(axis=1)
    pick = np.where(usable.any(axis=1), usable.argmax(axis=1), last)
    return top[np.arange(n), pick] == questions[:, 3]


def complete_analogy(vectors: np.ndarray, rows: Sequence[int], k: int = 5,
                     method: str = "3CosAdd") -> tuple[np.ndarray, np.ndarray]:
    """`a is to b as c is to ?`: the k best rows (a, b, c excluded) and their scores, over the whole vocabulary."""
    if method not in ANALOGY_METHODS:
        raise ValueError(f"analogy method {method!r}: must be one of {ANALOGY_METHODS}")
    tf = _tensorflow()
    unit = _unit(tf, vectors)
    q = tf.constant([list(rows)], dtype=tf.int32)
    a, b, c = (tf.gather(unit, q[:, i]) for i in range(3))
    if method == "3CosAdd":
        scores = tf.matmul(tf.math.l2_normalize(b - a + c, axis=1), unit, transpose_b=True)
    else:
        cos_a, cos_b, cos_c = ((tf.matmul(x, unit, transpose_b=True) + 1.0) / 2.0 for x in (a, b, c))
        scores = cos_b * cos_c / (cos_a + COSMUL_EPSILON)
    scores = tf.tensor_scatter_nd_update(scores, [[0, int(r)] for r in rows], [-np.inf] * 3)
    top = tf.math.top_k(scores, k=min(k, vectors.shape[0] - 3))
    return top.indices.numpy()[0], top.values.numpy()[0]


def analogy_scores(vectors: np.ndarray, words: Sequence[str], uri: str = eval_sets.DEFAULT_ANALOGIES,
                   restrict_vocab: int = eval_sets.DEFAULT_RESTRICT_VOCAB,
                   methods: Sequence[str] = ANALOGY_METHODS) -> dict[str, Any]:
    """Analogy accuracy per section and in total, for each method; OOV questions are skipped and counted."""
    started = time.perf_counter()
    restrict = min(restrict_vocab, len(words))
    sections, invalid = eval_sets.read_analogies(uri, words, restrict)
    index = eval_sets.vocabulary_index(words, restrict)
    canonical = eval_sets.canonical_rows(words, index, restrict)
    questions = np.array([q for s in sections for q in s.questions], dtype=np.int64).reshape(-1, 4)
    correct = solve_analogies(vectors, questions, canonical, methods)
    rows, start = [], 0
    for section in sections + [None]:  # None: the total
        if section is None:
            name, sl, oov = "total", slice(0, len(questions)), sum(s.oov for s in sections)
        else:
            name, sl, oov = section.name, slice(start, start + len(section.questions)), section.oov
            start += len(section.questions)
        n = sl.stop - sl.start
        row: dict[str, Any] = {"section": name, "questions": n + oov, "evaluated": n, "oov": oov}
        for m in methods:
            hits = int(correct[m][sl].sum())
            row[m] = {"correct": hits, "accuracy": round(hits / n, 4) if n else None}
        rows.append(row)
    total = rows[-1]
    return {"file": os.path.basename(eval_sets.resolve(uri)), "restrict_vocab": restrict, "methods": list(methods),
            "sections": rows[:-1], "total": total, "invalid_lines": invalid,
            "oov_ratio": round(100 * total["oov"] / max(total["questions"], 1), 2),
            "seconds": round(time.perf_counter() - started, 3)}


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


def rows_of(words: Sequence[str], query: Sequence[str], where: str) -> list[int]:
    """Rows of query words, or an EvaluationError naming every unknown one."""
    index = {w: i for i, w in enumerate(words)}
    missing = [w for w in query if w not in index]
    if missing:
        raise EvaluationError(f"not in the vocabulary of {where}: {', '.join(missing)}")
    return [index[w] for w in query]


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
    """One printable line per word: `word: n1 (0.81), n2 (0.77), ...`."""
    return [f"{word}: " + ", ".join(f"{n['word']} ({n['cosine']:.2f})" for n in found)
            for word, found in neighbors.items()]
