"""What kind of text a corpus is, in three numbers measured before training.

    python -m jobs.corpus_kind ~/.cache/w2v-bench/corpus.txt ~/.cache/w2v-bench-reference/corpus.txt
    python -m jobs.corpus_kind --max-tokens 9000000 ~/.cache/w2v-bench/corpus.txt   # at the other's size

Why: the quality the same trainer reaches at the same size differs from one kind of text to
another (software documentation says the same few hundred words over and over; a dictionary
names a new thing in every line), so a law that predicts quality from words per epoch, actors and
staleness needs the corpus's kind as a number too. These three are cheap (one pass, no training)
and say how often the trainer sees each word it has to learn:

- `top_share`: the share of tokens that are one of the 1,000 most frequent words. High: a few
  words do most of the talking and each is seen many times per epoch.
- `heaps_exponent`: β in types ≈ k·tokens^β (Heaps' law), fitted on the corpus's own prefixes
  from 1% of it to all of it. Low: the vocabulary closes early; near 1: new words keep coming, so
  each is seen less.
- `vocabulary_first_million`: the words seen at least 5 times (the trainer's min count) in the
  corpus's first million tokens: how many words a million tokens ask the trainer to learn, the
  same yardstick whatever the corpus's size (`vocabulary_per_million`, the whole corpus's
  vocabulary over its tokens, falls as a corpus grows).

It reads one sentence per line, words split on whitespace (what `jobs.make_corpus` writes), so the
order of the lines matters to the exponent: `jobs.make_corpus` interleaves its sources so that a
prefix is a mix of all of them.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

MIN_COUNT = 5  # the trainer's default min count
TOP_WORDS = 1_000
FIRST_PREFIX = 1_000  # tokens: the first prefix counted; prefixes grow by PREFIX_STEP
PREFIX_STEP = 2 ** 0.25
FIT_FROM = 0.01  # the Heaps fit starts at this share of the corpus (before it, the first file's own words dominate)
MILLION = 1_000_000  # tokens: the prefix `vocabulary_first_million` counts


@dataclass(frozen=True)
class CorpusKind:
    tokens: int
    types: int  # distinct words
    vocabulary: int  # words seen at least min_count times
    min_count: int
    vocabulary_per_million: float  # vocabulary per million tokens
    top_share: float  # share of tokens among the `top` most frequent words
    top: int
    heaps_exponent: float  # NaN when fewer than two prefixes were counted
    heaps_prefixes: int  # prefixes the exponent was fitted on
    vocabulary_first_million: int | None  # words seen min_count times in the first million tokens (None: shorter)

    def line(self) -> str:
        return (f"{self.tokens:,} tokens, {self.types:,} types, vocabulary {self.vocabulary:,} at min count "
                f"{self.min_count} ({self.vocabulary_per_million:,.0f} per million tokens), top {self.top:,} words "
                f"{self.top_share:.1%} of tokens, Heaps exponent {self.heaps_exponent:.3f} "
                f"({self.heaps_prefixes} prefixes), vocabulary in the first million tokens "
                f"{'-' if self.vocabulary_first_million is None else f'{self.vocabulary_first_million:,}'}")


def heaps_exponent(prefixes: Sequence[tuple[int, int]]) -> float:
    """The least-squares slope of log(types) on log(tokens) over (tokens, types) prefixes.

    >>> round(heaps_exponent([(n, int(30 * n ** 0.5)) for n in (10_000, 100_000, 1_000_000)]), 3)
    0.5
    """
    if len(prefixes) < 2:
        return math.nan
    xs = [math.log(tokens) for tokens, _ in prefixes]
    ys = [math.log(types) for _, types in prefixes]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / spread if spread else math.nan


class KindMeter:
    """Counts sentences as they come (`add`), then says what kind of text they were (`result`)."""

    def __init__(self, min_count: int = MIN_COUNT, top: int = TOP_WORDS):
        self.min_count = min_count  # a word the trainer keeps is seen at least this often
        self.top = top  # how many of the most frequent words `top_share` counts
        self.counts: Counter[str] = Counter()  # word -> occurrences
        self.tokens = 0  # words added so far
        self.prefixes: list[tuple[int, int]] = []  # (tokens, types) each time tokens passed the next checkpoint
        self._next_checkpoint = FIRST_PREFIX  # tokens
        self.vocabulary_first_million: int | None = None  # set when the tokens pass a million

    def add(self, words: Sequence[str]) -> None:
        if self.tokens < MILLION <= self.tokens + len(words):
            # the first million tokens end inside this sentence: count its head, then the rest
            head = MILLION - self.tokens
            self.counts.update(words[:head])
            self.vocabulary_first_million = sum(1 for c in self.counts.values() if c >= self.min_count)
            self.counts.update(words[head:])
        else:
            self.counts.update(words)
        self.tokens += len(words)
        if self.tokens >= self._next_checkpoint:
            self.prefixes.append((self.tokens, len(self.counts)))
            while self._next_checkpoint <= self.tokens:
                self._next_checkpoint *= PREFIX_STEP

    def result(self) -> CorpusKind:
        tokens = self.tokens
        prefixes = [p for p in self.prefixes if p[0] >= FIT_FROM * tokens]
        if tokens and (not prefixes or prefixes[-1][0] != tokens):
            prefixes.append((tokens, len(self.counts)))
        vocabulary = sum(1 for count in self.counts.values() if count >= self.min_count)
        top_tokens = sum(count for _, count in self.counts.most_common(self.top))
        return CorpusKind(tokens=tokens, types=len(self.counts), vocabulary=vocabulary, min_count=self.min_count,
                          vocabulary_per_million=vocabulary / tokens * 1e6 if tokens else 0.0,
                          top_share=top_tokens / tokens if tokens else 0.0, top=self.top,
                          heaps_exponent=heaps_exponent(prefixes), heaps_prefixes=len(prefixes),
                          vocabulary_first_million=self.vocabulary_first_million)


def measure(lines: Iterable[str], min_count: int = MIN_COUNT, top: int = TOP_WORDS,
            max_tokens: int | None = None) -> CorpusKind:
    """The kind of text of `lines`, one sentence per line, words split on whitespace; with `max_tokens`, of the
    lines up to the one that reaches it (to compare corpora at one size: vocabulary and Heaps fit depend on it).

    >>> kind = measure(["the cat sat on the mat"] * 5)
    >>> kind.tokens, kind.types, kind.vocabulary, kind.top_share
    (30, 5, 5, 1.0)
    """
    meter = KindMeter(min_count, top)
    for line in lines:
        meter.add(line.split())
        if max_tokens and meter.tokens >= max_tokens:
            break
    return meter.result()


def measure_file(path: Path, min_count: int = MIN_COUNT, top: int = TOP_WORDS,
                 max_tokens: int | None = None) -> CorpusKind:
    with open(path, encoding="utf-8", errors="replace") as f:
        return measure(f, min_count, top, max_tokens)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpora", type=Path, nargs="+", help="text files, one sentence per line")
    parser.add_argument("--min-count", type=int, default=MIN_COUNT, help="the trainer's min count (words)")
    parser.add_argument("--top", type=int, default=TOP_WORDS, help="most frequent words for the top share")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="measure each corpus's first lines up to this many tokens (default: all)")
    args = parser.parse_args(argv)
    print(f"| corpus | tokens | types | vocabulary (min count {args.min_count}) | per million tokens "
          f"| in the first million tokens | top {args.top:,} share | Heaps exponent |")
    print("|---|---|---|---|---|---|---|---|")
    for path in args.corpora:
        kind = measure_file(path.expanduser(), args.min_count, args.top, args.max_tokens)
        first = "-" if kind.vocabulary_first_million is None else f"{kind.vocabulary_first_million:,}"
        print(f"| {path} | {kind.tokens:,} | {kind.types:,} | {kind.vocabulary:,} | {kind.vocabulary_per_million:,.0f} "
              f"| {first} | {kind.top_share:.3f} | {kind.heaps_exponent:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
