"""One global vocabulary from per-shard word counts.

Counting is one Ray task per shard (`count_shard`); the driver merges the counts and applies
`min_count` and `max_final_vocab` exactly as gensim does. The order is count descending, ties by
the word, so the same corpus always gives the same vocabulary and row i means the same word in
every actor and in the artifact.

This module holds every count in memory: bounded counting for web-scale vocabularies (pruning,
tree merges) comes with big-corpus support.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

from .corpus import ReadOptions, ReadStats, Shard, iter_sentences
from .errors import BadShardError, CorpusError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShardCount:
    """What one pass over one shard saw."""

    uri: str
    words: int  # tokens read (before min_count)
    sentences: int  # sentences yielded (long lines count once per 10,000-word piece)
    distinct: int  # distinct words in this shard
    counts: Mapping[str, int]  # word -> occurrences in this shard (emptied once merged)
    bad_lines: int = 0  # lines with bytes that are not UTF-8 (replaced, ignored or skipped by policy)
    skipped: str | None = None  # why the whole shard was left out (--on-bad-shard skip), else None
    kept: int = 0  # tokens whose word made it into the vocabulary (set by build_vocabulary)

    def summary(self) -> dict:
        """The shard's line in the manifest (without the counts)."""
        return {"uri": self.uri, "words": self.words, "kept_words": self.kept, "sentences": self.sentences,
                "distinct": self.distinct, "bad_lines": self.bad_lines, "skipped": self.skipped}


def count_shard(shard: Shard, options: ReadOptions) -> ShardCount:
    """Count the words of one shard with the same tokenization that training uses."""
    counts: Counter[str] = Counter()
    words = sentences = 0
    stats = ReadStats()
    try:
        for sentence in iter_sentences(shard, options, stats):
            counts.update(sentence)
            words += len(sentence)
            sentences += 1
    except BadShardError as exc:
        if options.on_bad_shard != "skip":
            raise
        logger.warning("skipping %s", exc)  # what it yielded before the damage is left out too
        return ShardCount(uri=shard.uri, words=0, sentences=0, distinct=0, counts={}, skipped=str(exc))
    return ShardCount(uri=shard.uri, words=words, sentences=sentences, distinct=len(counts), counts=dict(counts),
                      bad_lines=stats.bad_lines)


def merge_counts(parts: Iterable[Mapping[str, int]]) -> Counter[str]:
    """Sum word counts.

    >>> merge_counts([{"a": 1, "b": 2}, {"a": 3}]) == {"a": 4, "b": 2}
    True
    """
    total: Counter[str] = Counter()
    for part in parts:
        total.update(part)
    return total


@dataclass(frozen=True)
class Vocabulary:
    """Retained words in row order with their corpus counts."""

    words: tuple[str, ...]  # row i of every matrix is words[i]
    counts: tuple[int, ...]  # corpus count of words[i], descending
    effective_min_count: int  # min_count after max_final_vocab raised it (gensim's rule)
    raw_words: int  # tokens in the corpus, kept or not
    raw_distinct: int  # distinct tokens before min_count

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], min_count: int, max_final_vocab: int | None = None,
                    ) -> "Vocabulary":
        """Apply min_count and max_final_vocab like gensim, then sort by (-count, word).

        gensim's rule for max_final_vocab: the effective min_count becomes one more than the count
        of the word ranked max_final_vocab, so ties at the cut are dropped together, never split.

        >>> Vocabulary.from_counts({"b": 2, "a": 2, "c": 5, "d": 1}, min_count=2).words
        ('c', 'a', 'b')
        """
        effective = min_count
        if max_final_vocab is not None and max_final_vocab < len(counts):
            ranked = sorted(counts.values(), reverse=True)
            effective = max(min_count, ranked[max_final_vocab] + 1)
        kept = sorted(((w, c) for w, c in counts.items() if c >= effective), key=lambda wc: (-wc[1], wc[0]))
        return cls(
            words=tuple(w for w, _ in kept),
            counts=tuple(c for _, c in kept),
            effective_min_count=effective,
            raw_words=sum(counts.values()),
            raw_distinct=len(counts),
        )

    def __len__(self) -> int:
        return len(self.words)

    def word_freq(self) -> dict[str, int]:
        """word -> count in row order, for gensim's `build_vocab_from_freq`."""
        return dict(zip(self.words, self.counts))

    @property
    def retained_words(self) -> int:
        """Corpus tokens whose word is in the vocabulary."""
        return sum(self.counts)


def build_vocabulary(shards: Sequence[Shard], options: ReadOptions, min_count: int,
                     max_final_vocab: int | None) -> tuple[Vocabulary, list[ShardCount]]:
    """Count every shard in a Ray task of its own, merge, and apply the vocabulary rules.

    Returns the vocabulary and the per-shard counts (their `words` size each actor's epoch).
    """
    import ray

    task = ray.remote(num_cpus=1, max_retries=2)(count_shard)
    shard_counts: list[ShardCount] = ray.get([task.remote(s, options) for s in shards])
    merged = merge_counts(sc.counts for sc in shard_counts)
    vocab = Vocabulary.from_counts(merged, min_count, max_final_vocab)
    skipped = [sc for sc in shard_counts if sc.skipped]
    if skipped and len(skipped) == len(shard_counts):
        raise CorpusError(f"every corpus file was skipped as a bad shard ({len(skipped)}), e.g. {skipped[0].skipped}")
    if vocab.raw_words == 0:
        raise CorpusError(f"corpus ({len(shards)} files) holds no words, only whitespace")
    if len(vocab) == 0:
        raise CorpusError(
            f"min_count={min_count}: no word of the corpus is that frequent (the most frequent "
            f"appears {max(merged.values())} times); lower --min-count"
        )
    logger.info(
        "vocabulary: %d of %d distinct words kept (effective min_count %d), %d of %d tokens",
        len(vocab), vocab.raw_distinct, vocab.effective_min_count, vocab.retained_words, vocab.raw_words,
    )
    # The per-shard counts are merged: keep what each shard gave the vocabulary, drop the counts.
    kept = set(vocab.words)
    return vocab, [replace(sc, counts={}, kept=sum(c for w, c in sc.counts.items() if w in kept))
                   for sc in shard_counts]
