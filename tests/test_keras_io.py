"""The artifact in Keras: padding row 0 (and an OOV row) shift every word, and `to_indices` agrees."""

import numpy as np
import pytest

import w2v
from w2v import ConfigError
from w2v.export import write_artifact

WORDS = ["the", "of", "zebra", "café"]


@pytest.fixture
def artifact(tmp_path):
    vectors = np.random.default_rng(0).standard_normal((len(WORDS), 6)).astype(np.float32)
    write_artifact(str(tmp_path / "art"), WORDS, [9, 8, 7, 6], vectors, {}, None, False)
    return str(tmp_path / "art"), vectors


def test_padding_shift_and_to_indices_agree(artifact):
    uri, vectors = artifact
    kv = w2v.load(uri)
    tokens = ["zebra", "unknown", "the", "café"]
    for reserve_padding, oov_row, offset in ((True, False, 1), (True, True, 2), (False, False, 0)):
        matrix = w2v.embedding_matrix(kv, reserve_padding=reserve_padding, oov_row=oov_row)
        assert matrix.shape == (len(WORDS) + offset, 6) and matrix.dtype == np.float32
        assert not matrix[:offset].any()  # padding and OOV rows are zero
        rows = w2v.to_indices(tokens, kv, reserve_padding=reserve_padding, oov_row=oov_row)
        known = [t for t in tokens if t in kv.key_to_index]
        if oov_row:
            assert rows.tolist() == [2 + 2, 1, 0 + 2, 3 + 2]  # the unknown word gets the OOV row 1
        else:
            assert rows.tolist() == [kv.key_to_index[t] + offset for t in known]  # unknown words dropped
        for token, row in zip(known, rows[rows >= offset]):
            assert np.array_equal(matrix[row], kv[token]) and np.array_equal(matrix[row], vectors[WORDS.index(token)])
    assert w2v.to_indices(["of", "zebra"], kv, length=4).tolist() == [2, 3, 0, 0]  # padded with row 0
    assert w2v.to_indices(["of", "zebra", "the"], kv, length=2).tolist() == [2, 3]
    assert np.array_equal(w2v.embedding_matrix(uri), w2v.embedding_matrix(kv))  # a URI works too


def test_impossible_layouts_are_refused(artifact):
    uri, _ = artifact
    kv = w2v.load(uri)
    with pytest.raises(ConfigError, match="oov_row=True needs reserve_padding=True"):
        w2v.embedding_matrix(kv, reserve_padding=False, oov_row=True)
    with pytest.raises(ConfigError, match="length= pads with row 0"):
        w2v.to_indices(["the"], kv, reserve_padding=False, length=3)
    with pytest.raises(TypeError, match="split it first"):
        w2v.to_indices("the zebra", kv)


@pytest.mark.slow  # imports Keras and TensorFlow
def test_keras_layer_outputs_matrix_rows_and_is_frozen(artifact):
    uri, vectors = artifact
    kv = w2v.load(uri)
    layer = w2v.keras_embedding(kv, oov_row=True)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 1
    indices = w2v.to_indices(["café", "nope", "of"], kv, oov_row=True, length=5)
    out = np.asarray(layer(indices[None, :]))[0]
    np.testing.assert_array_equal(out, w2v.embedding_matrix(kv, oov_row=True)[indices])
    np.testing.assert_array_equal(out[0], vectors[3])
    mask = np.asarray(layer.compute_mask(indices[None, :]))[0]
    assert mask.tolist() == [True, True, True, False, False]  # padding masked, the OOV row not
    plain = w2v.keras_embedding(kv, reserve_padding=False)
    np.testing.assert_array_equal(np.asarray(plain(np.array([0, 2]))), vectors[[0, 2]])
    assert plain.compute_mask(np.array([0, 2])) is None
    with pytest.raises(ConfigError, match="mask_zero=True needs reserve_padding=True"):
        w2v.keras_embedding(kv, reserve_padding=False, mask_zero=True)


def test_to_indices_applies_the_artifacts_tokenizer(tmp_path):
    vectors = np.zeros((len(WORDS), 6), dtype=np.float32)
    for tokenizer, deaccent, expected in (("simple", False, [1, 4, 2]), ("simple", True, [1, 2]),
                                          ("whitespace", False, [])):
        uri = str(tmp_path / f"{tokenizer}-{deaccent}")
        write_artifact(uri, WORDS, [9, 8, 7, 6], vectors,
                       {"parameters": {"tokenizer": tokenizer, "deaccent": deaccent}}, None, False)
        kv = w2v.load(uri)
        assert w2v.to_indices(["The", "Café!", "of,"], kv).tolist() == expected
    assert w2v.to_indices(["The", "Café!"], kv, tokenizer="simple").tolist() == [1, 4]


@pytest.mark.slow  # a fresh process that imports Keras and TensorFlow
def test_a_keras_layer_is_made_without_tensorflows_start_up_lines(artifact):
    import subprocess
    import sys

    uri, _ = artifact
    code = f"import w2v; layer = w2v.keras_embedding(w2v.load({uri!r})); print(layer.input_dim)"
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and done.stdout == f"{len(WORDS) + 1}\n", done.stderr
    assert done.stderr == ""  # no oneDNN, "Could not find cuda drivers" or cuInit lines
