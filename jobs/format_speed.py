"""Reading speed by corpus format: the counting pass and the spool on Parquet, JSON Lines and plain lines.

    python -m jobs.make_corpus --out ~/w2v-bench-corpus                  # real text, no line twice
    python -m jobs.format_speed --source ~/w2v-bench-corpus/corpus.txt --mb 1000 --trials 3
    python -m jobs.format_speed --source ~/w2v-bench-corpus/corpus.txt --mb 50 --trials 3   # a CPU laptop

The same documents (10 consecutive source lines each, joined by newlines, as a crawl's page text) are
written three ways: plain lines (`corpus.txt`), JSON Lines compressed with zstandard (`corpus.jsonl.zst`,
`{"id", "url", "text"}` as C4 ships) and Parquet (`corpus.parquet`, pyarrow's default Snappy, 16 row
groups, columns id, url, text as FineWeb ships). Each is read the way one counting task
(`vocab.count_shard`) and one trainer's spool (`spool.spool_chunks`) read a shard: one process, one thread.
Prints words/s (wall) and words per CPU-second of the process per format and pass, the median and range
of `--trials` runs, and the ratio to plain text (the targets: Parquet >= 0.8x, JSON Lines >= 0.7x). If the source is smaller than `--mb`, the
files are the whole source, never repeated lines, and the table says the size it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

DOCUMENT_LINES = 10  # source lines per document (record)
ROW_GROUPS = 16  # Parquet row groups in the file: K actors can share it


def documents(source: Path, limit_bytes: int) -> list[str]:
    """Documents of DOCUMENT_LINES source lines each, up to `limit_bytes` of text."""
    out, lines, size = [], [], 0
    with open(source, encoding="utf-8") as f:
        for line in f:
            lines.append(line.rstrip("\n"))
            if len(lines) == DOCUMENT_LINES:
                out.append("\n".join(lines))
                size += len(out[-1]) + 1
                lines = []
                if size >= limit_bytes:
                    break
    return out


def write_formats(docs: list[str], root: Path) -> dict[str, Path]:
    """The documents as plain lines, JSON Lines (zstd) and Parquet; name -> path."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    root.mkdir(parents=True, exist_ok=True)
    paths = {"plain lines": root / "corpus.txt", "JSON Lines (.jsonl.zst)": root / "corpus.jsonl.zst",
             "Parquet": root / "corpus.parquet"}
    paths["plain lines"].write_text("".join(d + "\n" for d in docs), encoding="utf-8")
    with open(paths["JSON Lines (.jsonl.zst)"], "wb") as raw, zstandard.ZstdCompressor(level=3).stream_writer(raw) as f:
        for i, d in enumerate(docs):
            f.write((json.dumps({"id": i, "url": f"https://example.org/{i}", "text": d}) + "\n").encode())
    table = pa.table({"id": list(range(len(docs))), "url": [f"https://example.org/{i}" for i in range(len(docs))],
                      "text": docs})
    pq.write_table(table, paths["Parquet"], row_group_size=max(1, -(-len(docs) // ROW_GROUPS)))
    return paths


def measure(path: Path, text_field: str | None, spool_dir: Path) -> dict[str, float]:
    """Words per second (wall) and per CPU-second of this process, of one counting task and one spool."""
    from w2v.corpus import ReadOptions, list_shards
    from w2v.spool import spool_chunks
    from w2v.vocab import count_shard

    shards = list_shards([str(path)])
    options = ReadOptions(text_field=text_field)
    wall, cpu = time.perf_counter(), time.process_time()
    words = sum(count_shard(s, options).words for s in shards)
    counting = (time.perf_counter() - wall, time.process_time() - cpu)
    wall, cpu = time.perf_counter(), time.process_time()
    spooled = spool_chunks(shards, options, str(spool_dir), chunks=1, workers=1, expected_words=0).words
    spooling = (time.perf_counter() - wall, time.process_time() - cpu)
    os.remove(spool_dir / "chunk-000000-000.txt")
    assert spooled == words, (path, spooled, words)
    return {"words": words, "count": words / counting[0], "spool": words / spooling[0],
            "count_cpu": words / counting[1], "spool_cpu": words / spooling[1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="plain text, one sentence per line (jobs.make_corpus)")
    parser.add_argument("--mb", type=float, default=1000, help="MB of text per format (default 1000: 1 GB)")
    parser.add_argument("--trials", type=int, default=3, help="runs per format; median and range printed (default 3)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/w2v-format-speed"), help="where the files are written")
    args = parser.parse_args(argv)

    docs = documents(args.source, int(args.mb * 1e6))
    paths = write_formats(docs, args.work)
    sizes = {name: os.path.getsize(p) for name, p in paths.items()}
    print(f"{len(docs):,} documents, {sizes['plain lines'] / 1e6:.1f} MB of text (asked: {args.mb:g} MB); "
          + ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in sizes.items()))
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    for _ in range(args.trials):  # interleaved, so a busy moment of the machine hits every format alike
        for name, path in paths.items():
            runs[name].append(measure(path, None if name == "plain lines" else "text", args.work))
    words = {name: r[0]["words"] for name, r in runs.items()}
    assert len(set(words.values())) == 1, f"the formats read different words: {words}"
    passes = ("count", "spool", "count_cpu", "spool_cpu")
    base = {p: statistics.median(r[p] for r in runs["plain lines"]) for p in passes}
    print("| format | MB on disk | counting words/s | x plain | spool words/s | x plain | counting words/CPU-s "
          "| x plain | spool words/CPU-s | x plain |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in runs.items():
        cells = []
        for p in passes:
            values = [x[p] for x in r]
            median = statistics.median(values)
            cells += [f"{median:,.0f} ({min(values):,.0f}-{max(values):,.0f})", f"{median / base[p]:.2f}"]
        print(f"| {name} | {sizes[name] / 1e6:.1f} | " + " | ".join(cells) + " |")
    print(f"{args.trials} trial(s), {words['plain lines']:,} words per format, one process, one thread; median "
          f"(range); words/CPU-s counts this process's CPU time only, steadier than wall time on a shared machine")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
