"""Fit the forecast's law on replayed runs of two kinds of text, and check it across them.

    python -m jobs.law --runs /tmp/law/runs.jsonl --combine adaptive+saturation0.01 --save jobs/law_points.json
    python -m jobs.law                     # fit and cross-check the saved points (jobs/law_points.json)

A point's further seeds need no gensim run (`python -m jobs.replay ... --no-gensim --seeds 2 3`, with the
K=1 runs of the same seeds); each run should appear once in the files given (one line per corpus, K,
pacing and seed).

The runs are `jobs.replay` result lines (one per corpus, K, seed and pacing). Each corpus is measured
once with `jobs.corpus_kind` for its words per epoch and vocabulary rows (min count 5), so the law's
one corpus variable, words per vocabulary row, is what the job itself knows after its counting pass.
`--save` keeps the points (medians over seeds, with the seeds' ratios) in the repository, so the
shipped coefficients can be refitted and checked without the corpora (tests/test_forecast.py).

The law (`w2v.forecast`): 1 - ratio = a (K-1)^b (share/0.25%)^c (words per row/200)^-d, where ratio
is the analogy score of K actors over the score of the same trainer alone (K=1) with the same seed:
what the exchange costs, with gensim's own seed-to-seed noise divided out. (How w2v alone compares
with gensim is the other factor of a job's quality: `alone` in the saved points.) It is fitted by
least squares on the median over seeds of each (corpus, K, pacing) point. Each corpus belongs to a
*family* (the text's kind: documentation, reference works); the cross-check fits on one family and
predicts the other's points: that error is the spread the plan prints beside a forecast.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from jobs.corpus_kind import measure_file
from w2v.forecast import Law, predicted_ratio


@dataclass(frozen=True)
class Point:
    """One (corpus, K, pacing) of the grid: the median of its seeds."""

    corpus: str
    family: str
    actors: int
    stale_share: float
    words_per_row: float
    epoch_words: int
    ratio: float  # median over seeds of the analogy score over K=1's (same seed)
    low: float
    high: float
    seeds: int
    gensim: float | None  # median over seeds of the analogy score over gensim's (same seed), of those scored so
    alone: float | None  # median over seeds of K=1's analogy score over gensim's: what no exchange changes


POINTS = Path(__file__).with_name("law_points.json")  # the points the shipped law was fitted on


def family(corpus: str) -> str:
    """The kind of text: the grid's corpora are named docs* (documentation) or ref* (reference works)."""
    name = Path(corpus).parent.name
    return "docs" if name.startswith("docs") or name == "w2v-bench" else "reference"


def load(paths: list[Path], combine: str) -> list[Point]:
    """The runs of `combine` in `paths`, one point per (corpus, K, stale share), each corpus measured once.

    Every K > 1 run's analogy score is divided by the K=1 run's of its corpus and seed (any combination:
    one actor exchanges nothing), so no gensim run enters the ratio; a seed without one takes the median
    of its corpus's K=1 runs."""
    runs, alone = defaultdict(list), defaultdict(dict)
    for path in paths:
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            scores = (r["analogy"], r["analogy_ratio"])  # the score itself, and over gensim's of the same seed
            if r["actors"] == 1:
                alone[r["corpus"]][r["seed"]] = scores
            elif r.get("combine") == combine:
                runs[(r["corpus"], r["actors"], round(r["stale_share"], 5))].append((r["seed"], scores))
    kinds = {}
    points = []
    for (corpus, actors, share), seeded in sorted(runs.items()):
        if not alone[corpus]:
            print(f"jobs.law: no K=1 run of {corpus}: its points are left out", file=sys.stderr)
            continue
        if corpus not in kinds:
            kinds[corpus] = measure_file(Path(corpus))
        kind = kinds[corpus]
        one = statistics.median(score for score, _ in alone[corpus].values())
        relative = [score / alone[corpus].get(seed, (one, None))[0] for seed, (score, _) in seeded]
        points.append(Point(corpus, family(corpus), actors, share, kind.tokens / kind.vocabulary, kind.tokens,
                            statistics.median(relative), min(relative), max(relative), len(relative),
                            _median([ratio for _, (_, ratio) in seeded]),
                            _median([ratio for _, ratio in alone[corpus].values()])))
    return points


