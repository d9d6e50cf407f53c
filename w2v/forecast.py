"""What quality a job will get against the same job on one node, said before training: the measured law.

K actors train side by side, each without the others' last `sync_words` words (the stale words),
and the combined vectors fall short of one actor that read the whole corpus alone. How far was
measured, not derived (`jobs.law` fits it on replays of the exchange protocol on real corpora of
two kinds, each run divided by the same trainer's run alone with the same seed; README "What a job
will get"). The loss in the analogy score,

    1 - ratio = A x (K - 1)^B x (stale share / 0.25%)^C x (words per row / 200)^-D

grows with the actors and with the stale share, and shrinks with the *words per vocabulary row*: an
epoch's words over the rows the vocabulary keeps, how many times per epoch the trainer sees the
average word it has to learn. Both are known after the counting pass, before any training, so the
plan prints the forecast and `--actors auto` chooses K with it, together with K's projected speed against
one node (`projected_speed`, README "What a job will get: the speed"): on a small corpus more nodes wait.

One node is not one gensim process: the same trainer alone scored 0.93-1.09x gensim `corpus_file`'s
analogies (2 workers) on the measured corpora, read in the same order (it decays one learning-rate
schedule linearly; gensim's threads decay theirs more slowly, README "Combining at K >= 4"), in either
direction by corpus, so the forecast is against one node, where nothing is stale. The law was measured with the benchmark's parameters
(CBOW, 100 dimensions, window 5, 5 negatives, min count 5, 5 epochs, alpha 0.025, the default
combination and tiers); other parameters are forecast by the same law and the plan says so. Its error on the kind of
text it was not fitted on is FORECAST_SPREAD.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Sequence

from . import sync

if TYPE_CHECKING:
    from .config import TrainConfig

# The job warns below this predicted ratio, and `--actors auto` takes the most actors that reach it.
TARGET_RATIO = 0.97


@dataclass(frozen=True)
class Law:
    """The fitted coefficients of 1 - ratio = a (K-1)^b (share/0.25%)^c (words per row/200)^-d."""

    a: float
    b: float  # actors
    c: float  # stale share
    d: float  # words per vocabulary row (per epoch)
    fitted_on: str  # what it was measured on, for the plan's line and the manifest


# Fitted by `python -m jobs.law` on the points in jobs/law_points.json (README "What a job will get"):
# 23 replayed (corpus, K, pacing) points of two kinds of text, 2.5-24M words, K = 2, 4, 8, 0.25-1% stale,
# each the median of three seeds.
LAW = Law(a=0.0474, b=0.254, c=0.809, d=0.947, fitted_on="documentation and reference works, 2.5-24M words")
# How far a forecast was from the measured median on the kind of text it was not fitted on (the larger
# of the two cross-checks: fitted on documentation, checked on reference works, at 1% stale; at the default
# pacing the larger error is 0.089): printed beside it.
FORECAST_SPREAD = 0.123
# The parameters the law was measured with: another value makes the forecast an extrapolation (said so).
# The learning rate too: at alpha 0.05 (gensim's best of 0.025/0.05/0.1 on both 5M-word corpora) K actors kept
# 0.07 less of one node's quality on documentation (K=8) and 0.06 more on reference works (K=4) than at 0.025
# (README "Against gensim at its best learning rate"): the law is not alpha-free.
MEASURED_WITH = {"sg": False, "hs": False, "negative": 5, "window": 5, "vector_size": 100, "epochs": 5, "alpha": 0.025,
                 "sync_combine": "saturation", "sync_tiers": sync.TIERS}
SHARE_UNIT = sync.DEFAULT_STALE_SHARE  # the law's stale share is in units of the default
ROWS_UNIT = 200.0  # words per row: the law's unit (about a 5M-word corpus of documentation)


@dataclass(frozen=True)
class Forecast:
    """The predicted analogy ratio (K actors' score over one node's) of one job's shape."""

    actors: int
    epoch_words: int
    sync_words: int  # words per actor between two exchanges (the automatic pacing when the job sets none)
    stale_share: float  # (K - 1) x sync_words / words per epoch
    words_per_row: float  # words per epoch / vocabulary rows
    ratio: float  # 1.0 for one actor: nothing is stale

    def line(self) -> str:
        if self.actors == 1:
            return "1 actor: one node's quality (nothing is exchanged)"
        return (f"{self.actors} actors: predicted analogy score {self.ratio:.2f} x one node's "
                f"(+-{FORECAST_SPREAD:.2f}; {self.stale_share:.2%} of an epoch stale, "
                f"{self.words_per_row:,.0f} words per vocabulary row)")


