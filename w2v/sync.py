"""How K actors' weights become one model: asynchronous delta exchange.

The design (chosen by measurement; see README "Distributed training"):

- Every actor trains gensim without stopping: one `train(corpus_file=...)` call over all epochs
  in a background thread, on a local spool of its shards. There are no `train()` restarts per
  round (each costs thread start-up), and gensim's `corpus_file` mode runs without the GIL, so it
  scales with the node's cores.
- Every `sync_interval` seconds the driver runs one exchange, slice of rows by slice of rows:
  each actor hands over what it changed since the last exchange (its delta), the driver sums the
  deltas, and every actor adds the others' deltas into its live weights, while gensim keeps
  training (hogwild, as gensim's own threads already are). The driver keeps the global weights:
  initial + every delta. Summing deltas applies every actor's updates as if one process had made
  them; averaging them (Spark MLlib) would divide each actor's progress by K.
- Reduce-scatter through Ray's object store, not through the driver: each exchanged slice is cut
  into K pieces, actor j sums piece j of every actor's delta and hands its summed piece to every
  actor (and to the driver, which keeps the global weights). The busiest link carries about 3x the
  slice whatever K is; sending every delta to the driver would put 2K slices on the driver's link
  and stop scaling at a few nodes (see `round_bytes` and README "Scaling model").
- Frequency tiers: rows are sorted by corpus count, so the hot rows are a prefix of the matrix.
  With T tiers the first V/2**(T-1) rows are exchanged every time, the next tiers (each twice as
  wide) every 2nd, 4th, ... time, and all rows at the first and last exchange. With the default
  T=7 (chosen by measurement, README "Distributed training") an exchange moves V/16 of the rows
  on average instead of all of them. Frequent words, which change fastest, sync most often
  (Intel's pWord2Vec does the same); a row's changes accumulate in its delta until its turn,
  nothing is lost.
- One global learning-rate schedule: each actor decays linearly from `alpha` to `min_alpha` over
  its own words of all epochs; shards are balanced by bytes, so every actor is at the same point of
  the global schedule at the same share of the job.

Everything here is pure numpy, tested without Ray: `DeltaTracker` is the actor's side,
`exchange_slices`, `split_rows` and `sum_deltas` the exchange's. `train` owns the actors and the loop.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

Weights = dict[str, np.ndarray]  # "vectors" (input vectors) and "syn1neg" and/or "syn1" (output)

MAX_SLICE_BYTES = 8 * 2**20  # one exchange message per actor holds at most this much: bounds transient memory
TIERS = 7  # frequency tiers: the hottest V/64 rows sync every exchange, all rows every 64th
# The quality follows how stale an actor's copy of the others' rows gets: the words the other K-1
# actors train between two exchanges (between two refreshes of the hottest rows), (K-1) x the
# words per actor between exchanges. It is set by the interval, the node's speed and K: the same
# 0.1 s is ~16,000 words per actor on a 1-core simulated node and ~300,000 on a 16-core one.
# Measured (benchmark, 6.75M words per epoch, each side by side with gensim): K=4 with 44,000-49,000
# stale words and K=2 with 55,000 -> analogy 1.03-1.06x one gensim process; K=4 with 122,000 ->
# 0.86x, 274,000 -> 0.76x. Above this the driver warns.
PARITY_STALE_WORDS = 60_000


def stale_words(words_per_exchange: float, actors: int) -> float:
    """Words the other actors train between two exchanges: what an actor has not seen of them."""
    return max(actors - 1, 0) * words_per_exchange


def stale_words_warning(words_per_exchange: float, actors: int, interval: float, exchange_seconds: float
                        ) -> str | None:
    """The warning when `stale_words` is above PARITY_STALE_WORDS, saying what helps.

    >>> stale_words_warning(16_000, 4, 0.1, 0.02) is None, stale_words_warning(55_000, 2, 0.1, 0.02) is None
    (True, True)
    >>> print(stale_words_warning(90_000, 4, 0.4, 0.05))  # doctest: +NORMALIZE_WHITESPACE
    each actor trains about 90,000 words between two weight exchanges (--sync-interval 0.4 s), so it works
    without the last 270,000 words of the other 3 actors; above 60,000 the vectors measurably lose quality
    against one gensim process (README "Distributed training"): lower --sync-interval (an exchange takes
    0.05 s here)
    """
    stale = stale_words(words_per_exchange, actors)
    if stale <= PARITY_STALE_WORDS:
        return None
    hint = ("lower --sync-interval" if interval > 1.5 * exchange_seconds else
            "the exchanges already run back to back: more --sync-tiers or a smaller vocabulary "
            "(--max-final-vocab) make each one shorter, fewer actors make each less stale")
    return (f"each actor trains about {words_per_exchange:,.0f} words between two weight exchanges (--sync-interval "
            f"{interval:g} s), so it works without the last {stale:,.0f} words of the other {actors - 1} "
            f"actor{'s' if actors > 2 else ''}; "
            f"above {PARITY_STALE_WORDS:,} the vectors measurably lose quality against one gensim process (README "
            f"\"Distributed training\"): {hint} (an exchange takes {exchange_seconds:.2g} s here)")


def learning_rate(alpha: float, min_alpha: float, progress: float) -> float:
    """Linear decay over the whole job; progress in [0, 1] is the share of all words trained.

    >>> learning_rate(0.025, 0.0001, 0.0), round(learning_rate(0.025, 0.0001, 1.0), 6)
    (0.025, 0.0001)
    """
    progress = min(max(progress, 0.0), 1.0)
    return alpha - (alpha - min_alpha) * progress


def row_slices(rows: int, row_bytes: int, max_bytes: int = MAX_SLICE_BYTES) -> list[slice]:
    """Split the rows so one slice of every matrix fits in `max_bytes`: bounded message size.

    >>> row_slices(10, row_bytes=800, max_bytes=3200)
    [slice(0, 4, None), slice(4, 8, None), slice(8, 10, None)]
    """
    per_slice = max(1, max_bytes // max(row_bytes, 1))
    return [slice(start, min(start + per_slice, rows)) for start in range(0, rows, per_slice)]


def tier_ranges(vocab_size: int, exchange: int, tiers: int = TIERS, final: bool = False) -> list[tuple[int, int]]:
    """Row ranges due at exchange number `exchange` (0, 1, ...): tier t every 2**t exchanges.

    Tier 0 is rows [0, V/2**(tiers-1)); tier t >= 1 doubles the covered prefix. `final` gives all rows.

    >>> tier_ranges(160, 0, tiers=5), tier_ranges(160, 1, tiers=5), tier_ranges(160, 2, tiers=5)
    ([(0, 160)], [(0, 10)], [(0, 20)])
    >>> tier_ranges(160, 8, tiers=5), tier_ranges(160, 5, tiers=5, final=True)
    ([(0, 80)], [(0, 160)])
    """
    if final or exchange == 0:  # the first exchange also covers every row: all actors agree early
        return [(0, vocab_size)]
    bounds = [math.ceil(vocab_size / 2 ** (tiers - 1 - t)) for t in range(tiers)]  # prefix ends, V/2**(T-1) .. V
    due = max(t for t in range(tiers) if exchange % 2**t == 0)  # the coldest tier due now
    return [(0, bounds[due])] if bounds[due] > 0 else []


def exchange_slices(vocab_size: int, row_bytes: int, exchange: int, final: bool = False, tiers: int = TIERS,
                    max_bytes: int = MAX_SLICE_BYTES) -> list[slice]:
    """The row slices one exchange moves: its due tiers, cut to bounded message sizes."""
    slices = []
    for start, stop in tier_ranges(vocab_size, exchange, tiers=tiers, final=final):
        slices.extend(slice(start + s.start, start + s.stop) for s in row_slices(stop - start, row_bytes, max_bytes))
    return slices


def split_rows(rows: slice, parts: int) -> list[slice]:
    """Cut a row slice into `parts` contiguous, near-equal pieces: piece j is reduced by actor j.

    >>> split_rows(slice(10, 17), 3)
    [slice(10, 13, None), slice(13, 15, None), slice(15, 17, None)]
    """
    size, extra = divmod(rows.stop - rows.start, parts)
    bounds = [rows.start]
    for j in range(parts):
        bounds.append(bounds[-1] + size + (1 if j < extra else 0))
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]


def cut(weights: Weights, pieces: Sequence[slice], offset: int) -> list[Weights]:
    """The pieces of a slice's arrays (`offset` is the slice's first row); views, no copies."""
    return [{name: a[p.start - offset : p.stop - offset] for name, a in weights.items()} for p in pieces]


def round_bytes(actors: int, slice_bytes: int) -> dict[str, int]:
    """Bytes one exchange of a `slice_bytes` slice moves, in all and on the busiest process's link.

    Reduce-scatter through the object store: actor k sends piece j of its delta to actor j (K-1
    pieces of B/K), actor j sends the summed piece j to the K-1 others and to the driver. The
    driver receives one copy of the sum (B) whatever K is. Star (every delta to the driver, the
    sum back to every actor) would put K*B each way on the driver's link.

    >>> round_bytes(4, 400)
    {'slice': 400, 'total': 2800, 'busiest_link': 700, 'star_busiest_link': 1600}
    """
    piece = slice_bytes // actors
    deltas = actors * (actors - 1) * piece  # pieces that leave their actor
    sums = actors * (actors - 1) * piece + slice_bytes  # summed pieces to the other actors and the driver
    # Links are full duplex: an owner sends its K-1 foreign pieces and its sum to K-1 actors and the
    # driver (2K-1 pieces out) and receives 2(K-1) pieces. With a star the driver receives K slices.
    busiest = (2 * actors - 1) * piece
    return {"slice": slice_bytes, "total": deltas + sums, "busiest_link": max(busiest, slice_bytes),
            "star_busiest_link": actors * slice_bytes}


def projected_efficiency(nodes: int, slice_bytes: float, interval: float, sync_share: float,
                         link_bytes_per_s: float = 10e9 / 8, star: bool = False) -> float:
    """Parallel efficiency at `nodes` nodes, at the quality of the measured sync interval.

    E(K) = (1 - s) * min(1, t / (L(K) / bw)): s is the share of an actor's time spent on
    exchange arithmetic (measured), t the sync interval, L(K) the bytes of one exchange on the
    busiest link (`round_bytes`), bw the link speed. While one exchange fits in the interval it
    runs beside training and costs only s; past that, keeping the words between exchanges (the
    quality) would mean waiting for the network.

    >>> round(projected_efficiency(16, 32e6, 0.1, 0.05), 3), round(projected_efficiency(16, 32e6, 0.1, 0.05, star=True), 3)
    (0.95, 0.232)
    """
    moved = round_bytes(nodes, int(slice_bytes))
    link = moved["star_busiest_link"] if star else moved["busiest_link"]
    return (1.0 - sync_share) * min(1.0, interval / (link / link_bytes_per_s))


def copy_weights(weights: Weights) -> Weights:
    """A writable copy of every matrix (arrays from the object store are read-only; live ones keep changing)."""
    return {name: np.array(array, copy=True) for name, array in weights.items()}


def nbytes(weights: Weights) -> int:
    """Bytes of one copy of the weights, for the exchanged-bytes accounting."""
    return sum(a.nbytes for a in weights.values())


def sum_deltas(deltas: Sequence[Weights]) -> Weights:
    """The sum of every actor's delta for one slice (arrays may be read-only, from the object store)."""
    total = {name: np.array(array, dtype=np.float32, copy=True) for name, array in deltas[0].items()}
    for delta in deltas[1:]:
        for name, array in delta.items():
            total[name] += array
    for name, array in total.items():
        if not np.isfinite(array).all():
            raise FloatingPointError(f"the summed '{name}' deltas are not finite: lower alpha or sync_interval")
    return total


