"""What one exchange round costs a node, measured without training: K processes run the collective's
round loop (`collective.PeerRounds`, torch's gloo) back to back on a model of the benchmark's size.

Why a separate job: in a training job on simulated nodes (K actors sharing this machine's cores) a
round waits for the slowest member's chunk, so wall times say little; the CPU of the round's own
threads (`collective.ThreadClock`: the round thread and gloo's) is what a real node would spend, and
this job gives it with nothing else running. The combination is the job's default (`saturation`, with
its floors from a Zipf vocabulary's counts), so the per-round arithmetic is the shipped one.

Only the steady state is counted: from the end of the first longest tier period (64 rounds: every
slice's floors are computed and kept by then, as in a job's later rounds) to the round before the
last, so neither the generation's first round nor the job's last (both move every row) is in it; the
full sweeps the tier schedule makes every 64 rounds are. The model is changed once, before the first
round; later rounds exchange zeros, which cost the same arithmetic as any other values.

    python -m jobs.round_cost --actors 2 4 8 --trials 3
    python -m jobs.round_cost --actors 8 16 --trials 3 --commit-every-round both   # the two structures side by side
    python -m jobs.round_cost --actors 2 4 8 16 --trials 3 --wire both              # bfloat16 and float32 on the wire

prints one line per K (and structure): the members' median of the round's own CPU per exchange, of which gloo's
threads, and the whole process's (median [range] over trials), and the megabytes per exchange.
`--json` keeps every member's figures. The README's scaling model takes *w* from here (README
"Scaling model").
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import multiprocessing as mp
import statistics
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

from w2v.collective import DEFAULT_WIRE, WIRES

VOCAB = 58_089  # the 24M-word benchmark corpus's vocabulary at min count 5: 3.29 MB per full slice, d=100
DIMENSION = 100
WARM_ROUNDS = 64  # the longest tier period (2**(TIERS-1)): every slice's floors are kept after it


@dataclass(frozen=True)
class MemberCost:
    """One member's steady-state figures, per exchange (what `member` sends back)."""

    rank: int
    state: str  # the round loop's end: "done", or "broken" with `error`
    error: str | None
    exchanges: int  # counted rounds
    mb_per_exchange: float
    round_cpu_ms: float  # the round's own threads (`ThreadClock`): the round thread and gloo's
    gloo_cpu_ms: float  # of which gloo's threads (the ring's transfers and sums)
    process_cpu_ms: float  # the whole process over the same rounds


class Window:
    """The clocks read as round `first` starts and as round `last` starts (`chunk_done` runs then, on the
    round thread, before the round takes its rows)."""

    def __init__(self, first: int, last: int):
        self.first, self.last = first, last
        self.readings: dict[int, tuple[float, float, float, int]] = {}
        self.peers = None  # the PeerRounds whose clocks are read

    def chunk_done(self, r: int) -> bool:
        if r in (self.first, self.last):
            clock, status = self.peers.clock, self.peers.status
            self.readings[r] = (clock.read(), clock.gloo_seconds(), time.process_time(), status.exchanged_bytes)
        return True


def member(rank: int, size: int, port: int, rounds: int, combine: str, vocab: int, queue, every: bool = False,
           wire: str = DEFAULT_WIRE) -> None:
    """One member: a random model exchanged `rounds` times; its steady-state costs go into `queue`. `every`:
    a commit allreduce after every round's payload (the round structure before ordinary rounds dropped it);
    `wire`: the numbers the ring carries (`collective.WIRES`)."""
    try:
        queue.put(_member(rank, size, port, rounds, combine, vocab, every, wire))
    except Exception as exc:  # the parent must hear of it, not wait for a row that never comes
        queue.put(MemberCost(rank, "failed", f"{type(exc).__name__}: {exc}", 0, 0.0, 0.0, 0.0, 0.0))


