"""What a terminal shows: a stream that says it is one, and the lines left on screen once bars are redrawn."""

from __future__ import annotations

import io


class Terminal(io.StringIO):
    """A text stream that is a terminal as far as `isatty` tells: progress bars are drawn on it."""

    def isatty(self) -> bool:
        return True


def final_lines(screen: str) -> list[str]:
    """The lines a terminal shows once done: a bar redrawn with carriage returns leaves its last drawing.

    >>> final_lines("\\rcount: 0 of 2\\rcount: 2 of 2\\nlog line\\n")
    ['count: 2 of 2', 'log line']
    """
    lines = screen.replace("\r\n", "\n").split("\n")
    return [shown for shown in (line.rsplit("\r", 1)[-1] for line in lines) if shown]