def extrapolated(config: "TrainConfig") -> str:
    """Which of the job's parameters differ from the law's measurements ("" when none): the plan says so."""
    other = [f"{key}={getattr(config, key)}" for key, value in MEASURED_WITH.items() if getattr(config, key) != value]
    return f"measured with other parameters than {', '.join(other)}: an extrapolation" if other else ""


def predicted_ratio(actors: int, stale_share: float, words_per_row: float, law: Law = LAW) -> float:
    """The law: K actors' analogy score over one node's, at most 1.

    >>> predicted_ratio(1, 0.0, 100.0)
    1.0
    >>> predicted_ratio(4, 0.0025, 200.0, Law(0.1, 0.5, 0.5, 1.0, "")) == 1 - 0.1 * 3 ** 0.5
    True
    """
    if actors <= 1:
        return 1.0
    loss = _loss_at_unit_share(actors, words_per_row, law) * (max(stale_share, 1e-9) / SHARE_UNIT) ** law.c
    return max(0.0, 1.0 - loss)


def _loss_at_unit_share(actors: int, words_per_row: float, law: Law) -> float:
    """The law's loss at the default stale share: what the share's factor scales (`finest_share` inverts it)."""
    return law.a * (actors - 1) ** law.b * (max(words_per_row, 1e-9) / ROWS_UNIT) ** -law.d


def forecast(epoch_words: int, vocab_rows: int, actors: int, sync_words: int = 0, law: Law = LAW) -> Forecast:
    """The forecast for `actors` on a corpus of `epoch_words` words per epoch and `vocab_rows` rows.

    `sync_words` 0 is the automatic pacing (`sync.default_sync_words`), as the job would use it.
    """
    words_per_row = epoch_words / max(vocab_rows, 1)
    if actors <= 1:
        return Forecast(1, epoch_words, sync.SOLO_CHUNK_WORDS, 0.0, words_per_row, 1.0)
    paced = sync_words or sync.default_sync_words(epoch_words, actors)
    share = sync.stale_words(paced, actors) / max(epoch_words, 1)
    ratio = predicted_ratio(actors, share, words_per_row, law)
    return Forecast(actors, epoch_words, paced, share, words_per_row, ratio)


LINK_BYTES_PER_S = 10e9 / 8  # the projection's links (the README's scaling model's)


@dataclass(frozen=True)
class Speed:
    """How fast K actors train against one node of the same cores (projected before training).

    Why: the stale share fixes the words between exchanges, so on a small corpus a chunk trains in well
    under a millisecond on a many-core node while an exchange costs milliseconds: the nodes wait, and
    K of them can train slower than one. The projection is `sync.node_efficiency` with the job's
    calibrated words per second per thread, its node's threads, its vocabulary's bytes per exchange, the
    round's CPU as `jobs.round_cost` measured it (`sync.round_cpu_seconds`) and LINK_BYTES_PER_S links.
    """

    actors: int
    speedup: float  # K actors' words per second over one node's (1.0 for one)
    chunk_seconds: float  # one node's training of one chunk (sync_words words)
    exchange_seconds: float  # one exchange's wall time: the busiest link, round trips and the node's own CPU
    link_bytes_per_s: float = LINK_BYTES_PER_S  # the links assumed

    def line(self) -> str:
        if self.actors == 1:
            return "1 actor: one node's speed (nothing is exchanged)"
        return (f"{self.actors} actors: about {self.speedup:.2f} x one node's training speed (a chunk trains in "
                f"{_ms(self.chunk_seconds)}, an exchange takes {_ms(self.exchange_seconds)}; "
                f"{self.link_bytes_per_s * 8 / 1e9:g} Gb/s links and the collective's measured round cost assumed)")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds < 0.01 else f"{seconds * 1e3:.0f} ms"


def projected_speed(actors: int, cores: int, sync_words: int, slice_bytes: float, words_per_thread_second: float,
                    value_bytes: int = 2, link_bytes_per_s: float = LINK_BYTES_PER_S) -> Speed:
    """`Speed` of `actors` nodes of `cores` threads each, exchanging `slice_bytes` every `sync_words` words.

    >>> round(projected_speed(4, 16, 4_342, 1.41e6, 662_288).speedup, 2)  # 5.2M words: slower than one node
    0.37
    >>> round(projected_speed(16, 16, 166_667, 2.9e6, 662_288).speedup, 1)  # a 1B-word epoch on 16 nodes
    15.3
    """
    chunk = sync_words / max(cores * words_per_thread_second, 1e-9)
    if actors <= 1:
        return Speed(1, 1.0, chunk, 0.0, link_bytes_per_s)
    cpu = sync.round_cpu_seconds(actors, slice_bytes)
    efficiency = sync.node_efficiency(actors, cores, sync_words, slice_bytes, words_per_thread_second, cpu,
                                      link_bytes_per_s, collective=True, value_bytes=value_bytes)
    wall = sync.exchange_seconds(actors, slice_bytes, link_bytes_per_s, node_bytes_per_s=slice_bytes / max(cpu, 1e-12),
                                 collective=True, value_bytes=value_bytes)
    return Speed(actors, actors * efficiency, chunk, wall, link_bytes_per_s)


