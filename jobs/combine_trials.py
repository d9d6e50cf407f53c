"""Combine several `jobs.benchmark --trials 1 --json` files (one per seed) into one table and projection.

    python -m jobs.combine_trials /tmp/bench-s1.json /tmp/bench-s2.json /tmp/bench-s3.json

Running the trials as separate invocations keeps each finished trial on disk on a busy machine;
this prints the benchmark's own tables over all of them (medians and ranges), plus a per-run CPU
table (w, the collective round's own part of it, the chunk loop's, the background, driver CPU per
exchange, words per core-second) with ranges.
"""

from __future__ import annotations

import json
import sys

from jobs.benchmark import median_row, projection, spread, table


def main(paths: list[str]) -> int:
    by_name: dict[str, list[dict]] = {}
    for path in paths:
        for row in json.load(open(path))["rows"]:
            if "missing" in row:
                continue
            by_name.setdefault(row["name"], []).extend(row["trials"])
    rows = [{"name": name, "trials": trials, **median_row(trials)} for name, trials in by_name.items()]
    baseline = rows[0]
    print(f"{len(paths)} files; trials per run: " + ", ".join(f"{r['name']}: {len(r['trials'])}" for r in rows))
    print(table(rows, baseline))
    print()
    print("| run | trials | w ms/exchange (all outside gensim) | round's own ms/exchange | loop ms/chunk | "
          "background cores | driver CPU ms/exchange | words/core-s | CPU ms/MB | slice MB | exchanges "
          "| analogy x gensim | sync share | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows[1:]:
        def ms(key):
            lo, hi = r[f"{key}_range"]
            return f"{1e3 * r[key]:.2f} [{1e3 * lo:.2f}-{1e3 * hi:.2f}]"
        lo, hi = r["words_per_core_second_range"]
        print(f"| {r['name']} | {len(r['trials'])} | {ms('exchange_cpu')} | {ms('round_cpu')} | {ms('loop_cpu')} | "
              f"{spread(r, 'background_cores', '.3f')} | {ms('driver_cpu')} | "
              f"{r['words_per_core_second']:,.0f} [{lo:,.0f}-{hi:,.0f}] | {ms('exchange_cpu_per_mb')} | "
              f"{r['slice_bytes'] / 1e6:.2f} | {r['exchanges']:.0f} | {spread(r, 'analogy_ratio', '.2f')} | "
              f"{spread(r, 'sync_share', '.1%')} | {spread(r, 'wall', '.0f')} |")
    print()
    print(projection(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
