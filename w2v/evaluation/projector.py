"""TensorBoard Embedding Projector files for the most frequent words of an artifact.

    tensorboard --logdir demo-artifact        # then the PROJECTOR tab

The projector reads, from one directory: `projector_config.pbtxt` (which tensor, which labels),
`projector_vectors.tsv` (the tensor: one row of tab-separated floats per word, as the config's
`tensor_path`), and `metadata.tsv` (one label per row, same order; a single column, so no header
line, as the projector wants). TensorBoard reads a `tensor_path` file with or without TensorFlow:
a checkpoint it reads only through TensorFlow, so with `pip install tensorboard` alone a
checkpoint-only config lists no run. The TensorFlow checkpoint of the same rows (`checkpoint` +
`projector.ckpt-1.*`, variable TENSOR_NAME) is written too, for TensorFlow users who read it with
`tf.train.load_checkpoint`; the config names that variable, so TensorBoard with TensorFlow shows
one embedding, not two. Only the `top` most frequent words go in (`--projector-top`, default
10,000: about 10 MB of text at 100 dimensions): the projector's PCA and t-SNE are interactive,
and beyond ~10,000 points they are not. TensorFlow writes the checkpoint, so this runs inside the
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
TENSOR_TSV = "projector_vectors.tsv"  # the tensor as TensorBoard reads it without TensorFlow (`tensor_path`)
CHECKPOINT_PREFIX = "projector.ckpt"
TENSOR_NAME = "embedding/.ATTRIBUTES/VARIABLE_VALUE"  # tf.train.Checkpoint(embedding=...) names it so


def metadata_tsv(words: Sequence[str]) -> bytes:
    """One label per line; tabs and newlines inside a word would shift the rows, so they become spaces.

    >>> metadata_tsv(["a", "b\\tc"])
    b'a\\nb c\\n'
    """
    return "".join(w.replace("\t", " ").replace("\n", " ") + "\n" for w in words).encode("utf-8")


def tensor_tsv(vectors: np.ndarray) -> bytes:
    """One line per row, its values tab-separated: each float32's shortest text that reads back to it exactly.

    >>> tensor_tsv(np.array([[0.5, -1.0], [0.1, 2.0]], dtype=np.float32))
    b'0.5\\t-1.0\\n0.1\\t2.0\\n'
    """
    return "".join("\t".join(map(str, row)) + "\n"
                   for row in np.asarray(vectors, dtype=np.float32)).encode("ascii")


def config_pbtxt() -> bytes:
    """The projector config: the tensor from TENSOR_TSV (any TensorBoard) under the checkpoint's variable name."""
    return (f'embeddings {{\n  tensor_name: "{TENSOR_NAME}"\n  tensor_path: "{TENSOR_TSV}"\n'
            f'  metadata_path: "{METADATA}"\n}}\n').encode("utf-8")


def projector_files(vectors: np.ndarray, words: Sequence[str], top: int) -> dict[str, bytes]:
    """name -> bytes of the projector files for the first `top` rows (rows are sorted by frequency)."""
    tf = import_tensorflow()
    top = min(top, len(words))
    files: dict[str, bytes] = {METADATA: metadata_tsv(words[:top]), TENSOR_TSV: tensor_tsv(vectors[:top])}
    with tempfile.TemporaryDirectory(prefix="w2v-projector-") as tmp:
        embedding = tf.Variable(np.asarray(vectors[:top], dtype=np.float32), trainable=False, name="embedding")
        tf.train.Checkpoint(embedding=embedding).save(os.path.join(tmp, CHECKPOINT_PREFIX))
        for name in sorted(os.listdir(tmp)):
            with open(os.path.join(tmp, name), "rb") as f:
                files[name] = f.read()
    files[CONFIG] = config_pbtxt()
    return files
