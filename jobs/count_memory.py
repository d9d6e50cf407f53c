"""Measure the counting stage's memory on a generated corpus with millions of distinct words.

    python -m jobs.count_memory                                  # 5.5M distinct, bound 1M, 8 files
    python -m jobs.count_memory --distinct 20000000 --bound 2000000 --files 16 --cpus 4
    python -m jobs.count_memory --phrases                        # words and bigrams: ~12M distinct bigrams

Writes the corpus to a temporary directory (deleted afterwards): a Zipf-like head of frequent
words plus `--distinct` words seen once or twice (the long tail of a web crawl), dealt into
`--files` files. Then runs `w2v.vocab.build_vocabulary` on an embedded Ray with `--cpus` CPUs and
prints the peak RSS of the driver and of the worker processes that ran counting and merge tasks
(Ray reuses workers, so a worker's peak covers every task it ran: an upper bound per task).

With `--phrases` it runs the phrase-counting pass instead (`w2v.phrases.learn`, one pass: words and
bigram candidates in one table per task, as gensim's `Phrases` counts them, bounded the same way):
every tail word makes two bigrams seen about once, so the corpus holds millions of distinct bigrams.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from pathlib import Path


def write_corpus(root: Path, distinct: int, head_words: int, files: int, seed: int = 0) -> int:
    """`distinct` tail words (each once, a tenth twice) and as many head tokens, shuffled into lines."""
    rng = random.Random(seed)
    outs = [open(root / f"part-{i:03d}.txt", "w", encoding="utf-8") for i in range(files)]
    tokens = 0
    line: list[str] = []
    for i in range(distinct):
        line.append(f"tail{i:x}")
        if i % 10 == 0:
            line.append(f"tail{rng.randrange(distinct):x}")
        line.append(f"h{int(rng.paretovariate(1.0)) % head_words}")
        if len(line) >= 20:
            outs[rng.randrange(files)].write(" ".join(line) + "\n")
            tokens += len(line)
            line = []
    for f in outs:
        f.close()
    return tokens


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--distinct", type=int, default=5_500_000, help="tail words (each seen once or twice)")
    parser.add_argument("--head-words", type=int, default=100_000, help="frequent words (Zipf-like)")
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--bound", type=int, default=1_000_000, help="max_vocab_size; 0 = no bound")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--phrases", action="store_true", help="count words and bigrams (the phrase pass) instead")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")

    import ray

    from w2v import phrases
    from w2v.corpus import ReadOptions, list_shards
    from w2v.memory import peak_rss_bytes
    from w2v.vocab import build_vocabulary

    with tempfile.TemporaryDirectory(prefix="w2v-count-memory-") as tmp:
        started = time.perf_counter()
        tokens = write_corpus(Path(tmp), args.distinct, args.head_words, args.files)
        shards = list_shards([tmp])
        print(f"corpus: {len(shards)} files, {sum(s.size for s in shards) / 1e6:.0f} MB, {tokens:,} tokens, "
              f">= {args.distinct:,} distinct words (written in {time.perf_counter() - started:.0f} s)")
        ray.init("local", num_cpus=args.cpus, include_dashboard=False, object_store_memory=1 << 30)
        driver_before = peak_rss_bytes()
        started = time.perf_counter()
        if args.phrases:
            found = phrases.learn(shards, ReadOptions(), 1, 5, 10.0, "default", False, args.bound or None)
        else:
            vocab, summaries = build_vocabulary(shards, ReadOptions(), min_count=5, max_final_vocab=None,
                                                max_vocab_size=args.bound or None)
        seconds = time.perf_counter() - started
        driver_after = peak_rss_bytes()
        ray.shutdown()
    print(f"bound max_vocab_size={args.bound or None}: counting took {seconds:.1f} s on {args.cpus} CPUs")
    if args.phrases:
        counted = found.passes[0]
        print(f"  phrase pass (words + bigrams in one table): largest count-task table "
              f"{counted['largest_task_table']:,} entries, worker peak RSS {counted['count_peak_rss'] / 2**20:.0f} MiB "
              f"(count), {counted['merge_peak_rss'] / 2**20:.0f} MiB (merge)")
        print(f"  driver peak RSS {driver_after / 2**20:.0f} MiB (before counting {driver_before / 2**20:.0f} MiB)")
        print(f"  merged table {counted['table']:,} entries; pruned {counted['pruned_words']:,} entries holding "
              f"{counted['pruned_tokens']:,} occurrences; {counted['phrases']:,} phrases (default scoring, 10)")
        return 0
    print(f"  count tasks: largest table {max(s.distinct for s in summaries):,} words, worker peak RSS "
          f"{max(s.peak_rss for s in summaries) / 2**20:.0f} MiB")
    print(f"  driver peak RSS {driver_after / 2**20:.0f} MiB (before counting {driver_before / 2**20:.0f} MiB)")
    print(f"  vocabulary {len(vocab):,} words (min_count 5), {vocab.raw_distinct:,} distinct after pruning; "
          f"pruned {vocab.pruned_words:,} entries holding {vocab.pruned_tokens:,} occurrences of {vocab.raw_words:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
