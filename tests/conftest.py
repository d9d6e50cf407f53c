"""Shared fixtures: one small two-node Ray cluster per test session, generated corpora.

S3 is a real HTTP endpoint on 127.0.0.1 (moto's `ThreadedMotoServer`, port 0), started once per
session before the Ray cluster, so every Ray worker inherits `AWS_ENDPOINT_URL_S3` and the fake
credentials from the environment, exactly as a real job reads them.

Ray start-up is slow, so the cluster (`ray.cluster_utils.Cluster`: two raylets on this machine,
one CPU each) is started once, lazily, by the first test that needs it. Corpora are generated
into tmp paths: the planted-cluster corpus has groups of words that only co-occur with each
other, so good vectors put each word's neighbours in its own group.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from .corpora import write_planted_corpus
from .terminal import Terminal

_buckets = itertools.count()  # a unique suffix per bucket: parametrized names may collide once cut

# A distinctive fake secret: tests check that it never appears in logs or manifests.
FAKE_SECRET = "w2vTestSecretDoNotLog0123456789"


@pytest.fixture(scope="session")
def s3_server():
    """A moto S3 server on 127.0.0.1 (free port), reached through the standard AWS environment."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION", "AWS_PROFILE")}
    os.environ.update(AWS_ENDPOINT_URL_S3=f"http://{host}:{port}", AWS_ACCESS_KEY_ID="w2vtestkeyid",
                      AWS_SECRET_ACCESS_KEY=FAKE_SECRET, AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_PROFILE", None)
    yield f"http://{host}:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_bucket(s3_server, request) -> str:
    """A fresh, empty bucket per test; returns its name."""
    from w2v.storage import s3_client

    name = "w2v-" + "".join(c for c in request.node.name.lower() if c.isalnum())[:36] + f"-{next(_buckets)}"
    s3_client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def http_files():
    """A web server on 127.0.0.1 (free port) serving files from memory, failing on request (`http_server`)."""
    from .http_server import FileServer

    server = FileServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def ray_cluster(s3_server):
    """A two-node local Ray cluster (one CPU per node), shared by the whole session; workers see S3."""
    import ray
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "object_store_memory": 256 * 2**20},
    )
    cluster.add_node(num_cpus=1, object_store_memory=256 * 2**20)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="session")
def planted_corpus(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """(directory of 4 files, 2 plain + 2 gzip; their token counts)."""
    root = tmp_path_factory.mktemp("planted")
    return root, write_planted_corpus(root)


@pytest.fixture(scope="session")
def trained_job(ray_cluster, planted_corpus, tmp_path_factory):
    """One real job on the planted corpus: 2 actors on 2 nodes, with the TensorFlow evaluation, its progress
    shown on a terminal. (its JobResult, the terminal's text)."""
    from w2v import TrainConfig, progress
    from w2v.pipeline import run

    root, _ = planted_corpus
    out = tmp_path_factory.mktemp("artifacts") / "planted"
    config = TrainConfig(corpus=(str(root),), out=str(out), vector_size=32, window=5, min_count=5, epochs=5,
                         seed=3, actors=2)
    screen = Terminal()
    with progress.shown(stream=screen):
        result = run(config)
    return result, screen.getvalue()


@pytest.fixture(scope="session")
def trained_artifact(trained_job):
    """The JobResult of `trained_job`."""
    return trained_job[0]


class _FullFile:
    """A file opened for writing on a full disk: every write fails with ENOSPC, as the kernel's would."""

    def __init__(self, file):
        self._file = file  # the real (empty) file, closed with this one

    def write(self, data):
        import errno

        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    writelines = write

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


@pytest.fixture
def full_disk(monkeypatch):
    """`fill(directory)`: from then on, every file opened for writing under `directory` fails to write (ENOSPC).

    Patched where Python opens files (`open`, `io.open`), so numpy, zipfile, gensim and smart_open
    writing there all meet the full disk; reading, listing and renaming still work, as on a real one.
    """
    import builtins
    import io

    real_open = builtins.open
    full: list[str] = []  # absolute directories whose disk is full

    def open_on_disk(file, mode="r", *args, **kwargs):
        opened = real_open(file, mode, *args, **kwargs)
        path = os.path.abspath(os.fspath(file)) if isinstance(file, (str, os.PathLike)) else ""
        if any(c in mode for c in "wax+") and any(path.startswith(d + os.sep) for d in full):
            return _FullFile(opened)
        return opened

    monkeypatch.setattr(builtins, "open", open_on_disk)
    monkeypatch.setattr(io, "open", open_on_disk)

    def fill(directory) -> None:
        full.append(os.path.abspath(os.fspath(directory)))

    return fill


@pytest.fixture
def ray_cannot_start(monkeypatch):
    """Starting or joining Ray raises AssertionError (not a W2VError, so no one-line message hides it):
    a command that reaches Ray's start-up before its checks fails the test."""
    import ray

    import w2v.cluster

    def start(*args, **kwargs):
        raise AssertionError("Ray was started before the input was checked")

    monkeypatch.setattr(w2v.cluster, "init_ray", start)  # an already initialized Ray would skip ray.init
    monkeypatch.setattr(ray, "init", start)