def _member(rank: int, size: int, port: int, rounds: int, combine: str, vocab: int, every: bool,
            wire: str) -> MemberCost:
    from w2v import sync
    from w2v.collective import GroupSpec, PeerRounds, torch_missing

    torch_missing()  # imports torch now (~1 s of CPU), as a trainer's `warm_up` does
    rng = np.random.default_rng(rank)
    live = {n: rng.normal(0, 0.1, (vocab, DIMENSION)).astype(np.float32) for n in ("vectors", "syn1neg")}
    book = sync.DeltaBook(live)
    counts = (1e7 / np.arange(1, vocab + 1)).astype(np.int64)  # Zipf: the floors' arithmetic, not its values, matters
    updates = sync.RowUpdates(counts, int(counts.sum()), 8_000, window=5, negative=5, sample=1e-3)
    for a in live.values():
        a += np.float32(1e-3)
    window = Window(WARM_ROUNDS, rounds - 1)
    peers = PeerRounds(lambda: live, book, vocab, rounds, sync.TIERS, combine, window.chunk_done, lambda r: None,
                       threading.Lock(), row_updates=updates, commit_every_round=every)
    window.peers = peers
    peers.run(GroupSpec("127.0.0.1", port, 1, rank, size, 120.0, 0, wire))
    status = peers.report()
    if status.state != "done":
        return MemberCost(rank, status.state, status.error, 0, 0.0, 0.0, 0.0, 0.0)
    (own0, gloo0, cpu0, bytes0), (own1, gloo1, cpu1, bytes1) = window.readings[window.first], window.readings[window.last]
    n = window.last - window.first
    return MemberCost(rank, status.state, None, n, (bytes1 - bytes0) / n / 1e6, (own1 - own0) / n * 1e3,
                      (gloo1 - gloo0) / n * 1e3, (cpu1 - cpu0) / n * 1e3)


def trial(size: int, rounds: int, combine: str, vocab: int, every: bool = False,
          wire: str = DEFAULT_WIRE) -> list[MemberCost]:
    """K members exchanging `rounds` rounds; each member's figures."""
    import torch.distributed as dist

    store = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False,
                          timeout=datetime.timedelta(seconds=120))
    spawn = mp.get_context("spawn")  # fresh processes: no forked copies of this one's threads or torch state
    queue = spawn.Queue()
    procs = [spawn.Process(target=member, args=(r, size, store.port, rounds, combine, vocab, queue, every, wire))
             for r in range(size)]
    for p in procs:
        p.start()
    rows = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    broken = [r for r in rows if r.state != "done"]
    if broken:
        raise RuntimeError(f"K={size}: member {broken[0].rank} ended {broken[0].state}: {broken[0].error}")
    return sorted(rows, key=lambda r: r.rank)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--actors", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--rounds", type=int, default=256 + 2,
                        help=f"rounds per trial; those after the first {WARM_ROUNDS} and before the last are counted")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--combine", default="saturation", choices=("sum", "adaptive", "saturation"))
    parser.add_argument("--vocab", type=int, default=VOCAB, help="rows of each matrix (d=100)")
    parser.add_argument("--json", help="write every member's figures of every trial here")
    parser.add_argument("--commit-every-round", choices=("no", "yes", "both"), default="no",
                        help="a commit allreduce after every round (the structure before); both: side by side, "
                             "the two alternating trial by trial")
    parser.add_argument("--wire", choices=(*WIRES, "both"), default=DEFAULT_WIRE,
                        help="the numbers the ring carries (--wire of a job); both: side by side, alternating")
    args = parser.parse_args(argv)
    from w2v.collective import torch_missing

    missing = torch_missing()
    if missing:
        print(f"round_cost: {missing}", file=sys.stderr)
        return 2
    if args.rounds < WARM_ROUNDS + 2:
        print(f"round_cost: --rounds must be at least {WARM_ROUNDS + 2} (the first {WARM_ROUNDS} are not counted)",
              file=sys.stderr)
        return 2
    commits = {"no": [False], "yes": [True], "both": [False, True]}[args.commit_every_round]
    wires = list(WIRES) if args.wire == "both" else [args.wire]
    variants = [(every, wire) for every in commits for wire in wires]
    results = {}
    print("| K | commit | wire | round's own CPU per exchange, ms | of which gloo's threads "
          "| process CPU per exchange, ms | float32 MB per exchange (the wire carries half with bfloat16) |")
    print("|---|---|---|---|---|---|---|")
    for size in args.actors:
        trials = {variant: [] for variant in variants}
        for _ in range(args.trials):  # alternating, so that a change in the machine's load falls on every variant
            for every, wire in variants:
                trials[every, wire].append(trial(size, args.rounds, args.combine, args.vocab, every, wire))
        for (every, wire), runs in trials.items():
            results[f"{size}{'-every' if every else ''}-{wire}"] = [[dataclasses.asdict(m) for m in t] for t in runs]
            cells = []
            for field in ("round_cpu_ms", "gloo_cpu_ms", "process_cpu_ms"):
                medians = [statistics.median(getattr(m, field) for m in t) for t in runs]
                cells.append(f"{statistics.median(medians):.1f} [{min(medians):.1f}-{max(medians):.1f}]")
            commit = "every round" if every else "asked rounds"
            print(f"| {size} | {commit} | {wire} | {' | '.join(cells)} | {runs[0][0].mb_per_exchange:.2f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
