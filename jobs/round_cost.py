"""What one exchange round costs a node, measured without training: K processes run the collective's
round loop (`collective.PeerRounds`, torch's gloo) back to back on a model of the benchmark's size.

Why a separate job: in a training job on simulated nodes (K actors sharing this machine's cores) a
round waits for the slowest member's chunk, so wall times say little; the CPU of the round's own
threads (`collective.ThreadClock`: the round thread and gloo's) is what a real node would spend, and
this job gives it with nothing else running. The combination is the job's default (`saturation`, with
its floors from a Zipf vocabulary's counts), so the per-round arithmetic is the shipped one.

    python -m jobs.round_cost --actors 2 4 8 --trials 3

prints one line per K: the members' median of the round's own CPU per exchange (median [range] over
trials), the process's CPU per exchange, and the slice's megabytes. `--json` keeps every member's
figures. The README's scaling model takes *w* from here (README "Scaling model").
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing as mp
import statistics
import sys
import threading
import time

import numpy as np

VOCAB = 58_089  # the 24M-word benchmark corpus's vocabulary at min count 5: 3.29 MB per full slice, d=100
DIMENSION = 100


def member(rank: int, size: int, port: int, rounds: int, combine: str, vocab: int, queue) -> None:
    """One member: a random model, changed a little before every round, exchanged `rounds` times."""
    from w2v import sync
    from w2v.collective import GroupSpec, PeerRounds, torch_missing

    torch_missing()  # imports torch now (~1 s of CPU), as a trainer's `warm_up` does, not inside the clocked rounds

    rng = np.random.default_rng(rank)
    live = {n: rng.normal(0, 0.1, (vocab, DIMENSION)).astype(np.float32) for n in ("vectors", "syn1neg")}
    book = sync.DeltaBook(live)
    counts = (1e7 / np.arange(1, vocab + 1)).astype(np.int64)  # Zipf: the floors' arithmetic, not its values, matters
    updates = sync.RowUpdates(counts, int(counts.sum()), 8_000, window=5, negative=5, sample=1e-3)
    for a in live.values():  # a change to exchange (the arithmetic per round does not depend on its values)
        a += np.float32(1e-3)
    peers = PeerRounds(lambda: live, book, vocab, rounds, sync.TIERS, combine, lambda r: True, lambda r: None,
                       threading.Lock(), row_updates=updates)
    spec = GroupSpec("127.0.0.1", port, 1, rank, size, 120.0, 0)
    cpu, wall = time.process_time(), time.perf_counter()
    peers.run(spec)
    status = peers.report()
    gloo = sum(peers.clock.last[t] - peers.clock.first[t] for t in peers.clock.gloo)
    queue.put({"rank": rank, "state": status.state, "error": status.error, "exchanges": status.exchanges,
               "mb_per_exchange": status.exchanged_bytes / max(status.exchanges, 1) / 1e6,
               "round_cpu_ms": status.cpu_seconds / max(status.exchanges, 1) * 1e3,
               "gloo_cpu_ms": gloo / max(status.exchanges, 1) * 1e3,  # of which gloo's threads (the ring)
               "numpy_wall_ms": peers.seconds / max(status.exchanges, 1) * 1e3,  # taking, combining, applying
               "process_cpu_ms": (time.process_time() - cpu) / max(status.exchanges, 1) * 1e3,
               "wall_ms": (time.perf_counter() - wall) / max(rounds, 1) * 1e3})


def trial(size: int, rounds: int, combine: str, vocab: int) -> list[dict]:
    """K members exchanging `rounds` rounds; each member's figures."""
    import torch.distributed as dist

    store = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False,
                          timeout=datetime.timedelta(seconds=120))
    queue = mp.Queue()
    procs = [mp.Process(target=member, args=(r, size, store.port, rounds, combine, vocab, queue)) for r in range(size)]
    for p in procs:
        p.start()
    rows = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    broken = [r for r in rows if r["state"] != "done"]
    if broken:
        raise RuntimeError(f"K={size}: member {broken[0]['rank']} ended {broken[0]['state']}: {broken[0]['error']}")
    return sorted(rows, key=lambda r: r["rank"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--actors", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--rounds", type=int, default=256, help="rounds per trial (a multiple of 64: whole tier periods)")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--combine", default="saturation", choices=("sum", "adaptive", "saturation"))
    parser.add_argument("--vocab", type=int, default=VOCAB, help="rows of each matrix (d=100)")
    parser.add_argument("--json", help="write every member's figures of every trial here")
    args = parser.parse_args(argv)
    from w2v.collective import torch_missing

    missing = torch_missing()
    if missing:
        print(f"round_cost: {missing}", file=sys.stderr)
        return 2
    mp.set_start_method("spawn", force=True)  # no forked copies of this process's threads or torch state
    results = {}
    print("| K | round's own CPU per exchange, ms | of which gloo's threads | process CPU per exchange, ms "
          "| MB per exchange |")
    print("|---|---|---|---|---|")
    for size in args.actors:
        trials = [trial(size, args.rounds, args.combine, args.vocab) for _ in range(args.trials)]
        results[size] = trials
        own = [statistics.median(r["round_cpu_ms"] for r in t) for t in trials]
        process = [statistics.median(r["process_cpu_ms"] for r in t) for t in trials]
        gloo = [statistics.median(r["gloo_cpu_ms"] for r in t) for t in trials]
        print(f"| {size} | {statistics.median(own):.1f} [{min(own):.1f}-{max(own):.1f}] | "
              f"{statistics.median(gloo):.1f} [{min(gloo):.1f}-{max(gloo):.1f}] | "
              f"{statistics.median(process):.1f} [{min(process):.1f}-{max(process):.1f}] | "
              f"{trials[0][0]['mb_per_exchange']:.2f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
