"""How long the TensorFlow analogy evaluation takes on a big matrix, on this machine.

    python -m jobs.eval_speed                                   # 100,000 x 300, all 19,544 questions
    python -m jobs.eval_speed --words 1000000 --restrict-vocab 30000 300000

The matrix is random, with every word of `questions-words.txt` among its most frequent rows so
that all questions are evaluated (none is OOV): the time is the time of the full set. Accuracy
means nothing here; speed does. Prints one line per `restrict_vocab`: seconds for 3CosAdd and
3CosMul together, and questions per second.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--words", type=int, default=100_000, help="rows of the matrix (default 100000)")
    parser.add_argument("--dims", type=int, default=300, help="columns of the matrix (default 300)")
    parser.add_argument("--restrict-vocab", type=int, nargs="+", default=[30_000, 300_000],
                        help="candidate words, as gensim's restrict_vocab (default 30000 300000)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="TensorFlow threads (default: all CPUs)")
    args = parser.parse_args()

    from w2v.evaluation.analogies import analogy_scores
    from w2v.evaluation.sets import resolve
    from w2v.evaluation.tf_common import import_tensorflow

    tf = import_tensorflow(args.threads)
    question_words = sorted({w for line in open(resolve("questions-words.txt"), encoding="utf-8")
                             if not line.startswith(":") for w in line.split()})
    words = question_words + [f"word{i}" for i in range(args.words - len(question_words))]
    vectors = np.random.default_rng(0).standard_normal((args.words, args.dims)).astype(np.float32)
    devices = ", ".join(d.name for d in tf.config.list_logical_devices())
    print(f"{args.words:,} x {args.dims} float32, TensorFlow {tf.__version__} on {devices}, {args.threads} threads")
    print(f"{'restrict_vocab':>14} {'questions':>9} {'seconds':>8} {'questions/s':>11}")
    for restrict in args.restrict_vocab:
        started = time.perf_counter()
        result = analogy_scores(vectors, words, restrict_vocab=restrict)
        seconds = time.perf_counter() - started
        n = result["total"]["evaluated"]
        print(f"{result['restrict_vocab']:>14,} {n:>9,} {seconds:>8.2f} {n / seconds:>11,.0f}")


if __name__ == "__main__":
    main()
