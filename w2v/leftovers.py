"""Ray processes an embedded w2v job left behind when it was killed, removed by the next embedded job.

An embedded Ray (`cli.start_embedded`) belongs to the `w2v train` process that started it. Killed
with `kill -9`, that process cannot stop it: its GCS, raylet and workers end within seconds, but
Ray's dashboard agent and runtime-env agent (children of the dead raylet) stay: measured here,
more than 60 s and under 90 s after the kill, and they ignore SIGTERM meanwhile (issue 12). So
an embedded start marks its session dir with MARKER (this host, this pid), and the next embedded
start on this host kills, with SIGKILL, the processes that hold files of a marked session whose
process no longer runs, then removes the marker. A session w2v did not start embedded (`ray start`,
another program's `ray.init`) has no marker and is never touched; nor is a live job's.

This module marks, finds and kills; it knows nothing of training.
"""

from __future__ import annotations

import logging
import os
import signal

from .owners import host_tag, process_alive

logger = logging.getLogger(__name__)

MARKER = "w2v-embedded"  # in a session dir: "host pid" of the w2v process that started it embedded


def mark(session_dir: str) -> None:
    """Mark `session_dir` as this process's embedded Ray (on this host)."""
    with open(os.path.join(session_dir, MARKER), "w", encoding="utf-8") as f:
        f.write(f"{host_tag()} {os.getpid()}\n")


def mark_started() -> None:
    """Mark the session of the Ray this process has just started embedded."""
    import ray._private.worker

    mark(ray._private.worker._global_node.get_session_dir_path())


def dead_sessions(temp_dir: str) -> list[str]:
    """Session dirs in `temp_dir` (Ray's, e.g. /tmp/ray) marked by a w2v process of this host that ended.

    >>> import tempfile; root = tempfile.mkdtemp(); os.mkdir(f"{root}/session_1"); mark(f"{root}/session_1")
    >>> dead_sessions(root)  # marked by this process, which runs
    []
    """
    try:
        names = sorted(os.listdir(temp_dir))
    except OSError:
        return []
    found = []
    for name in names:
        if os.path.islink(os.path.join(temp_dir, name)):  # session_latest: the same dir again
            continue
        try:
            with open(os.path.join(temp_dir, name, MARKER), encoding="utf-8") as f:
                host, pid = f.read().split()
        except (OSError, ValueError):
            continue
        if host == host_tag() and pid.isdigit() and not process_alive(int(pid)):
            found.append(os.path.join(temp_dir, name))
    return found


def holders(session_dir: str) -> list[int]:
    """Pids of this user's Ray processes of `session_dir`: those that name it on their command line, and
    those titled `ray::...` (agents, workers) that hold one of its files open (/proc; elsewhere none). A
    `tail -f` of one of its logs is neither."""
    prefix = session_dir.rstrip("/") + "/"
    found = []
    for pid in (int(p) for p in _listdir("/proc") if p.isdigit() and int(p) != os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            if prefix.encode() in cmdline:
                found.append(pid)
                continue
            if not cmdline.startswith(b"ray::"):
                continue
            for fd in _listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(prefix):
                    found.append(pid)
                    break
        except OSError:  # gone meanwhile, or another user's
            continue
    return found


def remove(temp_dir: str) -> None:
    """Kill what every dead w2v session in `temp_dir` left running, one warning per session."""
    for session in dead_sessions(temp_dir):
        pids = [pid for pid in holders(session) if process_alive(pid)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)  # SIGTERM is ignored by these agents (seen here)
            except OSError:
                pass
        try:
            os.remove(os.path.join(session, MARKER))
        except FileNotFoundError:  # another job starting at the same moment cleaned it up
            pass
        if pids:
            logger.warning("stopped %d Ray process(es) (pids %s) left by a killed w2v job in %s", len(pids),
                           " ".join(map(str, pids)), session)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
