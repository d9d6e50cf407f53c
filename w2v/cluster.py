"""Ray for a w2v command: join a cluster, or start one embedded in this process, and clean up what a
killed embedded job left behind.

`init_ray` joins the cluster at an address (refused at once, `check_reachable`, when nothing
listens there) or starts Ray embedded (`start_embedded`), and routes Ray's driver-side log lines and
its workers' forwarded output through w2v's logging. Only the CLI calls it; `jobs/` that need Ray
start their own.

Leftovers: an embedded Ray belongs to the `w2v train` process that started it. Killed with
`kill -9`, that process cannot stop it: its GCS, raylet and workers end within seconds, but Ray's
dashboard agent and runtime-env agent (children of the dead raylet) stay: measured here, more than
60 s and under 90 s after the kill, and they ignore SIGTERM meanwhile (issue 12). So an embedded
start marks its session dir with MARKER (this host, this pid), and the next embedded start on this
host kills, with SIGKILL, the processes that hold files of a marked session whose process no longer
runs, then removes the marker (`remove_leftovers`). A session w2v did not start embedded
(`ray start`, another program's `ray.init`) has no marker and is never touched; nor is a live job's.

This module starts, marks, finds and kills; it knows nothing of training.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import time
from typing import Any

from . import procfs
from .errors import ClusterError, one_line
from .extras import require
from .owners import host_tag, process_alive

logger = logging.getLogger(__name__)

def init_ray(address: str | None, quiet: bool = False, log_format: str = "text") -> bool:
    """Join the cluster at `address` or $RAY_ADDRESS; with neither, start Ray embedded in this process.

    Returns whether this call initialized Ray (False: the caller's Ray was up already), i.e. whether
    the command shuts it down. Ray's driver-side log lines go through w2v's handler
    (configure_logging): one format, text or JSON, and above the progress bars. Quiet, Ray logs
    errors only while it starts: its start-up lines ("Started a local Ray instance", the token
    notice) are not warnings about this job; its warnings later are.
    """
    ray = require("ray", "w2v on a Ray cluster")
    target = address or os.environ.get("RAY_ADDRESS")
    if target:
        check_reachable(target)
    if ray.is_initialized():
        return False
    ray_logger = logging.getLogger("ray")
    ray_logger.handlers.clear()  # Ray's own stderr handler, with Ray's format
    ray_logger.propagate = True
    ray_logger.setLevel(logging.ERROR if quiet else logging.INFO)
    options: dict[str, Any] = {"log_to_driver": True, "configure_logging": False}
    if target:
        try:
            ray.init(address=address or None, **options)
        except ConnectionError as exc:  # e.g. "auto" with no cluster on this machine
            raise ClusterError(f"cannot reach the Ray cluster at {target}: {one_line(exc)}") from None
    else:
        start_embedded(ray, options)
    ray_logger.setLevel(logging.WARNING if quiet else logging.INFO)
    worker_output_as_log_records(log_format == "json")
    return True


WORKER_OUTPUT = "w2v.worker_output"  # the logger the workers' forwarded stdout/stderr lines go through with JSON logs


def worker_output_as_log_records(enabled: bool = True) -> None:
    """Ray prints what its workers write (a task's warning, a C++ library's message under load) straight to
    this process's stdout/stderr, one prefixed line each. With --log-format json every line must be one
    JSON object, so those lines become records of the logger WORKER_OUTPUT instead (INFO from stdout,
    WARNING from stderr), with the task or actor and its pid in the message. Ray exposes no public hook
    for this: the swap uses its stream dispatcher, and if that ever moves, the lines stay as Ray prints them
    (one warning says so). `enabled` False puts Ray's own printing back (a later text-format command in the
    same process)."""
    try:
        from ray._private.ray_logging import global_worker_stdstream_dispatcher as dispatcher
    except ImportError as exc:
        logger.warning("worker output is printed as Ray prints it, not as JSON (%s)", exc)
        return
    forwarded = logging.getLogger(WORKER_OUTPUT)

    def emit(data: dict[str, Any]) -> None:
        who = data.get("actor_name") or data.get("task_name") or "worker"
        for line in data.get("lines", []):
            if line.strip():
                forwarded.log(logging.WARNING if data.get("is_err") else logging.INFO, "(%s pid=%s) %s", who,
                              data.get("pid"), line)

    dispatcher.remove_handler("w2v_json_logs")
    if enabled:
        dispatcher.remove_handler("ray_print_logs")
        dispatcher.add_handler("w2v_json_logs", emit)


EMBEDDED_RETRY_SECONDS = (1.0, 3.0)  # the random wait before the one retry of a failed embedded start
RAY_TOKEN_LOGGER = "ray._private.authentication.authentication_token_setup"  # where Ray's token notices come from


def _drop_token_notice(record: logging.LogRecord) -> bool:
    """False for Ray's "token authentication is enabled" notice; its warning that auth is *disabled* still shows.

    >>> _drop_token_notice(logging.makeLogRecord({"msg": "Token authentication is enabled for this Ray cluster."}))
    False
    """
    return not record.getMessage().startswith("Token authentication is enabled for this Ray cluster")


def start_embedded(ray: Any, options: dict[str, Any]) -> None:
    """Start a new embedded Ray ("local": never a cluster someone else started on this machine).

    A start that fails is retried once after a random wait (EMBEDDED_RETRY_SECONDS): two jobs started at
    the same moment on one machine share Ray's temp dir and ~/.ray (a hostile run saw both crash in
    ray.init; not reproduced here in 10 tries), and a random wait puts them apart. A second failure is
    a ClusterError naming the cause (exit code 3), never a traceback: e.g. an unusable temp dir
    ($RAY_TMPDIR). Before it starts, what a killed embedded job of this host left running is stopped
    (`remove_leftovers`), and the new session is marked as this process's.

    Token authentication stays on, as Ray chooses for a new local cluster; its notice on every start
    ("Token authentication is enabled for this Ray cluster. Set RAY_AUTH_MODE=disabled to opt out")
    is dropped (`_drop_token_notice`): it says nothing a user of an embedded run can act on. Setting
    RAY_AUTH_MODE=token here instead would silence it too, but Ray's driver caches its config before
    it, and then connects without the token.
    """
    from ray._common.utils import get_default_ray_temp_dir

    logging.getLogger(RAY_TOKEN_LOGGER).addFilter(_drop_token_notice)
    remove_leftovers(get_default_ray_temp_dir())
    for attempt in (1, 2):
        try:
            ray.init(address="local", include_dashboard=False, **options)
        except Exception as exc:  # noqa: BLE001 - whatever Ray raised, the user gets one line
            ray.shutdown()  # whatever the failed start left half made
            if attempt == 2:
                raise ClusterError(f"cannot start an embedded Ray on this machine (twice): {one_line(exc)} "
                                   f"(temp dir: $RAY_TMPDIR or /tmp)") from None
            wait = random.uniform(*EMBEDDED_RETRY_SECONDS)
            logger.warning("starting an embedded Ray failed (%s); retrying in %.1f s",
                           one_line(exc), wait)
            time.sleep(wait)
            continue
        mark_started()
        return


def check_reachable(address: str, seconds: float = 10.0) -> None:
    """Raise ClusterError when nothing listens at a `host:port` or `ray://host:port` address.

    ray.init retries an unreachable address for many minutes (over 8 measured here) before it
    gives up; one TCP connection says it in seconds. Other forms ("auto", "local") are Ray's to resolve.
    """
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or "://" in host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=seconds).close()
    except OSError as exc:
        raise ClusterError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc} "
                           f"(see --address and $RAY_ADDRESS)") from None


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
    for pid in (p for p in procfs.process_ids() if p != os.getpid()):
        cmdline = procfs.command_line(pid)  # None: gone meanwhile, or another user's
        if cmdline is None:
            continue
        if prefix.encode() in cmdline:
            found.append(pid)
        elif cmdline.startswith(b"ray::") and any(f.startswith(prefix) for f in procfs.open_files(pid)):
            found.append(pid)
    return found


def remove_leftovers(temp_dir: str) -> None:
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
