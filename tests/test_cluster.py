"""Ray for a command (`cluster`): the leftovers of a killed embedded job, marked sessions of dead w2v processes,
stopped by the next embedded start."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from w2v import cluster

from .corpora import write_planted_corpus

ROOT = Path(__file__).resolve().parent.parent


def test_only_sessions_marked_by_a_dead_process_of_this_host_are_found(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    for name, text in [("dead", f"{cluster.host_tag()} {dead.stdout.strip()}\n"),
                       ("alive", f"{cluster.host_tag()} {os.getpid()}\n"),
                       ("elsewhere", f"otherhost {dead.stdout.strip()}\n"), ("garbled", "x\n")]:
        (tmp_path / name).mkdir()
        (tmp_path / name / cluster.MARKER).write_text(text)
    (tmp_path / "unmarked").mkdir()  # a `ray start` session
    assert cluster.dead_sessions(str(tmp_path)) == [str(tmp_path / "dead")]
    cluster.remove_leftovers(str(tmp_path))
    assert not (tmp_path / "dead" / cluster.MARKER).exists() and cluster.dead_sessions(str(tmp_path)) == []


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}  # parent pid -> child pids
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/stat") as f:
                children.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(name))
        except OSError:
            continue
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _w2v(*args: str, **kwargs) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # embedded, always
    return subprocess.Popen([sys.executable, "-m", "w2v.cli", *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            **kwargs)


@pytest.mark.slow
def test_what_a_killed_embedded_job_left_running_is_gone_after_the_next_start(tmp_path):
    write_planted_corpus(tmp_path / "corpus", files=2, sentences_per_file=2000)
    log = tmp_path / "killed.log"
    with open(log, "wb") as err:
        job = _w2v("train", str(tmp_path / "corpus"), "--out", str(tmp_path / "a"), "--no-eval", "--epochs", "500",
                   stdout=subprocess.DEVNULL, stderr=err)
    for _ in range(300):  # mid-training: trainer actor and Ray workers alive
        if b"epoch 1/" in log.read_bytes() or job.poll() is not None:
            break
        time.sleep(0.5)
    assert job.poll() is None, log.read_text()
    family = _descendants(job.pid)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    time.sleep(3)  # GCS, raylet and workers end with the driver; the agents do not
    left = {pid for pid in family if cluster.process_alive(pid)}
    assert left, "nothing was left running: the case this cleans up did not happen"

    done = _w2v("train", str(tmp_path / "corpus"), "--out", str(tmp_path / "b"), "--no-eval", "--epochs", "1",
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = done.communicate(timeout=300)
    assert done.returncode == 0, err.decode()
    assert not {pid for pid in left if cluster.process_alive(pid)}
    assert b"left by a killed w2v job" in err
