"""One global vocabulary from per-shard word counts.

Counting is one Ray task per batch of consecutive shards (`batch_shards`: small shards share a task
up to COUNT_BATCH_BYTES, a big shard has its own), each shard counted on its own (`count_shard`) into
its own table; the tables are merged by a tree of Ray tasks (`merge_tree`, MERGE_FAN_IN batches per
task), and the driver receives only the final table, then applies `min_count` and `max_final_vocab` exactly as gensim does. The order is count
descending, ties by the word, so the same corpus always gives the same vocabulary and row i means
the same word in every actor and in the artifact.

Bounded counting (`max_vocab_size`, gensim's name and rule): a web-scale corpus has tens of
millions of distinct tokens, most of them seen once. A counting task prunes its table after each
sentence that takes it past `max_vocab_size` words, exactly as gensim's `Word2Vec(max_vocab_size=)`
does: every word seen fewer than `min_reduce` times is dropped, and `min_reduce` (starting at 1)
goes up by one for the next prune. A merge task adds its inputs into one table word by word,
pruning the same way whenever the table passes the bound (until it is back under it), and fetches
its inputs one at a time. So no merged table holds more than `max_vocab_size` words, a counting
table more than that plus the few sentences it takes gensim's rising threshold to bite, a process
holds at most two such tables (its own and one input), and the driver only the final one. Pruning makes the counts
of rare words approximate (a word pruned in one shard loses those occurrences): the manifest
records how many distinct words and occurrences were dropped. Without `max_vocab_size` counts are
exact and unbounded. The phrase pass (`phrases.learn`, `count_and_merge`) counts words and phrase
candidates in one table per task, bounded and merged by the same rule.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping, MutableMapping, Sequence

from . import progress, retries
from .corpus import ReadOptions, ReadStats, Shard, iter_sentences
from .errors import BadShardError, CorpusError
from .memory import peak_rss_bytes

logger = logging.getLogger(__name__)

MERGE_FAN_IN = 4  # batches of tables merged per merge task: a tree of depth log4(batches)
# Bytes of corpus one counting task reads, at least (a shard this big or bigger is counted alone). A Ray
# task costs about 3 ms of scheduling and transfer whatever it reads (5,000 tasks of 556-byte files: 16 s of
# counting on 2 cores, issue 12), and counting reads about 30 MB/s on one core (a 16 MB file: 0.53 s), so
# 2 MB (~65 ms of counting) keeps that cost near 5% of a task, while a corpus of 16 MB or more still
# gives 8 or more tasks to spread over the cluster's cores.
COUNT_BATCH_BYTES = 2_000_000


@dataclass(frozen=True)
class ShardCount:
    """What one pass over one shard saw."""

    uri: str  # the shard's name: its URI, with #bytes=start-end for a byte range
    words: int  # tokens read (before min_count)
    sentences: int  # sentences yielded (long lines count once per 10,000-word piece)
    distinct: int  # distinct words in this shard's table (after pruning)
    counts: Mapping[str, int]  # word -> occurrences in this shard (emptied once merged)
    bad_lines: int = 0  # lines with bytes that are not UTF-8, or bad JSON/Parquet records (--on-bad-line skip)
    records: int = 0  # JSON Lines records or Parquet rows read; lines for plain text
    skipped: str | None = None  # why the whole shard was left out (--on-bad-shard skip), else None
    kept: int = 0  # tokens whose word made it into the vocabulary (set by build_vocabulary)
    pruned_words: int = 0  # distinct-word entries dropped by pruning
    pruned_tokens: int = 0  # occurrences those entries held
    peak_rss: int = 0  # peak resident bytes of the process that counted (a reused Ray worker: an upper bound)

    def summary(self) -> dict:
        """The shard's line in the manifest (without the counts)."""
        return {"uri": self.uri, "words": self.words, "kept_words": self.kept, "sentences": self.sentences,
                "distinct": self.distinct, "records": self.records, "bad_lines": self.bad_lines, "skipped": self.skipped,
                "pruned_words": self.pruned_words, "pruned_tokens": self.pruned_tokens}


