"""`w2v submit` (`w2v/submit.py`): the Jobs API address, the token, and jobs run on a real Ray head.

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

from w2v import load

from .corpora import write_planted_corpus

ROOT = Path(__file__).resolve().parent.parent
AUTH_VARIABLES = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")  # where Ray and w2v look for a token


@pytest.fixture
def no_token(monkeypatch, tmp_path):
    """A laptop without a token anywhere: no auth variables, an empty HOME (tmp_path / "home")."""
    for name in AUTH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def test_the_token_is_found_where_ray_keeps_it(no_token, tmp_path, monkeypatch):
    """$RAY_AUTH_TOKEN, else the file $RAY_AUTH_TOKEN_PATH names, else ~/.ray/auth_token; none: no token."""
    from w2v.submit import auth_token

    assert auth_token() is None
    (no_token / ".ray").mkdir()
    (no_token / ".ray" / "auth_token").write_text("")
    assert auth_token() is None  # an empty file is no token
    (no_token / ".ray" / "auth_token").write_text("home-token\n")  # `ray get-auth-token --generate` writes this
    assert auth_token() == "home-token"
    (tmp_path / "elsewhere").write_text("  path-token \n")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "elsewhere"))
    assert auth_token() == "path-token"
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "missing"))
    assert auth_token() is None  # the named file wins, even when it is not there
    monkeypatch.setenv("RAY_AUTH_TOKEN", "env-token\n")
    assert auth_token() == "env-token"


def test_the_jobs_api_address_is_the_flag_then_the_environment_then_local(monkeypatch):
    from w2v.submit import DEFAULT_ADDRESS, job_address

    monkeypatch.delenv("RAY_API_SERVER_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")  # a cluster's GCS, not its Jobs API
    assert job_address(None) == DEFAULT_ADDRESS == "http://127.0.0.1:8265"
    monkeypatch.setenv("RAY_ADDRESS", "http://head:8265")
    assert job_address(None) == "http://head:8265"
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", "https://jobs.example:443")
    assert job_address(None) == "https://jobs.example:443"
    assert job_address("http://flag:8265") == "http://flag:8265"


def test_the_client_sends_the_token_from_home_to_the_jobs_api(no_token):
    """Through a real HTTP endpoint: the Jobs client's first request carries `Bearer <token>` from
    ~/.ray/auth_token, though RAY_AUTH_MODE is unset (Ray's own client would send nothing)."""
    import base64
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import ray

    from w2v.submit import client

    seen: list[tuple[str, str | None]] = []  # (path, Authorization header) of every request

    class JobsApi(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            body = json.dumps({"version": "4", "ray_version": ray.__version__, "ray_commit": "x"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # no request lines on stderr
            pass

    (no_token / ".ray").mkdir()
    (no_token / ".ray" / "auth_token").write_text("secret-of-the-head\n")
    server = ThreadingHTTPServer(("127.0.0.1", 0), JobsApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client(f"http://127.0.0.1:{server.server_address[1]}")
        assert seen and seen[0] == ("/api/version", "Bearer secret-of-the-head")
        assert all(header == "Bearer secret-of-the-head" for _, header in seen)
        seen.clear()  # a login in the address (a proxy's basic auth) is sent as a header, never shown to Ray
        client(f"http://admin:p%40ss@127.0.0.1:{server.server_address[1]}")
        assert seen and all(header == "Basic " + base64.b64encode(b"admin:p@ss").decode() for _, header in seen)
    finally:
        server.shutdown()
        server.server_close()


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
    # As on a laptop after `ray get-auth-token --generate`: the token only in ~/.ray/auth_token, no
    # RAY_AUTH_MODE, so Ray's client sends nothing itself and w2v's lookup must find and send it.
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text(env["RAY_AUTH_TOKEN"] + "\n")
    laptop = {k: v for k, v in env.items() if k not in AUTH_VARIABLES}
    done = _submit({**laptop, "HOME": str(home)}, address, job_id, str(missing), "--out", str(tmp_path / "never"),
                   "--no-eval")
    assert done.returncode == 2 and f"job {job_id}: FAILED" in done.stdout  # the job's code: bad input
    # The last line is the job's own error, not Ray's `WebSocket closed ...` as the log stream ends.
    assert done.stderr.splitlines()[-1] == (f"w2v: error: job {job_id} FAILED: corpus path {missing}: no such file or "
                                            f"directory"), done.stderr
    assert "WebSocket" not in done.stdout + done.stderr

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


def test_a_login_in_the_jobs_api_address_is_never_printed(tmp_path, capsys, caplog):
    from w2v.cli import main

    (tmp_path / "c.txt").write_text("a b c\n")
    address = "http://admin:hunt/er2@127.0.0.1:9"  # nothing listens on port 9
    assert main(["submit", "--address", address, "--", str(tmp_path / "c.txt"), "--out", str(tmp_path / "o")]) == 3
    out, err = capsys.readouterr()
    assert err.startswith("w2v: error: cannot reach the Ray Jobs API at http://***@127.0.0.1:9: ")
    assert "hunt" not in out + err + caplog.text and "er2" not in out + err + caplog.text


def test_env_values_that_look_like_secrets_are_warned_about_without_being_shown(tmp_path, capsys, caplog):
    """README: Ray keeps --env values in clear text (runtime_env_agent.log, the job's record)."""
    from w2v.cli import main

    address = "http://127.0.0.1:9"
    assert main(["submit", "--address", address, "--env", "AWS_SECRET_ACCESS_KEY=wJal/rX+U", "--env", "LANG=C",
                 "--", str(tmp_path / "c.txt"), "--out", str(tmp_path / "o")]) == 3
    out, err = capsys.readouterr()
    assert "--env AWS_SECRET_ACCESS_KEY: Ray keeps --env values in clear text" in caplog.text
    assert "LANG" not in caplog.text and "wJal" not in out + err + caplog.text
