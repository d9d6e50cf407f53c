"""jobs/: every job config is a valid, documented TrainConfig; the README shows the cluster workflow.

Submitting jobs through Ray's Jobs API (`w2v submit`) is `tests/test_submit.py`'s.
"""

from pathlib import Path

import pytest

from w2v import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
JOB_CONFIGS = sorted((ROOT / "jobs").glob("*.yaml"))


def test_the_typical_jobs_are_there():
    assert {p.name for p in JOB_CONFIGS} >= {"sample.yaml", "text8.yaml", "s3-sharded.yaml"}


@pytest.mark.parametrize("path", JOB_CONFIGS, ids=lambda p: p.name)
def test_job_config_is_valid_and_documented(path):
    config = TrainConfig.from_yaml(path, overrides={"out": "o"} if "out:" not in path.read_text() else None)
    assert config.corpus
    head = path.read_text(encoding="utf-8").splitlines()[:3]
    assert all(line.startswith("#") for line in head), f"{path.name} must open with comments saying what it is for"


def test_text8_config_is_a_single_file_job_on_every_node():
    config = TrainConfig.from_yaml(ROOT / "jobs" / "text8.yaml")
    assert len(config.corpus) == 1 and config.actors is None  # its one line splits over every trainer node
    assert (config.sample, config.negative, config.window, config.vector_size) == (1e-4, 25, 8, 200)


def test_readme_shows_the_cluster_workflow():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Running on a cluster", 1)[1].split("\n## ", 1)[0]
    for command in ("ray up cluster.yaml", "--working-dir . -- \\\n    python -m jobs.train --config jobs/sample.yaml",
                    "ray job logs --address", "--follow", "ray job stop", "ray rsync-down cluster.yaml",
                    "export RAY_AUTH_MODE=token", "w2v submit --"):
        assert command in section, command
    for path in JOB_CONFIGS:
        assert f"jobs/{path.name}" in section, path.name
