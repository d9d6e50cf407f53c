"""TensorFlow for the evaluation modules: imported once, quietly, with the task's threads; unit rows; score bounds.

`metrics`, `analogies`, `projector`, `keras_io` and `jobs/eval_speed.py` get TensorFlow from here, and only
inside their functions: importing this module does not import TensorFlow, so trainer actors and
the CLI's other commands never pay for it. Nothing here computes a metric.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from ..extras import require

MAX_SCORES = 1 << 25  # scores held at once per batch (128 MiB of float32): a search never builds V x V


def import_tensorflow(threads: int | None = None, gpu: bool = True):
    """TensorFlow, imported and initialized quietly the first time, thread pools sized to what the task was given.

    TF 2.21 prints absl lines (oneDNN, "no CUDA drivers", cuInit) before its log level applies,
    and `ray job logs` would carry them: file descriptor 2 is silenced while TF imports and
    initializes its devices, nothing else. Errors still surface as Python exceptions. With
    `gpu=False` CUDA is hidden first, so TF does not probe for a GPU the task was not given.
    `threads` and `gpu` only matter on the first call in a process: TF cannot change them after.
    """
    if "tensorflow" not in sys.modules:
        if not gpu:
            os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
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


def unit_rows(tf, vectors: np.ndarray):
    """The rows l2-normalized, as a float32 tensor: cosines are then dot products."""
    return tf.math.l2_normalize(tf.convert_to_tensor(vectors, dtype=tf.float32), axis=1)


def rows_per_batch(columns: int, max_scores: int = MAX_SCORES) -> int:
    """How many query rows to score at once against `columns` candidates, at most `max_scores` scores.

    >>> rows_per_batch(1000, max_scores=10_000), rows_per_batch(10**9, max_scores=10)
    (10, 1)
    """
    return max(1, max_scores // max(columns, 1))
