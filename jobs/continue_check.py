"""Continuing from an artifact against training from scratch: A then B, against A+B, on real text.

    python -m jobs.continue_check                                     # jobs.make_corpus's corpus, 4M words, seeds 1-3
    python -m jobs.continue_check --corpus /tmp/exp/bench3/corpus.txt --words 4000000 --seeds 1 2 3
    python -m jobs.continue_check --words 400000 --seeds 1 --epochs 2    # a tiny CPU example (a minute)
    python -m jobs.continue_check --no-scratch --continue-alpha 0.0125   # other A->B rows beside a first table

The corpus's lines (real text, each once: never repeat a corpus) are shuffled with a fixed seed
(0) and cut after `--words` words; the first half of those words is corpus A, the second half
corpus B, so A and B are text of the same kind and neither holds a line of the other
(`--split ordered` keeps the corpus's order instead: B is then other sources, the harder case of
text that drifts). Per seed, on one actor (K=1, embedded Ray: the path every job takes, without
simulated nodes sharing the cores) with the same parameters:

- **A+B**: one job on A and B from scratch, `--epochs` epochs;
- **A**: one job on A, `--epochs` epochs, with `--save-training-state`;
- **A->B**: one job on B with `--init-from` A, `--epochs` epochs: every sentence of A+B is trained
  `--epochs` times in both models (the same total epochs), and B's run has its own learning-rate
  schedule from `--alpha` (or each `--continue-alpha`, a row each) to min_alpha.

Scores are gensim's own evaluators: `evaluate_word_analogies` on questions-words.txt with
restrict_vocab 30000, Spearman rho on wordsim353 and simlex999. A continued model's rows are
parent words first, so it is put in count order before scoring (`sort_by_descending_frequency`):
restrict_vocab then means the most frequent 30,000 words in every model. The table shows the
median over the seeds and the range.
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import time
from pathlib import Path

from jobs.benchmark import DEFAULT_CORPUS, default_corpus, median_row, quality, spread

logger = logging.getLogger("continue_check")  # not under "w2v", whose INFO lines the check hides


def split_corpus(sources: list[Path], words: int, workdir: Path, ordered: bool) -> tuple[Path, Path, dict]:
    """Write A.txt and B.txt under `workdir`: `words` words of the sources' lines, halved (see the docstring)."""
    lines = [line for source in sources for line in source.read_text(encoding="utf-8").splitlines() if line.split()]
    if not ordered:
        random.Random(0).shuffle(lines)
    a_path, b_path = workdir / "A.txt", workdir / "B.txt"
    counts = {"A": 0, "B": 0}
    with open(a_path, "w", encoding="utf-8") as a, open(b_path, "w", encoding="utf-8") as b:
        total = 0
        for line in lines:
            n = len(line.split())
            if total >= words:
                break
            part = "A" if total < words / 2 else "B"
            (a if part == "A" else b).write(line + "\n")
            counts[part] += n
            total += n
    return a_path, b_path, counts