class Pruner:
    """gensim's max_vocab_size rule on one table: drop words below `min_reduce`, then raise it.

    >>> table, pruner = {"a": 3, "b": 1, "c": 1}, Pruner(2)
    >>> pruner.check(table); sorted(table), pruner.min_reduce  # the first prune drops nothing, like gensim's
    (['a', 'b', 'c'], 2)
    >>> pruner.check(table); sorted(table), pruner.pruned_words, pruner.pruned_tokens
    (['a'], 2, 2)
    """

    def __init__(self, bound: int | None):
        self.bound = bound  # most words the table may hold; None: never prune
        self.min_reduce = 1  # words seen fewer times are dropped by the next prune
        self.pruned_words = 0  # distinct entries dropped so far
        self.pruned_tokens = 0  # occurrences they held

    def check(self, table: MutableMapping[str, int]) -> None:
        """Prune once when the table is over the bound (gensim's `prune_vocab` + `min_reduce += 1`)."""
        if self.bound is None or len(table) <= self.bound:
            return
        doomed = [w for w, c in table.items() if c < self.min_reduce]
        for w in doomed:
            self.pruned_tokens += table.pop(w)
        self.pruned_words += len(doomed)
        self.min_reduce += 1


def count_shard(shard: Shard, options: ReadOptions, max_vocab_size: int | None = None,
                tally: Callable[[MutableMapping[str, int], list[str]], None] | None = None) -> ShardCount:
    """Count the words of one shard with the same tokenization that training uses.

    With `max_vocab_size`, the table is pruned after each sentence that takes it past the bound,
    exactly as gensim's `Word2Vec(max_vocab_size=...)` scan does. `tally(table, sentence)` counts a
    sentence instead of one entry per word (`phrases.tally`: words and phrase candidates).
    """
    counts: Counter[str] = Counter()
    pruner = Pruner(max_vocab_size)
    words = sentences = 0
    stats = ReadStats()
    try:
        for sentence in iter_sentences(shard, options, stats):
            if tally is None:
                counts.update(sentence)
            else:
                tally(counts, sentence)
            words += len(sentence)
            sentences += 1
            pruner.check(counts)
    except BadShardError as exc:
        if options.on_bad_shard != "skip":
            raise
        logger.warning("skipping %s", exc)  # what it yielded before the damage is left out too
        return ShardCount(uri=shard.name, words=0, sentences=0, distinct=0, counts={}, skipped=str(exc),
                          peak_rss=peak_rss_bytes())
    return ShardCount(uri=shard.name, words=words, sentences=sentences, distinct=len(counts), counts=dict(counts),
                      bad_lines=stats.bad_lines, records=stats.records or stats.lines, pruned_words=pruner.pruned_words, pruned_tokens=pruner.pruned_tokens,
                      peak_rss=peak_rss_bytes())


def kept_tokens(table: Mapping[str, int], words: frozenset[str]) -> int:
    """Occurrences in one shard's table of the words the vocabulary kept.

    >>> kept_tokens({"a": 3, "b": 1}, frozenset({"a"}))
    3
    """
    return sum(c for w, c in table.items() if w in words)


def merge_into(total: dict[str, int], part: Mapping[str, int], pruner: Pruner) -> None:
    """Add `part` into `total` word by word, pruning whenever `total` passes the bound.

    >>> total = {"a": 2}; merge_into(total, {"a": 1, "b": 1}, Pruner(None)); total
    {'a': 3, 'b': 1}
    """
    if pruner.bound is None:
        for w, c in part.items():
            total[w] = total.get(w, 0) + c
        return
    bound = pruner.bound
    for w, c in part.items():
        total[w] = total.get(w, 0) + c
        while len(total) > bound:  # a firm bound: a prune that drops nothing just raises min_reduce
            pruner.check(total)


