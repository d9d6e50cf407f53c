"""What Linux's /proc says about processes and threads: the one place in w2v that reads /proc.

Every answer is a plain value, and "cannot tell" where /proc does not say (not Linux, the process or
thread gone, another user's): None, an empty list or an empty string, never an OSError. The callers
decide what "cannot tell" means to them (a process is alive, a clock is unavailable, nothing to kill).
This module reads; it neither signals nor removes anything.
"""

from __future__ import annotations

import os

Pid = int | str  # a process id, or "self"


def _read(path: str, binary: bool = False) -> str | bytes | None:
    try:
        with open(path, "rb" if binary else "r", **({} if binary else {"errors": "replace"})) as f:
            return f.read()
    except OSError:
        return None


def stat_fields(pid: Pid = "self") -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, which may hold spaces and ')': the state
    (proc(5)'s field 3) is item 0, so proc(5)'s field N is item N - 3.

    >>> stat_fields()[0] in "RSDZTtWXxKPI"
    True
    """
    text = _read(f"/proc/{pid}/stat")
    if text is None or ")" not in text:
        return None
    return text.rsplit(")", 1)[1].split()


def state(pid: Pid) -> str | None:
    """The process's state letter (R, S, D, Z for a zombie, ...), or None.

    >>> state("self")
    'R'
    """
    fields = stat_fields(pid)
    return fields[0] if fields else None


def cpu_seconds(pid: Pid = "self") -> float | None:
    """User plus system CPU seconds the process has used (proc(5)'s utime and stime, fields 14 and 15).

    >>> cpu_seconds() >= 0
    True
    """
    fields = stat_fields(pid)
    try:
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (TypeError, IndexError, ValueError):
        return None


def started_after_boot(pid: Pid = "self") -> float | None:
    """Seconds after boot (CLOCK_BOOTTIME's clock) at which the process started (field 22, in clock ticks).

    >>> 0 < started_after_boot() <= __import__("time").clock_gettime(__import__("time").CLOCK_BOOTTIME)
    True
    """
    fields = stat_fields(pid)
    try:
        return int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (TypeError, IndexError, ValueError):
        return None


def command_name(pid: Pid) -> str | None:
    """The process's name (/proc/PID/comm, e.g. "raylet"), or None."""
    text = _read(f"/proc/{pid}/comm")
    return text.strip() if text is not None else None


def command_line(pid: Pid) -> bytes | None:
    """The process's command line, NUL-separated as the kernel keeps it, or None."""
    return _read(f"/proc/{pid}/cmdline", binary=True)


def open_files(pid: Pid) -> list[str]:
    """Where the process's file descriptors point (paths, `socket:[...]`, ...); empty when unreadable."""
    found = []
    for fd in _listdir(f"/proc/{pid}/fd"):
        try:
            found.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:  # closed meanwhile
            continue
    return found


def process_ids() -> list[int]:
    """Every process id /proc lists (this one included); empty off Linux."""
    return [int(p) for p in _listdir("/proc") if p.isdigit()]


def thread_ids() -> list[int]:
    """This process's thread ids; empty off Linux.

    >>> os.getpid() in thread_ids()  # the main thread's id is the process's
    True
    """
    return [int(t) for t in _listdir("/proc/self/task") if t.isdigit()]


def thread_name(tid: int) -> str:
    """A thread of this process's name (comm), "" when it is gone."""
    text = _read(f"/proc/self/task/{tid}/comm")
    return text.strip() if text is not None else ""


def thread_cpu_seconds(tid: int) -> float | None:
    """CPU seconds a thread of this process has run (schedstat, in ns), None when it is gone."""
    text = _read(f"/proc/self/task/{tid}/schedstat")
    try:
        return int(text.split()[0]) / 1e9
    except (AttributeError, IndexError, ValueError):
        return None


def status_kib(key: str) -> int | None:
    """One `kB` line of /proc/self/status (e.g. "RssAnon"), in KiB; None where absent.

    >>> status_kib("VmRSS") > 0
    True
    """
    text = _read("/proc/self/status")
    for line in (text or "").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
