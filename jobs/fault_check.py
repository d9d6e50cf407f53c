"""A lost node costs seconds, not an epoch: what a fault costs a real job, measured.

    python -m jobs.fault_check                                   # jobs.make_corpus's corpus, 2 nodes, 1 epoch
    python -m jobs.fault_check --corpus FILE --words 2000000     # a tiny CPU example (a few minutes)

On a local Ray cluster of `--nodes` raylets (`ray.cluster_utils.Cluster`, one CPU each: simulated
nodes), with `--epochs 1`, the same job (`w2v train`, a driver process of its own, no evaluation,
one actor per node) runs three times per trial (`--trials`, default 3):

- **undisturbed**;
- **trainer lost**: actor 0's process exits as a crash would (`os._exit`, the test hook
  `W2V_TEST_ACTOR_EXIT`) at `--at` of the epoch (default 2/3); Ray restarts it;
- **driver stopped**: SIGTERM to the driver at `--at` of the undisturbed run's training time
  (after the actors spooled), then the same command with `--resume`.

It prints each run's training seconds (the driver's training stage: placement, spooling, rounds,
recovery; for the stop, the stopped driver's from its training stage to its exit plus the resumed
one's), its driver processes' wall time (the resumed job lists and counts the corpus again), the
fault section of its manifest, and the words trained twice as a share of the lost actor's share
of the epoch (for the stop, of the epoch: every actor went back): medians over the trials and
their ranges, times as ratios to the same trial's undisturbed run. The corpus
is the first `--words` words of the benchmark corpus (real text, never repeated).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from jobs.benchmark import DEFAULT_CORPUS, default_corpus

REPO = Path(__file__).resolve().parents[1]
FAULT_ENV = "W2V_TEST_ACTOR_EXIT"  # w2v.trainer.FAULT_ENV (not imported: this job needs no Ray in its own process)


def cut_corpus(sources: list[Path], words: int, out: Path) -> int:
    """The first `words` words of the sources' lines into `out` (whole lines); returns the words written."""
    written = 0
    with open(out, "w", encoding="utf-8") as f:
        for source in sources:
            with open(source, encoding="utf-8") as lines:
                for line in lines:
                    if written >= words:
                        return written
                    written += len(line.split())
                    f.write(line)
    return written


def w2v_train(argv: list[str], log: Path, env: dict[str, str] | None = None, stop_after: float | None = None,
              actors: int = 2) -> tuple[int, float, float]:
    """Run `w2v train ARGV` as its own process; SIGTERM it `stop_after` seconds after its actors spooled.

    Returns (exit code, wall seconds, seconds from its training stage's start to its exit). The last is
    what a stopped driver spent training, which no manifest records.
    """
    began = time.perf_counter()
    training = None  # perf_counter when its log said the training stage began
    with open(log, "w") as out:
        driver = subprocess.Popen([sys.executable, "-m", "w2v.cli", "train", *argv], stdout=out,
                                  stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, **(env or {})})
        while driver.poll() is None:
            text = log.read_text()
            if training is None and "stage 3/5: training" in text:
                training = time.perf_counter()
            if stop_after is not None and text.count(" spooled, ") >= actors:
                time.sleep(stop_after)
                driver.send_signal(signal.SIGTERM)
                stop_after = None
            time.sleep(0.02)
    ended = time.perf_counter()
    return driver.returncode, ended - began, ended - (training or began)


def manifest_of(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def train_seconds(manifest: dict) -> float:
    return float(manifest["timings"]["train"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", nargs="*", type=Path,
                        help=f"corpus files (default: {DEFAULT_CORPUS}, built by jobs.make_corpus on first use)")
    parser.add_argument("--words", type=int, default=25_000_000, help="words of the corpus to use (default 25M)")
    parser.add_argument("--nodes", type=int, default=2, help="simulated nodes, one actor each (default 2)")
    parser.add_argument("--at", type=float, default=2 / 3, help="where in the epoch the faults come (default 2/3)")
    parser.add_argument("--trials", type=int, default=3, help="trials, each with its own undisturbed run (default 3)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the corpus and artifacts go (default: temp)")
    args = parser.parse_args(argv)

    import ray
    from ray.cluster_utils import Cluster

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="w2v-faults-"))
    workdir.mkdir(parents=True, exist_ok=True)
    corpus = workdir / "corpus.txt"
    words = cut_corpus(args.corpus or default_corpus(), args.words, corpus)
    print(f"corpus: {words:,} words in {corpus}; {args.nodes} nodes, 1 epoch, faults at {args.at:.0%} of it",
          flush=True)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(args.nodes):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)  # the drivers below find the cluster's token as ours

    def job(out: Path) -> list[str]:
        return [str(corpus), "--out", str(out), "--address", cluster.address, "--epochs", "1",
                "--actors", str(args.nodes), "--workers", "1", "--no-eval", "--overwrite",
                "--checkpoint-interval", "3600"]

    rows: list[Row] = []
    try:
        for trial in range(1, args.trials + 1):
            rows.extend(one_trial(trial, job, workdir, args.at, args.nodes))
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(table(rows))
    for row in rows:
        if row.run != "undisturbed" and row.trial == args.trials:
            print(f"\n{row.run} (trial {row.trial}): faults {json.dumps(row.manifest['training']['faults'], indent=1)}")
            if row.stop_line:
                print(f"{row.stop_line}\nresumed_from {json.dumps(row.manifest['training']['resumed_from'])}")
    return 0