def merge_refs(refs: Sequence[Any], max_vocab_size: int | None, tag: retries.Tag | None = None
               ) -> tuple[list[dict[str, int]], dict[str, int]]:
    """A merge task's body: fetch the batches of tables one at a time (never all at once) and merge them.

    Each ref holds a list of tables (a counting batch's, one per shard, or a merge task's one).
    Returns the merged table (as a list of one) and {'pruned_words', 'pruned_tokens', 'peak_rss'}.
    `tag` notes the attempt (`retries`).
    """
    import ray

    if tag is not None:
        tag.note()
    total: dict[str, int] = {}
    pruner = Pruner(max_vocab_size)
    for ref in refs:
        parts = ray.get(ref)
        for part in parts:
            merge_into(total, part, pruner)
        del parts
    return [total], {"pruned_words": pruner.pruned_words, "pruned_tokens": pruner.pruned_tokens,
                     "peak_rss": peak_rss_bytes()}


def batch_shards(sizes: Sequence[int], target: int = COUNT_BATCH_BYTES) -> list[range]:
    """Consecutive shards, by index, grouped until a group's bytes reach `target`; a shard of `target`
    bytes or more is a group of its own. Each group is one counting task (`_count_tasks`).

    >>> batch_shards([10, 10, 50, 100, 10, 10, 10, 1], target=30)
    [range(0, 2), range(2, 3), range(3, 4), range(4, 7), range(7, 8)]
    """
    batches: list[range] = []
    start = size = 0  # the open group's first shard and its bytes so far
    for i, shard_bytes in enumerate(sizes):
        if shard_bytes >= target and i > start:  # a big shard never joins the small ones before it
            batches.append(range(start, i))
            start, size = i, 0
        size += shard_bytes
        if size >= target:
            batches.append(range(start, i + 1))
            start, size = i + 1, 0
    if start < len(sizes):
        batches.append(range(start, len(sizes)))
    return batches


def _count_batch(shards: Sequence[Shard], options: ReadOptions, max_vocab_size: int | None,
                 tally: Callable | None = None, tag: retries.Tag | None = None) -> tuple[list[ShardCount], list[dict]]:
    """Ray task: each shard counted on its own, as `count_shard` does: their summaries (small, for the
    driver) and their tables, one per shard in one object (for the merge tree and `kept_tokens`)."""
    if tag is not None:
        tag.note()
    counted = [count_shard(shard, options, max_vocab_size, tally) for shard in shards]
    return [replace(sc, counts={}) for sc in counted], [dict(sc.counts) for sc in counted]


def _kept_batch(tables: Sequence[Mapping[str, int]], words: frozenset[str], tag: retries.Tag | None = None
                ) -> list[int]:
    """Ray task: `kept_tokens` of each shard's table in one counting batch."""
    if tag is not None:
        tag.note()
    return [kept_tokens(table, words) for table in tables]


def _drain(refs: Sequence[Any]) -> None:
    """After the first failure: read the errors of the tasks that have ended, so Ray does not log each
    again as 'Unhandled error'. Tasks still running are left alone: the job stops now rather than after
    the whole pass (they end with the driver), and are not cancelled: cancelling a task whose
    returns are being completed can trip a fatal check in Ray 2.60's task manager (seen here)."""
    import ray

    ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0)
    for ref in ready:
        try:
            ray.get(ref, timeout=0)
        except Exception:
            pass


