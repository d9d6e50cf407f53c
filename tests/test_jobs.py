"""jobs/: every job config is a valid, documented TrainConfig; jobs run through Ray's Jobs API.

The submission tests start a real Ray head (`ray start --head --block`, dashboard on, token auth
with a token of their own) on free 127.0.0.1 ports, in a process session of its own, and stop
only that session's processes: other Ray clusters on this machine are left alone.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from w2v import TrainConfig, load

from .corpora import write_planted_corpus

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


def test_text8_config_is_a_single_file_job():
    config = TrainConfig.from_yaml(ROOT / "jobs" / "text8.yaml")
    assert len(config.corpus) == 1 and config.actors == 1
    assert (config.sample, config.negative, config.window, config.vector_size) == (1e-4, 25, 8, 200)


# ---------------------------------------------------------------------------- a real head


def _free_ports(n: int) -> list[int]:
    sockets = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _session_pids(sid: int) -> list[int]:
    """Processes of one session (the head's: `ray start` and everything it spawned)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.fixture(scope="module")
def ray_head():
    """A Ray head with the dashboard (Jobs API) and token auth: yields (dashboard address, env)."""
    gcs, dashboard, client, agent_http, agent_grpc, metrics, runtime_env = _free_ports(7)
    temp_dir = tempfile.mkdtemp(prefix="w2vh", dir="/tmp")  # short: Ray's socket paths are length-limited
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}  # `python` in an entrypoint = this venv's
    env.pop("PYTHONPATH", None)  # jobs must import w2v from their uploaded working directory
    env.pop("RAY_ADDRESS", None)
    head = subprocess.Popen(
        [os.path.join(bin_dir, "ray"), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
         "--port", str(gcs), "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard),
         "--include-dashboard", "true", "--ray-client-server-port", str(client),
         "--dashboard-agent-listen-port", str(agent_http), "--dashboard-agent-grpc-port", str(agent_grpc),
         "--metrics-export-port", str(metrics), "--runtime-env-agent-port", str(runtime_env),
         "--num-cpus", "2", "--resources", '{"w2v_node": 1}', "--object-store-memory", str(200 * 2**20),
         "--temp-dir", temp_dir, "--disable-usage-stats"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    address = f"http://127.0.0.1:{dashboard}"
    try:
        _wait_for_jobs_api(address, env["RAY_AUTH_TOKEN"], head)
        yield address, env
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        for pid in _session_pids(head.pid):  # stragglers of this head only
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        subprocess.run(["rm", "-rf", temp_dir], check=False)


def _wait_for_jobs_api(address: str, token: str, head: subprocess.Popen, timeout: float = 90) -> None:
    from ray.job_submission import JobSubmissionClient

    deadline = time.monotonic() + timeout
    while True:
        if head.poll() is not None:
            raise RuntimeError(f"ray start exited with code {head.returncode}")
        try:
            JobSubmissionClient(address, headers={"Authorization": f"Bearer {token}"}).list_jobs()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _submit(env: dict, address: str, job_id: str, *train_args: str) -> subprocess.CompletedProcess:
    """`w2v submit` as a user runs it, from the repository root."""
    client_env = {**env, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "w2v.cli", "submit", "--address", address, "--working-dir", str(ROOT),
         "--submission-id", job_id, "--", *train_args],
        cwd=ROOT, env=client_env, capture_output=True, text=True, timeout=240,
    )


@pytest.mark.slow
def test_a_job_submitted_to_a_real_head_trains_and_publishes(ray_head, tmp_path):
    from ray.job_submission import JobStatus, JobSubmissionClient

    address, env = ray_head
    write_planted_corpus(tmp_path / "corpus", files=2, sentences_per_file=600)
    out = tmp_path / "artifact"
    job_id = f"w2v-test-ok-{secrets.token_hex(3)}"
    done = _submit(env, address, job_id, str(tmp_path / "corpus"), "--out", str(out), "--vector-size", "16",
                   "--epochs", "2", "--workers", "1", "--no-eval")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"submitted job {job_id}" in done.stdout and f"job {job_id}: SUCCEEDED" in done.stdout

    client = JobSubmissionClient(address, headers={"Authorization": f"Bearer {env['RAY_AUTH_TOKEN']}"})
    assert client.get_job_status(job_id) == JobStatus.SUCCEEDED
    logs = client.get_job_logs(job_id)
    for expected in ("plan: 2 shard(s)", "memory (estimate):", "time (estimate):", "epoch 2/2 done",
                     "timings:", f"artifact: {out}"):
        assert expected in logs, expected
    assert "\r" not in logs  # no progress-bar redraws: the job's stderr is not a terminal
    kv = load(str(out))
    assert kv.vector_size == 16 and "g0w1" in kv.key_to_index
    run = json.loads((out / "manifest.json").read_text())["run"]
    assert run["ray_submission_id"] == job_id and run["ray_job_id"]  # the Jobs API's id reaches the manifest


@pytest.mark.slow
def test_a_job_with_a_bad_corpus_fails_with_the_path_in_its_logs(ray_head, tmp_path):
    from ray.job_submission import JobStatus, JobSubmissionClient

    address, env = ray_head
    job_id = f"w2v-test-bad-{secrets.token_hex(3)}"
    missing = tmp_path / "no-such-corpus"
    done = _submit(env, address, job_id, str(missing), "--out", str(tmp_path / "never"), "--no-eval")
    assert done.returncode == 2 and f"job {job_id}: FAILED" in done.stdout  # the job's code: bad input

    client = JobSubmissionClient(address, headers={"Authorization": f"Bearer {env['RAY_AUTH_TOKEN']}"})
    assert client.get_job_status(job_id) == JobStatus.FAILED
    logs = client.get_job_logs(job_id)
    assert f"w2v: error: corpus path {missing}: no such file or directory" in logs
    assert "Traceback" not in logs  # one readable line, not a stack
    assert not (tmp_path / "never").exists()


def test_submit_refuses_bad_arguments_before_uploading(tmp_path, capsys):
    from w2v.cli import main

    # Nothing listens on port 9: config errors must come first, without a connection attempt.
    assert main(["submit", "--address", "http://127.0.0.1:9", "--", "c.txt", "--out", "o", "--window", "0"]) == 2
    assert "window=0" in capsys.readouterr().err
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "typo.yaml").write_text("corpus: [c.txt]\nout: o\nepochz: 3\n")
    # A relative --config is read from the working directory that would be uploaded.
    assert main(["submit", "--address", "http://127.0.0.1:9", "--working-dir", str(tmp_path), "--",
                 "--config", "jobs/typo.yaml"]) == 2
    assert "unknown key 'epochz' in " in capsys.readouterr().err
    assert main(["submit", "--address", "http://127.0.0.1:9", "--", "c.txt", "--out", "o"]) == 3  # its own code
    err = capsys.readouterr().err
    assert err.startswith("w2v: error: cannot reach the Ray Jobs API at http://127.0.0.1:9: ") and err.count("\n") == 1


def test_readme_shows_the_cluster_workflow():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Running on a cluster", 1)[1].split("\n## ", 1)[0]
    for command in ("ray up cluster.yaml", "--working-dir . -- \\\n    python -m jobs.train --config jobs/sample.yaml",
                    "ray job logs --address", "--follow", "ray job stop", "ray rsync-down cluster.yaml",
                    "export RAY_AUTH_MODE=token", "w2v submit --"):
        assert command in section, command
    for path in JOB_CONFIGS:
        assert f"jobs/{path.name}" in section, path.name
