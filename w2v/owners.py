"""Scratch directories named after the process that made them, so a later process can clean up after a dead one.

A spool (`spool.new_spool_dir`) or a publishing stage (`storage.staging_dir`) is removed by the
process that made it when it finishes; one killed with `kill -9`, or with its node, cannot. So
such a directory is named `PREFIX` + host + `-` + pid, and the next process that makes one with
the same prefix first removes those of this host whose process no longer runs. A directory of
another host (a shared filesystem) or of a live process is never touched.

This module names, finds and removes; it knows nothing of spools or artifacts.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket

from . import procfs

logger = logging.getLogger(__name__)


def host_tag() -> str:
    """This host's name as it may appear in a directory name (no '-', which separates the fields)."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"


def owned_name(prefix: str) -> str:
    """`prefix` + this host + '-' + this process's pid: the name `stale` can judge later."""
    return f"{prefix}{host_tag()}-{os.getpid()}"


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    state = procfs.state(pid)
    return state != "Z" if state else True  # no /proc (macOS): kill's answer stands


def stale(root: str, prefix: str) -> list[str]:
    """Paths in `root` named by `owned_name(prefix)` (plus any suffix) on this host, whose process ended."""
    mine = f"{prefix}{host_tag()}-"
    try:
        names = os.listdir(root)
    except OSError:
        return []
    found = []
    for name in names:
        if not name.startswith(mine):
            continue
        pid = name[len(mine):].split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            found.append(os.path.join(root, name))
    return sorted(found)


def remove_stale(root: str, prefix: str, what: str) -> None:
    """Remove `stale(root, prefix)`, one warning per directory removed (`what` says what it was).

    Each is claimed first by renaming it to a name of this process's: another process may be taking
    the same directory over at the same moment (a restarted trainer adopts its predecessor's spool,
    `spool.adopt_spool`, by the same kind of rename), and only one rename of a directory succeeds.
    Removing it in place could delete files from under the process that took it.
    """
    for path in stale(root, prefix):
        claimed = os.path.join(root, f"{owned_name(prefix)}-removing-{os.urandom(4).hex()}")
        try:
            os.rename(path, claimed)
        except OSError:  # taken over (or removed) by another process first
            continue
        shutil.rmtree(claimed, ignore_errors=True)
        if not os.path.exists(claimed):
            logger.warning("removed %s %s, left by a process that ended without cleaning up", what, path)