@dataclass
class Row:
    """One run of one trial, with what the table shows."""

    trial: int
    run: str  # "undisturbed", "trainer lost", "driver stopped + resumed"
    manifest: dict  # the artifact's manifest (for the stop: the resumed job's)
    training_seconds: float  # the training stage(s)
    wall_seconds: float  # the driver process(es)
    words_retrained: int
    retrained_share: float  # of the lost actor's epoch share (for the stop: of the epoch)
    words_lost: int
    stop_line: str = ""  # the stopped driver's error line


def one_trial(trial: int, job, workdir: Path, at: float, nodes: int) -> list[Row]:
    """Undisturbed, trainer lost, driver stopped + resumed: one row each (artifacts and logs named NAME-TRIAL)."""
    def out(name: str) -> Path:
        return workdir / f"{name}-{trial}"

    def log(name: str) -> Path:
        return workdir / f"{name}-{trial}.log"

    code, wall, _ = w2v_train(job(out("undisturbed")), log("undisturbed"))
    assert code == 0, log("undisturbed").read_text()[-3000:]
    calm = manifest_of(out("undisturbed"))
    rows = [Row(trial, "undisturbed", calm, train_seconds(calm), wall, 0, 0.0, 0)]
    print(f"trial {trial}, undisturbed: training {train_seconds(calm):.1f} s, wall {wall:.1f} s", flush=True)

    code, wall, _ = w2v_train(job(out("trainer-lost")), log("trainer-lost"), env={FAULT_ENV: f"0:{at}"})
    assert code == 0, log("trainer-lost").read_text()[-3000:]
    lost = manifest_of(out("trainer-lost"))
    faults = lost["training"]["faults"]
    event = faults["events"][0]
    rows.append(Row(trial, "trainer lost", lost, train_seconds(lost), wall, faults["words_retrained"],
                    faults["words_retrained"] / lost["training"]["actors"][event["actor"]]["spool_words"],
                    faults["words_lost"]))

    stop_after = at * calm["training"]["seconds"]  # the rounds' share of the training stage, after spooling
    code, first_wall, first_training = w2v_train(job(out("driver-stopped")), log("driver-stopped"),
                                                 stop_after=stop_after, actors=nodes)
    text = log("driver-stopped").read_text()
    assert code == 128 + signal.SIGTERM, text[-3000:]
    stop_line = next(line for line in text.splitlines() if line.startswith("w2v: error: stopped by"))
    resume = [arg for arg in job(out("driver-stopped")) if arg != "--overwrite"] + ["--resume"]
    code, wall, _ = w2v_train(resume, log("driver-resumed"))
    assert code == 0, log("driver-resumed").read_text()[-3000:]
    resumed = manifest_of(out("driver-stopped"))
    again = resumed["training"]["resumed_from"]["words_retrained"]
    rows.append(Row(trial, "driver stopped + resumed", resumed, first_training + train_seconds(resumed),
                    first_wall + wall, again, again / resumed["corpus"]["words"],
                    resumed["training"]["faults"]["words_lost"], stop_line))
    return rows


def table(rows: list[Row]) -> str:
    """Markdown: per run, the median over the trials and (min-max); times as ratios to the same trial's
    undisturbed run.

    >>> calm = Row(1, "undisturbed", {}, 10.0, 20.0, 0, 0.0, 0)
    >>> print(table([calm, Row(1, "trainer lost", {}, 12.0, 22.0, 500, 0.005, 40)]))
    | run | trials | training s | x undisturbed | driver wall x undisturbed | words retrained | of the lost share | words lost |
    |---|---|---|---|---|---|---|---|
    | undisturbed | 1 | 10.0 | 1.00 | 1.00 | 0 | 0.00% | 0 |
    | trainer lost | 1 | 12.0 | 1.20 | 1.10 | 500 | 0.50% | 40 |
    """
    calm = {r.trial: r for r in rows if r.run == "undisturbed"}
    lines = ["| run | trials | training s | x undisturbed | driver wall x undisturbed | words retrained | "
             "of the lost share | words lost |", "|---|---|---|---|---|---|---|---|"]
    for run in dict.fromkeys(r.run for r in rows):
        of = [r for r in rows if r.run == run]

        def cell(values, fmt):
            low, mid, high = min(values), statistics.median(values), max(values)
            return f"{mid:{fmt}}" if low == high else f"{mid:{fmt}} ({low:{fmt}}-{high:{fmt}})"

        lines.append(" | ".join([
            f"| {run}", str(len(of)), cell([r.training_seconds for r in of], ".1f"),
            cell([r.training_seconds / calm[r.trial].training_seconds for r in of], ".2f"),
            cell([r.wall_seconds / calm[r.trial].wall_seconds for r in of], ".2f"),
            cell([r.words_retrained for r in of], ",.0f"), cell([r.retrained_share for r in of], ".2%"),
            cell([r.words_lost for r in of], ",.0f")]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
