"""TensorBoard Embedding Projector files for the most frequent words of an artifact.

    tensorboard --logdir demo-artifact        # then the PROJECTOR tab

The projector reads, from one directory: `projector_config.pbtxt` (which tensor, which labels),
the TensorFlow checkpoint that holds the tensor (`checkpoint` + `projector.ckpt-1.*`), and
`metadata.tsv` (one label per row; a single column, so no header line, as the projector wants).
Only the `top` most frequent words go in: the projector's PCA and t-SNE are interactive, and
beyond ~10,000 points they are not. TensorFlow writes the checkpoint, so this runs inside the
evaluation task, and returns the files as bytes for `export` to publish with the artifact.
"""

from __future__ import annotations

import os
import tempfile
from typing import Sequence

import numpy as np

from .tf_common import import_tensorflow

CONFIG = "projector_config.pbtxt"
METADATA = "metadata.tsv"
CHECKPOINT_PREFIX = "projector.ckpt"
TENSOR_NAME = "embedding/.ATTRIBUTES/VARIABLE_VALUE"  # tf.train.Checkpoint(embedding=...) names it so


def metadata_tsv(words: Sequence[str]) -> bytes:
    """One label per line; tabs and newlines inside a word would shift the rows, so they become spaces.

    >>> metadata_tsv(["a", "b\\tc"])
    b'a\\nb c\\n'
    """
    return "".join(w.replace("\t", " ").replace("\n", " ") + "\n" for w in words).encode("utf-8")


def projector_files(vectors: np.ndarray, words: Sequence[str], top: int) -> dict[str, bytes]:
    """name -> bytes of the projector files for the first `top` rows (rows are sorted by frequency)."""
    tf = import_tensorflow()
    top = min(top, len(words))
    files: dict[str, bytes] = {METADATA: metadata_tsv(words[:top])}
    with tempfile.TemporaryDirectory(prefix="w2v-projector-") as tmp:
        embedding = tf.Variable(np.asarray(vectors[:top], dtype=np.float32), trainable=False, name="embedding")
        tf.train.Checkpoint(embedding=embedding).save(os.path.join(tmp, CHECKPOINT_PREFIX))
        for name in sorted(os.listdir(tmp)):
            with open(os.path.join(tmp, name), "rb") as f:
                files[name] = f.read()
    files[CONFIG] = (f'embeddings {{\n  tensor_name: "{TENSOR_NAME}"\n  metadata_path: "{METADATA}"\n}}\n'
                     ).encode("utf-8")
    return files
