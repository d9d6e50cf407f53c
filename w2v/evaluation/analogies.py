"""Analogies `a : b :: c : ?` in TensorFlow: 3CosAdd and 3CosMul, scored the way gensim scores them.

`analogy_scores` reads a `questions-words.txt`-style file (via `sets`) and reports accuracy
per section and in total; `solve_analogies` is the batched solver; `complete_analogy` answers one
ad-hoc question. A question set has few distinct words (905 for the 19,544 questions of
`questions-words.txt`), so the solver computes their cosines with the candidates once per block of
candidates and never more than `MAX_SCORES` scores at once: never V x V.
"""

from __future__ import annotations

import os
import time
from typing import Any, Sequence

import numpy as np

from . import sets
from .tf_common import MAX_SCORES, import_tensorflow, rows_per_batch, unit_rows

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
    tf = import_tensorflow()
    restrict = len(canonical)
    unit = unit_rows(tf, vectors[:restrict])
    distinct, position = np.unique(questions[:, :3], return_inverse=True)
    position = position.reshape(-1, 3).astype(np.int32)  # question -> rows of `distinct` for a, b, c
    asked = tf.gather(unit, distinct)
    block = max(1, min(restrict, max_scores // len(distinct)))  # candidate columns per block
    batch = max(1, max_scores // block // 8)  # questions per step: ~8 arrays of batch x block live in a step
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
        tf = import_tensorflow()

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
    batch = rows_per_batch(len(canonical), max_scores)
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
    tf = import_tensorflow()
    unit = unit_rows(tf, vectors)
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


def analogy_scores(vectors: np.ndarray, words: Sequence[str], uri: str = sets.DEFAULT_ANALOGIES,
                   restrict_vocab: int = sets.DEFAULT_RESTRICT_VOCAB,
                   methods: Sequence[str] = ANALOGY_METHODS) -> dict[str, Any]:
    """Analogy accuracy per section and in total, for each method; OOV questions are skipped and counted."""
    started = time.perf_counter()
    restrict = min(restrict_vocab, len(words))
    sections, invalid = sets.read_analogies(uri, words, restrict)
    index = sets.vocabulary_index(words, restrict)
    canonical = sets.canonical_rows(words, index, restrict)
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
    return {"file": os.path.basename(sets.resolve(uri)), "restrict_vocab": restrict, "methods": list(methods),
            "sections": rows[:-1], "total": total, "invalid_lines": invalid,
            "oov_ratio": round(100 * total["oov"] / max(total["questions"], 1), 2),
            "seconds": round(time.perf_counter() - started, 3)}
