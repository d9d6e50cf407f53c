"""The A-then-B check: its corpora are halves of the source lines, each line once, and its table
shows medians and ranges over the seeds."""

import doctest

import jobs.continue_check
from jobs.continue_check import split_corpus, table


def test_the_two_corpora_are_halves_of_the_lines_each_once(tmp_path):
    lines = [f"w{i} " * (1 + i % 7) for i in range(500)]
    source = tmp_path / "corpus.txt"
    source.write_text("\n".join(line.strip() for line in lines) + "\n\n", encoding="utf-8")
    for ordered in (False, True):
        workdir = tmp_path / f"ordered-{ordered}"
        workdir.mkdir()
        a, b, words = split_corpus([source], 1000, workdir, ordered)
        a_lines, b_lines = a.read_text().splitlines(), b.read_text().splitlines()
        assert not set(a_lines) & set(b_lines) and len(set(a_lines + b_lines)) == len(a_lines + b_lines)
        assert words == {"A": sum(len(x.split()) for x in a_lines), "B": sum(len(x.split()) for x in b_lines)}
        assert 500 <= words["A"] < 507 and 1000 <= words["A"] + words["B"] < 1007  # cut at whole lines
        assert (a_lines[0] == "w0") == ordered  # ordered: the source's order; shuffled: not


def test_the_table_gives_the_median_and_range_of_each_run():
    trials = [{"analogy": a, "wordsim353": 0.3, "simlex999": 0.1, "seconds": 10, "vocabulary": 900}
              for a in (0.12, 0.10, 0.15)]
    lines = table({"A+B (scratch)": trials}).splitlines()
    assert lines[2] == "| A+B (scratch) | 12.00% (10.00%-15.00%) | 0.300 | 0.100 | 900 | 10 |"
    assert doctest.testmod(jobs.continue_check).failed == 0