def train(corpus: list[Path], out: Path, seed: int, params: dict, **extra):
    """One w2v job (K=1 on the embedded Ray); returns (KeyedVectors in count order, seconds, vocabulary size)."""
    import w2v
    from w2v import TrainConfig
    from w2v.pipeline import run

    config = TrainConfig(corpus=tuple(str(c) for c in corpus), out=str(out), seed=seed, eval=False, overwrite=True,
                         actors=1, checkpoint_interval=0, **{**params, **extra})
    started = time.perf_counter()
    run(config)
    seconds = time.perf_counter() - started
    kv = w2v.load(str(out))
    size = len(kv.index_to_key)
    kv.sort_by_descending_frequency()  # a continued model: parent rows first; scored like any other
    return kv, seconds, size


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", nargs="*", type=Path,
                        help=f"corpus files (default: {DEFAULT_CORPUS}, built by jobs.make_corpus on first use)")
    parser.add_argument("--words", type=int, default=4_000_000, help="words of A and B together (default 4M)")
    parser.add_argument("--split", choices=("shuffled", "ordered"), default="shuffled",
                        help="shuffled: A and B are random halves of the lines (default); ordered: the corpus's order")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="one trial per seed (default 1 2 3)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--vector-size", type=int, default=100)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None, help="gensim threads (default: the machine's CPUs)")
    parser.add_argument("--alpha", type=float, default=0.025, help="starting learning rate of A, A+B (default 0.025)")
    parser.add_argument("--continue-alpha", type=float, nargs="+", default=None,
                        help="starting learning rates of the A->B run, a row each (default: --alpha)")
    parser.add_argument("--no-scratch", action="store_true",
                        help="leave out the A+B runs (e.g. more --continue-alpha rows beside an earlier table)")
    parser.add_argument("--restrict-vocab", type=int, default=30000, help="analogy/pair evaluation vocabulary")
    parser.add_argument("--workdir", type=Path, default=None, help="where corpora and artifacts go (default: temp)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("gensim", "w2v", "smart_open"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    import ray

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="w2v-continue-"))
    workdir.mkdir(parents=True, exist_ok=True)
    a_path, b_path, words = split_corpus(args.corpus or default_corpus(), args.words, workdir,
                                         args.split == "ordered")
    logger.info("corpus A: %s words, B: %s words (%s split) in %s", f"{words['A']:,}", f"{words['B']:,}",
                args.split, workdir)
    params = {"vector_size": args.vector_size, "min_count": args.min_count, "epochs": args.epochs,
              "alpha": args.alpha, "workers": args.workers}
    continue_alphas = args.continue_alpha or [args.alpha]
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    rows: dict[str, list[dict]] = {}  # run name -> per seed: scores, seconds, vocabulary
    try:
        for seed in args.seeds:
            runs = {}
            if not args.no_scratch:
                runs["A+B (scratch)"] = dict(corpus=[a_path, b_path], out=workdir / f"ab-{seed}")
            runs["A"] = dict(corpus=[a_path], out=workdir / f"a-{seed}", save_training_state=True)
            for alpha in continue_alphas:
                runs[f"A->B (alpha {alpha:g})"] = dict(corpus=[b_path], out=workdir / f"ab-cont-{alpha:g}-{seed}",
                                                       init_from=str(workdir / f"a-{seed}"), alpha=alpha)
            for name, spec in runs.items():
                kv, seconds, size = train(spec.pop("corpus"), spec.pop("out"), seed, params, **spec)
                scores = {**quality(kv, args.restrict_vocab), "seconds": seconds, "vocabulary": size}
                rows.setdefault(name, []).append(scores)
                logger.info("seed %d, %s: analogy %.2f%%, wordsim353 %.3f, simlex999 %.3f, %d words, %.0f s", seed,
                            name, 100 * scores["analogy"], scores["wordsim353"], scores["simlex999"], size, seconds)
    finally:
        ray.shutdown()
    print(f"\nA: {words['A']:,} words, B: {words['B']:,} words ({args.split} split); {args.epochs} epochs each run, "
          f"d={args.vector_size}, min_count {args.min_count}; seeds {' '.join(map(str, args.seeds))}; K=1")
    print(table(rows))
    return 0


def table(rows: dict[str, list[dict]]) -> str:
    """Markdown: per run, the median over the seeds and (min-max) of each score.

    >>> print(table({"x": [{"analogy": 0.1, "wordsim353": 0.2, "simlex999": 0.3, "seconds": 4, "vocabulary": 5}]}))
    | run | analogy | wordsim353 | simlex999 | vocabulary | seconds |
    |---|---|---|---|---|---|
    | x | 10.00% | 0.200 | 0.300 | 5 | 4 |
    """
    lines = ["| run | analogy | wordsim353 | simlex999 | vocabulary | seconds |", "|---|---|---|---|---|---|"]
    for name, trials in rows.items():
        r = median_row(trials)
        lines.append(f"| {name} | {spread(r, 'analogy', '.2%')} | {spread(r, 'wordsim353', '.3f')} | "
                     f"{spread(r, 'simlex999', '.3f')} | {spread(r, 'vocabulary', ',.0f')} | "
                     f"{spread(r, 'seconds', '.0f')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
