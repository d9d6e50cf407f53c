"""progress: bars only while a caller shows them on a terminal, a do-nothing bar otherwise, one number format.

What a whole job draws (every long stage's bar, fed as its Ray tasks end) is read from a real job's
terminal in `tests/test_pipeline.py`; -q and JSON logs without bars in `tests/test_cli.py`.
"""

import io

import pytest

from w2v import progress

from .terminal import Terminal, final_lines


def test_a_bar_is_a_null_bar_unless_shown_on_a_terminal():
    assert isinstance(progress.bar("counting words", total=3, unit="shards"), progress.NullBar)  # nobody asked
    with progress.shown(stream=io.StringIO()):  # asked, but a pipe or a log file: no bar
        assert isinstance(progress.bar("counting words", total=3, unit="shards"), progress.NullBar)
    with progress.shown(on=False, stream=Terminal()):  # a terminal, but -q or JSON logs
        assert isinstance(progress.bar("counting words", total=3, unit="shards"), progress.NullBar)
    with progress.shown(stream=Terminal()):
        assert not isinstance(progress.bar("counting words", total=3, unit="shards"), progress.NullBar)
        assert isinstance(progress.bar("merging counts", total=0, unit="tasks"), progress.NullBar)  # nothing to do
    assert isinstance(progress.bar("counting words", total=3, unit="shards"), progress.NullBar)  # after: off again


def test_a_shown_bar_counts_with_thousands_separators_and_percentages():
    screen = Terminal()
    with progress.shown(stream=screen):
        with progress.bar("counting words", total=37_947, unit="shards") as bar:
            bar.update(9_274)
            bar.set_postfix_str(f"{1_234_567:,} words")
        with progress.bar("publishing to s3://b/run1", total=7_940_123, unit="MB", scale=1e-6, decimals=1) as bar:
            bar.update(1_000_001)
            bar.update(6_940_122)  # whole bytes: a full bar reads full, never past it
        with progress.bar("evaluating (one Ray task)") as bar:  # no total: the time it takes
            bar.set_postfix_str("finished")
    counting, publishing, evaluating = final_lines(screen.getvalue())
    assert counting.startswith("counting words:  24%|") and "| 9,274 of 37,947 shards [" in counting, counting
    assert counting.endswith(", 1,234,567 words]"), counting
    assert publishing.startswith("publishing to s3://b/run1: 100%|") and "| 7.9 of 7.9 MB [00:00<00:00]" in publishing
    assert evaluating.startswith("evaluating (one Ray task): 00:0") and evaluating.endswith(", finished")


def test_the_null_bar_counts_as_tqdm_does():
    with progress.NullBar(total=10, initial=4) as bar:  # a resumed training's bar starts at its epoch
        bar.update(3)
        bar.set_postfix_str("ignored")
        bar.refresh()
    assert (bar.n, bar.total) == (7, 10)


@pytest.mark.parametrize("decimals", [0, 2])
def test_the_format_is_tqdms(decimals):
    """tqdm fills the format's fields: a name it does not know would raise when the bar is drawn."""
    from tqdm import tqdm

    line = tqdm.format_meter(3, 4, 1.5, unit="epochs", prefix="training", postfix="9 words/s",
                             bar_format=progress.bar_format(decimals), ncols=80)
    assert line.startswith("training:  75%|") and f" 3{'.00' if decimals else ''} of 4" in line, line