def merge_tree(tables: list[Any], max_vocab_size: int | None, fan_in: int = MERGE_FAN_IN
               ) -> tuple[dict[str, int], list[dict[str, int]]]:
    """Merge refs of lists of tables (the counting batches') with a tree of Ray tasks, at least one level
    (a lone batch may hold several tables); the driver fetches only the root's table.

    Returns the merged table and each merge task's stats.
    """
    import ray

    task = ray.remote(num_cpus=1, max_retries=2, num_returns=2)(merge_refs)
    attempts = retries.Attempts("merging counts")
    stats_refs: list[Any] = []
    while len(tables) > 1 or (tables and not stats_refs):
        merged = [task.remote(tables[i : i + fan_in], max_vocab_size, attempts.tag(len(stats_refs) + n))
                  for n, i in enumerate(range(0, len(tables), fan_in))]
        tables = [t for t, _ in merged]  # dropping the previous level lets Ray free its tables
        stats_refs.extend(s for _, s in merged)
    with progress.bar("merging counts", total=len(stats_refs), unit="tasks") as bar:
        for _ in progress.as_done(stats_refs, bar):  # a task's stats are ready when its table is
            bar.update(1)
    result = ray.get(tables[0])[0], ray.get(stats_refs)
    attempts.collect()
    return result


@dataclass(frozen=True)
class CountingPass:
    """What `_count_tasks` hands on: every shard's summary and, per counting batch, its tables' ref."""

    summaries: list[ShardCount]  # shard i's summary, in the shards' order (counts empty)
    batches: list[range]  # the shards (indices) each counting task counted, in order
    tables: list[Any]  # ref of batch j's tables (list[dict], one per shard of batches[j])


def _count_tasks(shards: Sequence[Shard], options: ReadOptions, max_vocab_size: int | None,
                 tally: Callable | None = None) -> CountingPass:
    """One counting task per batch of shards (`batch_shards`): the shards' summaries (waited for, counted
    on a bar, in shards, as the tasks end) and each task's tables' ref."""
    import ray

    task = ray.remote(num_cpus=1, max_retries=2, num_returns=2)(_count_batch)
    options_ref = ray.put(options)  # once, not once per task: with phrases it holds the phrase table
    batches = batch_shards([s.size for s in shards])
    attempts = retries.Attempts(f"counting {'words' if tally is None else 'phrases'}")
    refs = [task.remote([shards[i] for i in batch], options_ref, max_vocab_size, tally, attempts.tag(j))
            for j, batch in enumerate(batches)]
    summaries: list[Any] = [None] * len(shards)  # ShardCount of shard i, once its task ended
    words = read = 0  # tokens counted, bytes of the shards counted
    try:
        with progress.bar(f"counting {'words' if tally is None else 'phrases'}", total=len(shards),
                          unit="shards") as bar:
            for j in progress.as_done([summary for summary, _ in refs], bar):
                for i, summary in zip(batches[j], ray.get(refs[j][0])):
                    summaries[i] = summary
                    words, read = words + summary.words, read + shards[i].size
                bar.set_postfix_str(f"{words:,} words, {read / 1e6:,.1f} MB", refresh=False)
                bar.update(len(batches[j]))
        return CountingPass(summaries, batches, [tables for _, tables in refs])
    except Exception:
        _drain([ref for pair in refs for ref in pair])
        raise
    finally:
        attempts.collect()  # also on failure: the notes leave the cluster's store