class DeltaTracker:
    """An actor's side of the exchange: its changes since the last exchange, and the others' changes.

    `reference` is what the weights would be without local training since the last exchange; the
    delta is `weights - reference`. After `take`, the actor keeps its own delta until `apply`
    receives the sum over all actors, so it adds only the others' part.
    """

    def __init__(self, weights: Weights):
        self.reference: Weights = copy_weights(weights)
        self.taken: dict[int, Weights] = {}  # slice start -> own delta handed over, not yet applied

    def take(self, weights: Weights, rows: slice) -> Weights:
        """The local change of these rows since the last exchange (the live weights keep training).

        Two passes over the rows: the live rows are read once (gensim may be writing them), and the
        reference moves by exactly the delta handed over.
        """
        delta = {}
        for name, live in weights.items():
            delta[name] = live[rows] - self.reference[name][rows]
            self.reference[name][rows] += delta[name]
        self.taken[rows.start] = delta
        return delta

    def untake(self, start: int) -> None:
        """Take back the delta handed over for the slice at `start`: it travels with the next exchange."""
        own = self.taken.pop(start)
        for name, delta in own.items():
            self.reference[name][start : start + len(delta)] -= delta

    def apply(self, weights: Weights, rows: slice, *totals: Weights) -> None:
        """Add everyone else's change of these rows: the summed delta minus what this actor handed over.

        `totals` are the summed delta of `rows` in consecutive pieces (one piece per reducing actor,
        or one for all). The actor's own delta buffer is reused for the difference: no allocation.
        """
        own = self.taken.pop(rows.start)
        offset = 0
        for piece in totals:
            n = len(next(iter(piece.values())))
            for name, mine in own.items():
                np.subtract(piece[name], mine[offset : offset + n], out=mine[offset : offset + n])
            offset += n
        if offset != rows.stop - rows.start:
            raise ValueError(f"the summed pieces cover {offset} rows, the exchanged slice {rows.stop - rows.start}")
        for name, live in weights.items():
            live[rows] += own[name]
            self.reference[name][rows] += own[name]
