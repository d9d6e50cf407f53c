"""What a shorter chunk costs: words per core-second of the chunk trainer at several chunk sizes.

    python -m jobs.chunk_cost --corpus /tmp/pacing-5m/corpus.txt --chunk-words 500 1000 2000 8000

Why: finer pacing (a smaller stale share, more actors, a smaller corpus) means shorter chunks, and
the pacing had a 2,000-word floor on them, said to be because "a chunk shorter than this is mostly
thread start-up" (now `sync.AUTO_MIN_SYNC_WORDS`, for another reason; `sync.MIN_SYNC_WORDS` is
what this measured). This measures that claim instead of assuming it: the same words (the corpus's first `--words`),
cut into chunks of N words the way `spool.spool_chunks` cuts them (whole lines, one file per
worker), trained by `trainer.ChunkTrainer` (gensim's compiled corpus_file routine, one call per
chunk and thread), from the same initial weights. It reports the training threads' CPU (what a
run's `words_per_core_second` reads) and the whole process's CPU (the pool hand-off and the
Python around each call included), each as words per core-second and as a per-chunk overhead
over the biggest chunk size's per-word cost. Sizes are interleaved over the repeats so a busy
machine's drift hits them alike; medians and ranges.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def write_chunks(lines: list[list[str]], chunk_words: int, directory: Path) -> list[tuple[str, int]]:
    """The lines as files of about `chunk_words` words each (whole lines, as the spool writes them)."""
    files, out, count, n = [], None, 0, 0
    for sentence in lines:
        if out is None:
            path = directory / f"chunk-{chunk_words}-{n:06d}.txt"
            out, count = open(path, "w", encoding="utf-8"), 0
        out.write(" ".join(sentence) + "\n")
        count += len(sentence)
        if count >= chunk_words:
            out.close()
            files.append((str(path), count))
            out, n = None, n + 1
    if out is not None:
        out.close()
        files.append((str(path), count))
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, help="one sentence per line (jobs.make_corpus's corpus.txt)")
    parser.add_argument("--words", type=int, default=400_000, help="words trained per measurement")
    parser.add_argument("--vocab-words", type=int, default=2_000_000, help="words the vocabulary is counted on")
    parser.add_argument("--chunk-words", type=int, nargs="+", default=[500, 1000, 2000, 8000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import numpy as np
    from gensim.models import Word2Vec

    from w2v.trainer import ChunkTrainer

    lines, vocab_lines, words = [], [], 0
    with open(args.corpus, encoding="utf-8") as f:
        for line in f:
            sentence = line.split()
            if words < args.words:
                lines.append(sentence)
            vocab_lines.append(sentence)
            words += len(sentence)
            if words >= args.vocab_words:
                break
    model = Word2Vec(vector_size=100, window=5, min_count=5, negative=5, sample=1e-3, sg=0, workers=1, seed=1)
    model.build_vocab(vocab_lines)
    initial = {name: getattr(model.wv if name == "vectors" else model, name).copy() for name in ("vectors", "syn1neg")}
    print(f"vocabulary {len(model.wv):,} words; {sum(map(len, lines)):,} words trained per measurement")
    results: dict[int, list[tuple[float, float, float, int]]] = {n: [] for n in args.chunk_words}
    with tempfile.TemporaryDirectory(prefix="chunk-cost-") as tmp:
        chunked = {n: write_chunks(lines, n, Path(tmp)) for n in args.chunk_words}
        for repeat in range(args.repeats):
            for n in args.chunk_words if repeat % 2 == 0 else reversed(args.chunk_words):
                np.copyto(model.wv.vectors, initial["vectors"])
                np.copyto(model.syn1neg, initial["syn1neg"])
                trainer = ChunkTrainer(model, 1)
                files = chunked[n]
                began_cpu, began_wall, trained = time.process_time(), time.perf_counter(), 0
                for i, (path, count) in enumerate(files):
                    alpha = 0.025 - 0.024 * i / len(files)
                    trained += trainer.train([(path, count)], alpha, alpha - 0.024 / len(files))
                process_cpu, wall = time.process_time() - began_cpu, time.perf_counter() - began_wall
                results[n].append((trainer.cpu_seconds, process_cpu, wall, trained, len(files)))
                trainer.close()
                print(f"repeat {repeat + 1}, {n:,} words/chunk: {len(files):,} chunks, {trained:,} words, "
                      f"thread CPU {trainer.cpu_seconds:.2f} s, process CPU {process_cpu:.2f} s, wall {wall:.2f} s",
                      flush=True)

    def med(values):
        return f"{statistics.median(values):,.0f} [{min(values):,.0f}-{max(values):,.0f}]"

    biggest = max(args.chunk_words)
    per_word = {i: statistics.median(r[i] / r[3] for r in results[biggest]) for i in (0, 1)}
    print("\n| words/chunk | chunks | mean words/chunk | words/core-s (thread CPU) | words/core-s (process CPU) | x biggest (process) | "
          f"overhead us/chunk over {biggest:,} (thread) | (process) |")
    print("|---|---|---|---|---|---|---|---|")
    base = statistics.median(r[3] / r[1] for r in results[biggest])
    for n in args.chunk_words:
        rs = results[n]
        over = [[1e6 * (r[i] - per_word[i] * r[3]) / r[4] for r in rs] for i in (0, 1)]
        print(f"| {n:,} | {rs[0][4]:,} | {rs[0][3] / rs[0][4]:,.0f} | {med([r[3] / r[0] for r in rs])} | {med([r[3] / r[1] for r in rs])} | "
              f"{statistics.median(r[3] / r[1] for r in rs) / base:.2f} | {med(over[0])} | {med(over[1])} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
