"""The kind of text, measured before training: how repetitive it is and how fast its vocabulary grows."""

import math

from jobs import corpus_kind
from jobs.corpus_kind import heaps_exponent, measure, measure_file


def test_a_repetitive_text_has_its_tokens_in_few_words():
    kind = measure(["the cat sat on the mat"] * 4 + ["a dog ran far away"], min_count=2, top=2)
    assert (kind.tokens, kind.types, kind.vocabulary) == (29, 10, 5)
    assert kind.top_share == (8 + 4) / 29  # "the" 8 times, then one of the 4-times words
    assert math.isnan(kind.heaps_exponent)  # 29 tokens: not one prefix to fit


def test_the_heaps_exponent_is_the_growth_of_the_vocabulary_on_prefixes():
    # the n-th token is word number floor(sqrt(n)): sqrt(n) types after n tokens, an exponent of 1/2
    tokens = [f"w{math.isqrt(n)}" for n in range(1, 200_001)]
    lines = [" ".join(tokens[i : i + 10]) for i in range(0, len(tokens), 10)]
    kind = measure(lines)
    assert abs(kind.heaps_exponent - 0.5) < 0.01 and kind.heaps_prefixes >= 10
    assert round(heaps_exponent([(1_000, 100), (10_000, 1_000)]), 9) == 1.0


def test_the_first_million_tokens_are_a_yardstick_whatever_the_size(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(corpus_kind, "MILLION", 12)
    kind = measure(["a a a b b", "a a b b b c c", "c c c d d d d d"], min_count=3)
    assert kind.vocabulary_first_million == 2  # a (5 times) and b (5) within the first 12 tokens; c only 2
    assert kind.vocabulary == 4 and measure(["a b c d e"]).vocabulary_first_million is None
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a a a b b\na a b b b c c\n")
    assert measure_file(corpus, min_count=3).tokens == 12 and measure_file(corpus, max_tokens=4).tokens == 5
    assert corpus_kind.main([str(corpus), "--min-count", "3"]) == 0
    assert f"| {corpus} | 12 | 3 | 2 | 166,667 | 2 | 1.000 |" in capsys.readouterr().out
