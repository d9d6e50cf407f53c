"""TensorBoard projector files: the checkpoint holds the top rows, metadata labels them in order."""

import numpy as np
import pytest

from w2v.projector import CONFIG, METADATA, TENSOR_NAME, projector_files

pytestmark = pytest.mark.slow  # imports TensorFlow


def test_projector_checkpoint_holds_the_most_frequent_rows(tmp_path):
    import tensorflow as tf

    words = [f"w{i}" for i in range(50)] + ["tab\tword"]
    vectors = np.random.default_rng(0).standard_normal((51, 8)).astype(np.float32)
    files = projector_files(vectors, words, top=20)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    assert b'model_checkpoint_path: "projector.ckpt-1"' in files["checkpoint"]  # relative: the directory can move
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path)))
    assert np.array_equal(reader.get_tensor(TENSOR_NAME), vectors[:20])
    assert (tmp_path / METADATA).read_text().splitlines() == words[:20]
    config = (tmp_path / CONFIG).read_text()
    assert f'tensor_name: "{TENSOR_NAME}"' in config and f'metadata_path: "{METADATA}"' in config
    assert projector_files(vectors, words, top=1000)[METADATA].decode().splitlines()[-1] == "tab word"