def count_and_merge(shards: Sequence[Shard], options: ReadOptions, max_vocab_size: int | None,
                    tally: Callable | None = None) -> tuple[dict[str, int], list[ShardCount], dict[str, int]]:
    """One counting pass that keeps no per-shard table: a task per batch of shards (`tally` per sentence),
    the merge tree.

    Returns the merged table, the shards' summaries and {'pruned_words', 'pruned_tokens'} (what pruning
    dropped in all tasks), 'count_peak_rss' and 'merge_peak_rss' (the largest peak RSS, bytes, of a
    counting and of a merge task's process). `phrases.learn` counts its candidates with it.
    """
    counting = _count_tasks(shards, options, max_vocab_size, tally)
    counted = counting.summaries
    merged, merge_stats = merge_tree(counting.tables, max_vocab_size)
    del counting
    stats = {key: sum(sc.summary()[key] for sc in counted) + sum(m[key] for m in merge_stats)
             for key in ("pruned_words", "pruned_tokens")}
    stats["count_peak_rss"] = max((sc.peak_rss for sc in counted), default=0)
    stats["merge_peak_rss"] = max((m["peak_rss"] for m in merge_stats), default=0)
    return merged, counted, stats


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
    raw_distinct: int  # distinct tokens before min_count (after pruning, with max_vocab_size)
    max_vocab_size: int | None = None  # the counting bound, None: exact counts
    pruned_words: int = 0  # distinct-word entries dropped by pruning, over all tasks
    pruned_tokens: int = 0  # occurrences those entries held
    phrasing: Any = None  # phrases.Phrasing the counted text was joined with (training joins the same); None: none
    inherited: int = 0  # rows 0..inherited-1 are a parent artifact's words (--init-from), the rest new words
    inherited_counts: int = 0  # of sum(counts), the occurrences the parent's counts brought

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

    @classmethod
    def extended(cls, parent_words: Sequence[str], parent_counts: Sequence[int], counts: Mapping[str, int],
                 min_count: int, max_final_vocab: int | None = None, parent_dropped: Mapping[str, int] | None = None,
                 ) -> "Vocabulary":
        """A parent artifact's vocabulary grown by a new corpus's `counts` (`--init-from`).

        Every parent word keeps its row, with its count plus the new corpus's; the new words that
        pass `min_count` on the merged counts follow, ordered like `from_counts` (count descending,
        ties by word). A new word's merged count is its new count plus what the parent counted but
        left out (`parent_dropped`, word -> count). `max_final_vocab` bounds the whole vocabulary,
        by gensim's rule on the new words.

        >>> v = Vocabulary.extended(["b", "a"], [9, 7], {"a": 1, "c": 2, "d": 5, "e": 1}, 2, parent_dropped={"e": 1})
        >>> v.words, v.counts, v.inherited
        (('b', 'a', 'd', 'c', 'e'), (9, 8, 5, 2, 2), 2)
        """
        old = dict(zip(parent_words, parent_counts))  # word -> the parent's count
        dropped = parent_dropped or {}
        room = None if max_final_vocab is None else max(max_final_vocab - len(old), 0)
        new = {w: c + dropped.get(w, 0) for w, c in counts.items() if w not in old}  # merged counts
        new.update((w, c) for w, c in dropped.items() if w not in new and w not in old)  # counted by the parent only
        grown = cls.from_counts(new, min_count, room) if room != 0 else cls.from_counts({}, min_count)
        return cls(
            words=tuple(old) + grown.words,
            counts=tuple(c + counts.get(w, 0) for w, c in old.items()) + grown.counts,
            effective_min_count=grown.effective_min_count,
            raw_words=sum(counts.values()),
            raw_distinct=len(counts),
            inherited=len(old),
            inherited_counts=sum(old.values()) + sum(dropped.get(w, 0) for w in grown.words),
        )

    def __len__(self) -> int:
        return len(self.words)

    def word_freq(self) -> dict[str, int]:
        """word -> count in row order, for gensim's `build_vocab_from_freq`."""
        return dict(zip(self.words, self.counts))

    @property
    def retained_words(self) -> int:
        """Corpus tokens whose word is in the vocabulary (this corpus's: without what a parent's counts brought)."""
        return sum(self.counts) - self.inherited_counts

    def pruning(self) -> dict[str, Any]:
        """The counting bound and what it dropped, for the manifest."""
        return {"max_vocab_size": self.max_vocab_size, "pruned_words": self.pruned_words,
                "pruned_tokens": self.pruned_tokens}


