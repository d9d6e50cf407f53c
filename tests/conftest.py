"""Shared fixtures: one small two-node Ray cluster per test session, generated corpora.

Ray start-up is slow, so the cluster (`ray.cluster_utils.Cluster`: two raylets on this machine,
one CPU each) is started once, lazily, by the first test that needs it. Corpora are generated
into tmp paths: the planted-cluster corpus has groups of words that only co-occur with each
other, so good vectors put each word's neighbours in its own group.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .corpora import write_planted_corpus

@pytest.fixture(scope="session")
def ray_cluster():
    """A two-node local Ray cluster (one CPU per node), shared by the whole session."""
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
def trained_artifact(ray_cluster, planted_corpus, tmp_path_factory):
    """One real job on the planted corpus: 2 actors on 2 nodes, with the TensorFlow evaluation."""
    from w2v import TrainConfig
    from w2v.job import run

    root, _ = planted_corpus
    out = tmp_path_factory.mktemp("artifacts") / "planted"
    config = TrainConfig(corpus=(str(root),), out=str(out), vector_size=32, window=5, min_count=5, epochs=5,
                         seed=3)
    return run(config)
