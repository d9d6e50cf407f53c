"""The fault check (jobs/fault_check.py): its corpus is whole lines of the source, and its table shows
medians and ranges over trials, each time a ratio to the same trial's undisturbed run."""

import doctest

import jobs.fault_check
from jobs.fault_check import Row, cut_corpus, table


def test_the_corpus_is_the_first_words_of_the_sources_in_whole_lines(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("one two three\nfour five\n")
    second.write_text("six seven eight nine\nten\n")
    out = tmp_path / "corpus.txt"
    assert cut_corpus([first, second], 6, out) == 9  # the line that crosses 6 words is kept whole
    assert out.read_text() == "one two three\nfour five\nsix seven eight nine\n"


def test_times_are_ratios_to_the_same_trials_undisturbed_run():
    rows = [Row(1, "undisturbed", {}, 10.0, 20.0, 0, 0.0, 0), Row(1, "trainer lost", {}, 13.0, 24.0, 300, 0.003, 10),
            Row(2, "undisturbed", {}, 20.0, 40.0, 0, 0.0, 0), Row(2, "trainer lost", {}, 22.0, 40.0, 100, 0.001, 30),
            Row(3, "undisturbed", {}, 10.0, 20.0, 0, 0.0, 0), Row(3, "trainer lost", {}, 11.5, 21.0, 200, 0.002, 20)]
    lost = table(rows).splitlines()[3]
    assert lost == ("| trainer lost | 3 | 13.0 (11.5-22.0) | 1.15 (1.10-1.30) | 1.05 (1.00-1.20) | 200 (100-300) | "
                    "0.20% (0.10%-0.30%) | 20 (10-30) |")
    assert doctest.testmod(jobs.fault_check).failed == 0
