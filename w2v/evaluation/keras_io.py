"""An artifact as a Keras 3 input: the embedding matrix, a frozen layer, and text to indices.

The tutorial's "+1 row" question, answered once: with `reserve_padding=True` (the default),

    row 0                   all zeros: padding, masked by `mask_zero=True`
    row 1                   all zeros: unknown words, only with `oov_row=True` (not masked)
    row i + offset          word i of the artifact (offset = 1, or 2 with the OOV row)

and `to_indices` applies the same offset, pads with 0 and maps unknown words to the OOV row
(or drops them without one). With `reserve_padding=False`, row i is word i, exactly as in
`vectors.npy`; there is no padding row then, so `mask_zero` is refused: it would mask the most
frequent word. Keras is imported only by `keras_embedding` (the `[keras]` extra); the rest needs the core alone.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from ..corpus import ReadOptions, tokenize
from ..errors import ConfigError
from ..extras import check, require
from .tf_common import import_tensorflow

PADDING_INDEX = 0


def _keyed_vectors(artifact: Any):
    """An artifact URI, or gensim KeyedVectors already loaded (pass those for speed: loading verifies checksums)."""
    if isinstance(artifact, str):
        from ..export import load

        return load(artifact)
    return artifact


def index_offset(reserve_padding: bool = True, oov_row: bool = False) -> int:
    """Rows before the first word.

    >>> index_offset(), index_offset(True, True), index_offset(False)
    (1, 2, 0)
    """
    if oov_row and not reserve_padding:
        raise ConfigError("oov_row=True needs reserve_padding=True: the OOV row sits after the padding row 0")
    return int(reserve_padding) + int(oov_row)


def embedding_matrix(artifact: Any, reserve_padding: bool = True, oov_row: bool = False) -> np.ndarray:
    """float32 (V + offset) x D: zero rows for padding (and OOV) first, then the artifact's rows in order."""
    kv = _keyed_vectors(artifact)
    offset = index_offset(reserve_padding, oov_row)
    matrix = np.zeros((len(kv.index_to_key) + offset, kv.vector_size), dtype=np.float32)
    matrix[offset:] = kv.vectors
    return matrix


def to_indices(tokens: Sequence[str], artifact: Any, reserve_padding: bool = True, oov_row: bool = False,
               length: int | None = None, tokenizer: str | ReadOptions | None = None) -> np.ndarray:
    """Row indices of `embedding_matrix(artifact, reserve_padding, oov_row)` for a list of tokens.

    Each token first goes through the tokenization the artifact was trained with (`tokenizer`:
    "whitespace", "simple" or a `corpus.ReadOptions`; None: the artifact's, which `w2v.load`
    attaches), so `["Hello,", "World"]` finds `hello` and `world` in a `--tokenizer simple`
    artifact, and a lowercased artifact finds `The` as `the`; an artifact trained with `--phrases`
    joins its phrases the same way (`["new", "york"]` finds `new_york`).

    Unknown tokens go to the OOV row (1) when there is one, and are dropped otherwise. With
    `length`, the result is cut or padded with `PADDING_INDEX` (0) at the end to that length.

    `artifact` may also be a plain mapping word -> row of `vectors.npy`.

    >>> to_indices(["the", "zebra", "cat"], {"the": 0, "cat": 1}, length=4).tolist()
    [1, 2, 0, 0]
    """
    if isinstance(tokens, str):
        raise TypeError("to_indices takes a list of tokens, not a string: split it first (text.split())")
    offset = index_offset(reserve_padding, oov_row)
    kv = artifact if isinstance(artifact, dict) else _keyed_vectors(artifact)
    index = kv if isinstance(kv, dict) else kv.key_to_index
    options = ReadOptions(tokenizer=tokenizer) if isinstance(tokenizer, str) else tokenizer
    options = options or getattr(kv, "w2v_read_options", None)
    if options is not None:
        tokens = [t for token in tokens for t in tokenize(token.lower() if options.lowercase else token, options)]
        if options.phrases is not None:  # joined as training joined them: ["new", "york"] -> new_york
            tokens = options.phrases.apply(tokens)
    if oov_row:
        rows = [index[t] + offset if t in index else 1 for t in tokens]
    else:
        rows = [index[t] + offset for t in tokens if t in index]
    if length is not None:
        if not reserve_padding:
            raise ConfigError("length= pads with row 0, which is a word without reserve_padding=True")
        rows = rows[:length] + [PADDING_INDEX] * max(0, length - len(rows))
    return np.asarray(rows, dtype=np.int32)


def keras_embedding(artifact: Any, trainable: bool = False, mask_zero: bool | None = None,
                    reserve_padding: bool = True, oov_row: bool = False, name: str = "w2v_embedding"):
    """A Keras 3 `Embedding` layer holding `embedding_matrix(...)`, frozen unless `trainable`.

    Built with `weights=[matrix]`: `embeddings_initializer=Constant(matrix)` would copy the whole
    matrix into the layer's config. `mask_zero` defaults to `reserve_padding`.
    """
    check("keras", "w2v.keras_embedding")  # without importing it: a missing Keras is named as such
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        # TensorFlow's start-up lines (oneDNN, "Could not find cuda drivers", cuInit's error on a machine
        # without a GPU) say nothing about this call: TensorFlow starts quietly first, as in the evaluation.
        import_tensorflow()
    keras = require("keras", "w2v.keras_embedding")
    if mask_zero is None:
        mask_zero = reserve_padding
    if mask_zero and not reserve_padding:
        raise ConfigError("mask_zero=True needs reserve_padding=True: row 0 would be the most frequent word")
    matrix = embedding_matrix(artifact, reserve_padding, oov_row)
    layer = keras.layers.Embedding(matrix.shape[0], matrix.shape[1], weights=[matrix], trainable=trainable,
                                   mask_zero=mask_zero, name=name)
    layer.build((None,))
    return layer


def phrase(tokens: Sequence[str], artifact: Any) -> list[str]:
    """`tokens` as the artifact's training text had them: its tokenization, then its phrases joined.

    `artifact` is what `w2v.load` returned, or an artifact's location. An artifact trained without
    phrases only tokenizes.

    >>> phrase(["New", "York"], "artifacts/demo")                     # doctest: +SKIP
    ['new_york']
    """
    if isinstance(tokens, str):
        raise TypeError("phrase takes a list of tokens, not a string: split it first (text.split())")
    if isinstance(artifact, str):
        from ..export import load

        artifact = load(artifact)
    options = getattr(artifact, "w2v_read_options", None)
    if options is None:
        return list(tokens)
    words = [t for token in tokens for t in tokenize(token.lower() if options.lowercase else token, options)]
    return options.phrases.apply(words) if options.phrases is not None else words