SPEED_SLACK = 0.01  # x one node's speed: projections this close count as a tie (`choose_actors`)


def choose_actors(epoch_words: int, vocab_rows: int, nodes: int, sync_words: int = 0,
                  target: float = TARGET_RATIO, law: Law = LAW,
                  speed: Callable[[Forecast], Speed] | None = None) -> tuple[int, list[Forecast]]:
    """`--actors auto`: of the K (at most `nodes`) whose forecast reaches `target`, the one projected to train
    fastest (`speed`: a K's projection; the fewest actors within SPEED_SLACK of the fastest, as fewer lose
    less quality; with no projection, the most actors). One node always qualifies, so a corpus on which more
    nodes would be slower than one stays on one.

    Returns the choice and the forecast of every K from 1 to `nodes` (what the choice was made from).
    """
    every = [forecast(epoch_words, vocab_rows, k, sync_words, law) for k in range(1, max(nodes, 1) + 1)]
    reaching = [f for f in every if f.ratio >= target] or every[:1]
    if speed is None:
        return reaching[-1].actors, every
    speedups = {f.actors: speed(f).speedup for f in reaching}
    best = max(speedups.values())
    return min(k for k, v in speedups.items() if v >= best - SPEED_SLACK), every


def slower(chosen: Speed, one_node: str = "") -> str | None:
    """The one warning line when `chosen` (an explicit --actors) is projected slower than one node, else None."""
    if chosen.actors <= 1 or chosen.speedup >= 1.0:
        return None
    return (f"speed (projection): {chosen.actors} actors train at about {chosen.speedup:.2f} x one node's speed on "
            f"this corpus: a chunk trains in {_ms(chosen.chunk_seconds)} and each exchange takes "
            f"{_ms(chosen.exchange_seconds)}, so the nodes mostly wait; --actors 1 would be faster"
            + (f" (about {one_node} of training)" if one_node else ""))


def finest_share(actors: int, words_per_row: float, target: float = TARGET_RATIO, law: Law = LAW) -> float:
    """The stale share at which `actors` would reach `target` by the law (finer pacing), 0 when none does."""
    if actors <= 1 or law.c <= 0:
        return 0.0
    allowed = (1.0 - target) / _loss_at_unit_share(actors, words_per_row, law)
    return SHARE_UNIT * allowed ** (1.0 / law.c)


def shortfall(chosen: Forecast, every: Sequence[Forecast], one_node: str = "", target: float = TARGET_RATIO,
              law: Law = LAW, speed: Callable[[Forecast], Speed] | None = None) -> str | None:
    """The one warning line when `chosen` is forecast below `target`, naming what would reach it: fewer
    actors, finer pacing (while it stays above the finest `--sync-words`; with `speed`, at what projected
    speed: more exchanges cost time), or one node (`one_node`: how long one node would train, as the plan
    says it; empty when not estimated)."""
    if chosen.ratio >= target:
        return None
    ways = []
    fewer = [f for f in every if 1 < f.actors < chosen.actors and f.ratio >= target]
    if fewer:
        ways.append(f"--actors {fewer[-1].actors} ({fewer[-1].ratio:.2f})")
    share = finest_share(chosen.actors, chosen.words_per_row, target, law)
    words = round(share * chosen.epoch_words / max(chosen.actors - 1, 1))
    if words >= sync.MIN_SYNC_WORDS:
        finer = replace(chosen, sync_words=words, stale_share=share)
        cost = f", about {speed(finer).speedup:.2f} x one node's speed" if speed else ""
        ways.append(f"--sync-words {words:,} ({share:.2%} of an epoch stale; more exchanges{cost})")
    ways.append("--actors 1" + (f" (one node: about {one_node} of training)" if one_node else ""))
    return (f"forecast: {chosen.actors} actors get about {chosen.ratio:.2f} x one node's analogy score "
            f"(below {target:.2f}); to reach it: " + ", or ".join(ways))