def build_vocabulary(shards: Sequence[Shard], options: ReadOptions, min_count: int,
                     max_final_vocab: int | None, max_vocab_size: int | None = None,
                     parent: tuple[Sequence[str], Sequence[int], Mapping[str, int]] | None = None,
                     dropped: dict[str, int] | None = None,
                     ) -> tuple[Vocabulary, list[ShardCount]]:
    """Count every shard (small ones a batch per Ray task), merge in a tree of tasks, apply the vocabulary rules.

    `parent` (words, counts and left-out counts of an artifact, `--init-from`) grows that vocabulary
    (`Vocabulary.extended`). `dropped`, when given, is filled with word -> count of every counted
    word the vocabulary left out (the parent's too), for `--save-training-state`.

    Returns the vocabulary and the per-shard summaries (their `words` size each actor's epoch;
    their `counts` are empty: the tables went into the merge tree).
    """
    import ray

    counting = _count_tasks(shards, options, max_vocab_size)
    shard_counts = counting.summaries
    merged, merge_stats = merge_tree(counting.tables, max_vocab_size)
    vocab = (Vocabulary.from_counts(merged, min_count, max_final_vocab) if parent is None else
             Vocabulary.extended(parent[0], parent[1], merged, min_count, max_final_vocab, parent_dropped=parent[2]))
    if dropped is not None:
        kept_words = set(vocab.words)
        for table in (merged, parent[2] if parent else {}):
            for w, c in table.items():
                if w not in kept_words:
                    dropped[w] = dropped.get(w, 0) + c
    skipped = [sc for sc in shard_counts if sc.skipped]
    if skipped and len(skipped) == len(shard_counts):
        raise CorpusError(f"every corpus file was skipped as a bad shard ({len(skipped)}), e.g. {skipped[0].skipped}")
    vocab = replace(vocab, raw_words=sum(sc.words for sc in shard_counts), max_vocab_size=max_vocab_size,
                    pruned_words=sum(sc.pruned_words for sc in shard_counts) + sum(m["pruned_words"] for m in merge_stats),
                    pruned_tokens=sum(sc.pruned_tokens for sc in shard_counts) + sum(m["pruned_tokens"] for m in merge_stats))
    logger.info("counting: %d shard(s) in %d task(s), %d merge task(s); largest table %d words; peak RSS %.0f MB "
                "(count), %.0f MB (merge); pruned %d entries (%d occurrences), bound %s",
                len(shards), len(counting.batches), len(merge_stats), max(sc.distinct for sc in shard_counts),
                max(sc.peak_rss for sc in shard_counts) / 1e6,
                max((m["peak_rss"] for m in merge_stats), default=0) / 1e6, vocab.pruned_words, vocab.pruned_tokens,
                max_vocab_size)
    if vocab.raw_words == 0:
        files = list(dict.fromkeys(s.uri for s in shards))  # a file cut into byte ranges is one file
        more = f" and {len(files) - 3} more" if len(files) > 3 else ""
        raise CorpusError(f"corpus {', '.join(files[:3])}{more}: holds no words, only whitespace")
    if len(vocab) == 0:
        raise CorpusError(
            f"min_count={min_count}: no word of the corpus is that frequent (the most frequent "
            f"appears {max(merged.values())} times); lower --min-count"
        )
    logger.info(
        "vocabulary: %d of %d distinct words kept (effective min_count %d), %d of %d tokens",
        len(vocab), vocab.raw_distinct, vocab.effective_min_count, vocab.retained_words, vocab.raw_words,
    )
    # What each shard gave the vocabulary, from its table (still in the object store, each held once: in
    # its batch's list, which the merge tree read too), then drop the tables.
    words_ref = ray.put(frozenset(vocab.words))
    kept_task = ray.remote(num_cpus=1, max_retries=2)(_kept_batch)
    attempts = retries.Attempts("kept words")
    kept = [k for ks in ray.get([kept_task.remote(tables, words_ref, attempts.tag(j))
                                 for j, tables in enumerate(counting.tables)]) for k in ks]
    attempts.collect()
    del counting
    return vocab, [replace(sc, kept=k) for sc, k in zip(shard_counts, kept)]
