"""How much memory this process holds, for the plan, the manifest and the benchmarks (Linux).

Two numbers, because Ray muddies one: peak RSS counts the pages of Ray's shared-memory object
store that the process touched, so an actor that exchanges weights looks bigger than what it
owns; RssAnon counts only its private memory.
"""

from __future__ import annotations

import resource

from . import procfs


def peak_rss_bytes() -> int:
    """This process's peak resident memory in bytes (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def private_rss_bytes() -> int:
    """Resident memory private to this process now (RssAnon: no shared object-store or file pages); 0 off Linux."""
    return (procfs.status_kib("RssAnon") or 0) * 1024
