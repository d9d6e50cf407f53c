"""A lost node costs seconds, not an epoch: what a fault costs a real job, measured.

    python -m jobs.fault_check                                   # jobs.make_corpus's corpus, 2 nodes, 1 epoch
    python -m jobs.fault_check --corpus FILE --words 2000000     # a tiny CPU example (a few minutes)

On a local Ray cluster of `--nodes` raylets (`ray.cluster_utils.Cluster`, one CPU each: simulated
nodes), with `--epochs 1`, the same job (`w2v train`, a driver process of its own, no evaluation,
one actor per node) runs three times:

- **undisturbed**;
- **trainer lost**: actor 0's process exits as a crash would (`os._exit`, the test hook
  `W2V_TEST_ACTOR_EXIT`) at `--at` of the epoch (default 2/3); Ray restarts it;
- **driver stopped**: SIGTERM to the driver at `--at` of the undisturbed run's training time
  (after the actors spooled), then the same command with `--resume`.

It prints each run's training seconds (the driver's training stage: placement, spooling, rounds,
recovery), the fault section of its manifest, and the words trained twice as a share of the
lost actor's share of the epoch (for the stop, of the epoch: every actor went back). The corpus
is the first `--words` words of the benchmark corpus (real text, never repeated).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
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
              actors: int = 2) -> tuple[int, float]:
    """Run `w2v train ARGV` as its own process; SIGTERM it `stop_after` seconds after its actors spooled.

    Returns (exit code, wall seconds).
    """
    began = time.perf_counter()
    with open(log, "w") as out:
        driver = subprocess.Popen([sys.executable, "-m", "w2v.cli", "train", *argv], stdout=out,
                                  stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, **(env or {})})
        if stop_after is not None:
            while log.read_text().count(" spooled, ") < actors and driver.poll() is None:
                time.sleep(0.05)
            time.sleep(stop_after)
            driver.send_signal(signal.SIGTERM)
        driver.wait()
    return driver.returncode, time.perf_counter() - began


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

    def job(name: str) -> list[str]:
        return [str(corpus), "--out", str(workdir / name), "--address", cluster.address, "--epochs", "1",
                "--actors", str(args.nodes), "--workers", "1", "--no-eval", "--overwrite",
                "--checkpoint-interval", "3600"]

    rows = []
    try:
        code, wall = w2v_train(job("undisturbed"), workdir / "undisturbed.log")
        assert code == 0, (workdir / "undisturbed.log").read_text()[-3000:]
        calm = manifest_of(workdir / "undisturbed")
        rows.append(("undisturbed", calm, wall, None))
        print(f"undisturbed: training {train_seconds(calm):.1f} s, wall {wall:.1f} s", flush=True)

        code, wall = w2v_train(job("trainer-lost"), workdir / "trainer-lost.log",
                               env={FAULT_ENV: f"0:{args.at}"})
        assert code == 0, (workdir / "trainer-lost.log").read_text()[-3000:]
        lost = manifest_of(workdir / "trainer-lost")
        rows.append(("trainer lost", lost, wall, None))

        stop_after = args.at * calm["training"]["seconds"]  # the rounds' share of the training stage, after spooling
        code, first_wall = w2v_train(job("driver-stopped"), workdir / "driver-stopped.log", stop_after=stop_after,
                                     actors=args.nodes)
        assert code == 128 + signal.SIGTERM, (workdir / "driver-stopped.log").read_text()[-3000:]
        stop_line = [line for line in (workdir / "driver-stopped.log").read_text().splitlines()
                     if line.startswith("w2v: error: stopped by")]
        resume = job("driver-stopped")
        resume.remove("--overwrite")
        code, wall = w2v_train(resume + ["--resume"], workdir / "driver-resumed.log")
        assert code == 0, (workdir / "driver-resumed.log").read_text()[-3000:]
        resumed = manifest_of(workdir / "driver-stopped")
        rows.append(("driver stopped + resumed", resumed, first_wall + wall, stop_line[0] if stop_line else ""))
    finally:
        ray.shutdown()
        cluster.shutdown()

    base, base_wall = train_seconds(calm), rows[0][2]
    print("\n| run | training stage s | x undisturbed | driver wall s | x undisturbed | words retrained | "
          "share of the lost work's epoch | words lost |\n|---|---|---|---|---|---|---|---|")
    for name, manifest, wall, stop_line in rows:
        t = manifest["training"]
        faults = t["faults"]
        if stop_line is not None:  # every actor went back to the checkpoint: a share of the whole epoch
            retrained = t["resumed_from"]["words_retrained"]
            share = retrained / manifest["corpus"]["words"]
            stage = "-"
        else:
            retrained = faults["words_retrained"]
            events = faults["events"]
            share = retrained / t["actors"][events[0]["actor"]]["spool_words"] if events else 0.0
            stage = f"{train_seconds(manifest):.1f} | {train_seconds(manifest) / base:.2f}"
        print(f"| {name} | {stage if stage != '-' else '- | -'} | {wall:.1f} | {wall / base_wall:.2f} | "
              f"{retrained:,} | {share:.2%} | {faults['words_lost']:,} |")
    for name, manifest, _, stop_line in rows[1:]:
        t = manifest["training"]
        faults = t["faults"]
        print(f"\n{name}: faults {json.dumps(faults, indent=1)}")
        if stop_line:
            print(f"{stop_line}\nresumed_from {json.dumps(t['resumed_from'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
