"""TensorBoard projector files: the checkpoint and the tensor file hold the top rows, metadata labels them in order."""

import numpy as np
import pytest

from w2v.evaluation.projector import CONFIG, METADATA, TENSOR_NAME, TENSOR_TSV, projector_files

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


def test_the_tensor_file_holds_the_same_rows_as_the_checkpoint_exactly():
    vectors = np.random.default_rng(1).standard_normal((30, 5)).astype(np.float32)
    files = projector_files(vectors, [f"w{i}" for i in range(30)], top=12)
    rows = [[np.float32(x) for x in line.split("\t")] for line in files[TENSOR_TSV].decode().splitlines()]
    assert np.array_equal(np.array(rows, dtype=np.float32), vectors[:12])
    assert f'tensor_path: "{TENSOR_TSV}"'.encode() in files[CONFIG]


# TensorBoard as `pip install tensorboard` gives it: `import tensorflow` fails, so TensorBoard uses its stub.
TENSORBOARD_WITHOUT_TF = """
import sys
sys.modules["tensorflow"] = None
from tensorboard.main import run_main
sys.argv = ["tensorboard", "--logdir", sys.argv[1], "--host", "127.0.0.1", "--port", "0", "--load_fast", "false"]
run_main()
"""


def _get(url: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_tensorboard_without_tensorflow_serves_the_projector(tmp_path):
    import json
    import re
    import subprocess
    import sys
    import time

    words = [f"w{i}" for i in range(40)]
    vectors = np.random.default_rng(2).standard_normal((40, 6)).astype(np.float32)
    for name, data in projector_files(vectors, words, top=25).items():
        (tmp_path / name).write_bytes(data)
    server = subprocess.Popen([sys.executable, "-c", TENSORBOARD_WITHOUT_TF, str(tmp_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        said, deadline = "", time.monotonic() + 120
        while time.monotonic() < deadline and not re.search(r"http://127\.0\.0\.1:\d+/", said):
            line = server.stdout.readline()
            assert line, f"TensorBoard exited: {said}"
            said += line
        assert "TensorFlow installation not found" in said  # it really ran without TensorFlow
        base = re.search(r"http://127\.0\.0\.1:\d+/", said).group(0) + "data/plugin/projector/"
        assert _get(base + "runs") == (200, b'["."]')
        status, info = _get(base + "info?run=.")
        embedding = json.loads(info)["embeddings"][0]
        assert status == 200 and embedding["tensorName"] == TENSOR_NAME
        assert embedding["tensorShape"] == [25, 6] and embedding["metadataPath"] == METADATA
        status, tensor = _get(base + f"tensor?run=.&name={TENSOR_NAME}")
        assert status == 200 and np.array_equal(np.frombuffer(tensor, np.float32).reshape(25, 6), vectors[:25])
        status, labels = _get(base + f"metadata?run=.&name={TENSOR_NAME}")
        assert status == 200 and labels.decode().splitlines() == words[:25]
    finally:
        server.terminate()
        server.wait(timeout=30)