def _median(values: list[float | None]) -> float | None:
    """The median of the values a run has (runs replayed with --no-gensim have no ratio to gensim)."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def read_points(path: Path = POINTS) -> tuple[str, list[Point]]:
    """(the combination they were measured with, the saved points)."""
    data = json.loads(path.read_text())
    return data["combine"], [Point(**p) for p in data["points"]]


def fit(points: list[Point]) -> Law:
    """Least squares on the ratios (scipy), starting from a loss of 0.1 at K=2."""
    from scipy.optimize import least_squares

    def residuals(p):
        law = Law(*p, fitted_on="")
        return [predicted_ratio(q.actors, q.stale_share, q.words_per_row, law) - q.ratio for q in points]

    found = least_squares(residuals, x0=[0.1, 0.5, 0.5, 1.0], bounds=([0, 0, 0, 0], [10, 3, 3, 5]))
    return Law(*[float(v) for v in found.x], fitted_on=", ".join(sorted({q.family for q in points})))


def table(points: list[Point], law: Law, title: str) -> tuple[str, float]:
    lines = [f"### {title}", "", "| corpus | K | stale share | words/row | seeds | x K=1, median [range] | law | error "
             "| x gensim | K=1 x gensim |", "|---|---|---|---|---|---|---|---|---|---|"]
    errors = []
    for q in points:
        p = predicted_ratio(q.actors, q.stale_share, q.words_per_row, law)
        errors.append(p - q.ratio)
        name = Path(q.corpus).parent.name or q.corpus
        lines.append(f"| {name} | {q.actors} | {q.stale_share:.2%} | {q.words_per_row:.0f} | "
                     f"{q.seeds} | {q.ratio:.3f} [{q.low:.3f}-{q.high:.3f}] | {p:.3f} | {p - q.ratio:+.3f} | "
                     f"{_cell(q.gensim)} | {_cell(q.alone)} |")
    worst = max(abs(e) for e in errors) if errors else 0.0
    lines.append("")
    lines.append(f"max |error| {worst:.3f}, median |error| {statistics.median(abs(e) for e in errors):.3f}")
    return "\n".join(lines), worst


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def describe(law: Law) -> str:
    return (f"Law(a={law.a:.4f}, b={law.b:.3f}, c={law.c:.3f}, d={law.d:.3f}, fitted_on={law.fitted_on!r})")


def cross_checks(points: list[Point]) -> list[tuple[str, Law, str, float]]:
    """For each family: the law fitted on the others, its table on this one, and its largest error."""
    out = []
    for held_out in sorted({q.family for q in points}):
        train = [q for q in points if q.family != held_out]
        test = [q for q in points if q.family == held_out]
        if train and test:
            law = fit(train)
            text, worst = table(test, law, f"fitted on {law.fitted_on}, checked on {held_out}: {describe(law)}")
            out.append((held_out, law, text, worst))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, nargs="+", help="jobs.replay result lines (JSON Lines); "
                                                             "default: the saved points")
    parser.add_argument("--combine", default="saturation", help="the combination whose runs are fitted")
    parser.add_argument("--save", type=Path, help="write the points here (JSON) for the repository")
    args = parser.parse_args(argv)
    if args.runs:
        combine, points = args.combine, [q for q in load(args.runs, args.combine) if q.actors > 1]
    else:
        combine, points = read_points()
    if args.save:
        args.save.write_text(json.dumps({"combine": combine, "points": [asdict(q) for q in points]}, indent=1) + "\n")
    out = [text for _, _, text, _ in cross_checks(points)]
    law = fit(points)
    text, _ = table(points, law, f"fitted on both: {describe(law)}")
    out.append(text)
    print(f"combination: {combine}\n\n" + "\n\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
