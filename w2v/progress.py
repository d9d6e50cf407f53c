"""Progress of the driver's long stages on a terminal: counting, spooling, training, evaluating, writing.

A stage asks `bar(...)` for a bar and feeds it as its Ray tasks or actors finish (`as_done`). The
bar is tqdm's while a caller shows progress (`shown`, on a terminal) and otherwise a `NullBar`,
which does nothing: a stage never asks whether anyone is watching. `w2v train` shows progress on
a terminal, except with -q (warnings only) or --log-format json (one JSON object per line, for log
collectors): a pipe, a log file or `ray job logs` gets the stages' log lines alone. Log lines are
printed above the bars, never into them (tqdm's logging redirect).

Only the driver shows bars: Ray tasks and actors return what they did as typed records, and the
driver counts those as they arrive. Numbers read `9 of 22 shards`, with thousands separators.

This module imports tqdm and Ray only when a bar is shown or a task is waited for.
"""

from __future__ import annotations

import contextlib
import sys
from contextvars import ContextVar
from typing import Any, Iterator, Sequence, TextIO

POLL_SECONDS = 0.5  # how often a bar's elapsed time is redrawn while no task finishes

# Where bars are drawn while a caller shows progress (`shown`); None: nowhere (a NullBar).
_stream: ContextVar[TextIO | None] = ContextVar("w2v_progress_stream", default=None)


class NullBar:
    """A bar that shows nothing: what every stage gets when progress is not shown.

    >>> with NullBar(total=3) as b:
    ...     b.update(2); b.set_postfix_str("1,000 words")
    >>> b.n, b.total
    (2, 3)
    """

    def __init__(self, total: float | None = None, initial: float = 0):
        self.total = total  # what a full bar would count
        self.n = initial  # counted so far (the driver's training loop reads it, as tqdm's)

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> NullBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def bar_format(decimals: int = 0, total: bool = True) -> str:
    """tqdm's format of a w2v bar: `desc: 40%|███ | 9 of 22 shards [00:03<00:04, postfix]`.

    >>> bar_format(1)
    '{desc}: {percentage:3.0f}%|{bar}| {n:,.1f} of {total:,.1f} {unit} [{elapsed}<{remaining}{postfix}]'
    >>> bar_format(total=False)
    '{desc}: {elapsed}{postfix}'
    """
    if not total:
        return "{desc}: {elapsed}{postfix}"
    number = f"{{:,.{decimals}f}}"
    return ("{desc}: {percentage:3.0f}%|{bar}| " + number.replace("{", "{n") + " of " + number.replace("{", "{total")
            + " {unit} [{elapsed}<{remaining}{postfix}]")


def bar(desc: str, total: int | None = None, unit: str = "", initial: int = 0, scale: float = 1.0,
        decimals: int = 0):
    """A tqdm bar counting up to `total`, or a NullBar when progress is not shown.

    It counts whole things (shards, bytes) and shows them times `scale` in `unit`s with `decimals`
    (bytes as MB: `scale=1e-6, unit="MB", decimals=1`), so a bar that is full reads exactly full.
    Without a total it shows the elapsed time only (a Ray task that reports nothing until it ends);
    with a total of 0 (a merge tree of one table) there is nothing to show.
    """
    stream = _stream.get()
    if stream is None or total == 0:
        return NullBar(total, initial)
    from tqdm import tqdm

    return tqdm(desc=desc, total=total, unit=unit, initial=initial, unit_scale=scale, file=stream, dynamic_ncols=True,
                bar_format=bar_format(decimals, total is not None))


@contextlib.contextmanager
def shown(on: bool = True, stream: TextIO | None = None) -> Iterator[None]:
    """Show the bars of the stages run inside, on `stream` (default stderr) when it is a terminal.

    Log lines printed to stderr meanwhile go above the bars. Off (`on=False`), or not a terminal,
    every bar is a NullBar.
    """
    stream = stream or sys.stderr
    if not on or not stream.isatty():
        yield
        return
    from tqdm.contrib.logging import logging_redirect_tqdm

    token = _stream.set(stream)
    try:
        with logging_redirect_tqdm():
            yield
    finally:
        _stream.reset(token)


def as_done(refs: Sequence[Any], progress: Any, poll_seconds: float = POLL_SECONDS) -> Iterator[int]:
    """The indices of `refs` (Ray object refs) in the order they become ready, failed ones too.

    While none is ready, `progress` (a bar) is redrawn every `poll_seconds`, so its elapsed time
    moves. The caller reads each result (`ray.get(refs[i])`), and so sees each failure.
    """
    import ray

    index = {ref: i for i, ref in enumerate(refs)}  # ref -> its position
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=poll_seconds)
        if not ready:
            progress.refresh()
        for ref in ready:
            yield index[ref]
