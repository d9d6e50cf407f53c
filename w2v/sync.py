"""How K actors' weights become one model: asynchronous delta exchange.

The design (chosen by measurement; see README "Distributed training"):

- Word pacing: every actor trains its local spool chunk by chunk (`sync_words` words each, see
  `chunks_per_epoch`) with gensim's compiled corpus_file routines, without the GIL. After each
  chunk the driver runs one exchange, slice of rows by slice of rows: each actor hands over what it
  changed since the last exchange (its delta), the deltas are combined (`sum_deltas`), and every
  actor adds the others' part into its live weights while it trains the next chunk (hogwild, as
  gensim's own threads already are). An actor never starts a chunk two rounds ahead of the last
  applied exchange, so the staleness is set in words whatever the node's speed. The driver keeps
  the global weights: initial + every combined delta. The staleness that costs quality is a share
  of an epoch (`DEFAULT_STALE_SHARE`, README "What the quality follows").
- Combining: summing applies every actor's updates as if one process had made them, right for
  rows few or independent updates touched; averaging (Spark MLlib) divides each actor's progress by
  K. `adaptive` picks between them per row from how much the deltas repeat each other.
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

Everything here is pure numpy, tested without Ray: `DeltaBook` is the actor's side,
`exchange_slices`, `split_rows` and `sum_deltas` the exchange's. `driver` owns the actors and the loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

Weights = dict[str, np.ndarray]  # "vectors" (input vectors) and "syn1neg" and/or "syn1" (output)

MAX_SLICE_BYTES = 8 * 2**20  # one exchange message per actor holds at most this much: bounds transient memory
TIERS = 7  # frequency tiers: the hottest V/64 rows sync every exchange, all rows every 64th
# Word pacing: the quality follows the stale words, the words the other K-1 actors train between two
# exchanges, (K-1) x sync_words, as a share of an epoch's words (README "What the quality follows").
# The default pacing keeps that share at DEFAULT_STALE_SHARE whatever the node speed or K.
DEFAULT_STALE_SHARE = 0.0025
# Above this stale share the measured quality falls off (README "What the quality follows": at 1% the
# adaptive combination kept 0.85x gensim's analogies at K=4 and 0.74x at K=8 on 8.4M words, against
# 0.95x and 0.89x at the default 0.25%); the driver warns when --sync-words sets more.
WARN_STALE_SHARE = 0.01
# The finest pacing --sync-words may ask for. Below it the chunk trainer's fixed cost per chunk (the
# pool hand-off and gensim's routine set-up, ~0.1-0.2 ms of CPU) is more than ~15% of the chunk.
# Measured (`jobs/chunk_cost.py`, 1 worker, 1M words, 5 repeats, this 2-core machine, process CPU):
# 0.87x the words per core-second of 8,000-word chunks at 500 words per chunk (653 on average, whole
# lines), 0.85x at 1,000, 0.94x at 2,000. Thread start-up is not what limits a short chunk.
MIN_SYNC_WORDS = 500
# The automatic pacing's floor (a small corpus or many actors): what limits a short chunk is the
# exchange after it. A round's fixed cost was 8-10 ms of a node's CPU (5.2M-word corpus, K = 4 and
# 8, the collective, this machine), the time one core trains ~4,000-6,000 words in, so finer
# automatic chunks are mostly exchange: at 744 words per chunk (K=8, 0.1% stale) the exchange took
# 113% of the training time and the run 1.8x the wall time of 0.25%'s 1,861 words, for no measured
# gain in quality (README "What the quality follows").
AUTO_MIN_SYNC_WORDS = 2_000
SOLO_CHUNK_WORDS = 1_000_000  # one actor exchanges nothing: chunks only give progress (and positions)


def stale_words(words_per_exchange: float, actors: int) -> float:
    """Words the other actors train between two exchanges: what an actor has not seen of them."""
    return max(actors - 1, 0) * words_per_exchange


def default_sync_words(epoch_words: int, actors: int, stale_share: float = DEFAULT_STALE_SHARE,
                       floor: int = AUTO_MIN_SYNC_WORDS) -> int:
    """Words per actor between two exchanges so that the stale words are `stale_share` of an epoch,
    never fewer than `floor` (a benchmark of finer pacing passes MIN_SYNC_WORDS).

    >>> default_sync_words(20_000_000, 4), default_sync_words(20_000_000, 8), default_sync_words(10_000, 4)
    (16667, 7143, 2000)
    >>> default_sync_words(5_209_942, 8, 0.001), default_sync_words(5_209_942, 8, 0.001, floor=MIN_SYNC_WORDS)
    (2000, 744)
    """
    if actors <= 1:
        return SOLO_CHUNK_WORDS
    return max(floor, round(stale_share * epoch_words / (actors - 1)))


def staleness_warning(epoch_words: int, actors: int, sync_words: int) -> str | None:
    """A warning when `sync_words` leaves more than WARN_STALE_SHARE of an epoch stale, else None.

    The measure is the stale share, (K-1) x sync words / epoch words: what carried over between corpus
    sizes in the measurements, not a word count tuned on one corpus.

    >>> staleness_warning(1_000_000, 4, 2_000) is None, staleness_warning(5_200_002, 8, 7_429) is None  # 1.00%
    (True, True)
    >>> staleness_warning(1_000_000, 4, 10_000)
    '--sync-words 10,000 with 4 actors leaves 3.00% of an epoch stale (> 1.00%): expect clearly lower quality than one process (README "What the quality follows"); 0 paces at 0.25%'
    """
    if actors <= 1 or epoch_words <= 0:
        return None
    share = stale_words(sync_words, actors) / epoch_words
    if stale_words(sync_words - 0.5, actors) <= WARN_STALE_SHARE * epoch_words:  # a share rounded to whole words
        return None
    return (f"--sync-words {sync_words:,} with {actors} actors leaves {share:.2%} of an epoch stale "
            f"(> {WARN_STALE_SHARE:.2%}): expect clearly lower quality than one process (README \"What the quality "
            f"follows\"); 0 paces at {DEFAULT_STALE_SHARE:.2%}")


def chunks_per_epoch(epoch_words: int, actors: int, sync_words: int) -> int:
    """How many chunks (exchanges) each actor's share of an epoch is cut into: its words / sync_words.

    Every actor gets the same count, so the actors' rounds line up with epochs.

    >>> chunks_per_epoch(20_000_000, 4, 50_000), chunks_per_epoch(1_000, 4, 50_000)
    (100, 1)
    """
    return max(1, round(epoch_words / max(actors, 1) / max(sync_words, 1)))


def chunk_alphas(alpha: float, min_alpha: float, rounds: int, round_: int) -> tuple[float, float]:
    """Learning rate at the start and the end of round `round_` of `rounds` (all epochs' chunks).

    One linear schedule over the whole job, as one gensim process has; gensim decays linearly within
    the chunk between the two.

    >>> chunk_alphas(0.025, 0.0, 10, 0), chunk_alphas(0.025, 0.0, 10, 9)
    ((0.025, 0.0225), (0.0025, 0.0))
    """
    start = learning_rate(alpha, min_alpha, round_ / rounds)
    end = learning_rate(alpha, min_alpha, (round_ + 1) / rounds)
    return round(start, 12), round(end, 12)


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


@dataclass(frozen=True)
class RoundBytes:
    """Bytes one object-store exchange of a slice moves (`round_bytes`)."""

    slice: int  # of the summed slice (the global weights' share)
    total: int  # over every link
    busiest_link: int  # over the busiest process's link (what sets an exchange's time)
    star_busiest_link: int  # the driver's link, were every delta sent through it (star), for comparison


def round_bytes(actors: int, slice_bytes: int) -> RoundBytes:
    """Bytes one exchange of a `slice_bytes` slice moves, in all and on the busiest process's link.

    Reduce-scatter through the object store: actor k sends piece j of its delta to actor j (K-1
    pieces of B/K), actor j sends the summed piece j to the K-1 others and to the driver. The
    driver receives one copy of the sum (B) whatever K is. Star (every delta to the driver, the
    sum back to every actor) would put K*B each way on the driver's link.

    >>> round_bytes(4, 400)
    RoundBytes(slice=400, total=2800, busiest_link=700, star_busiest_link=1600)
    """
    piece = slice_bytes // actors
    deltas = actors * (actors - 1) * piece  # pieces that leave their actor
    sums = actors * (actors - 1) * piece + slice_bytes  # summed pieces to the other actors and the driver
    # Links are full duplex: an owner sends its K-1 foreign pieces and its sum to K-1 actors and the
    # driver (2K-1 pieces out) and receives 2(K-1) pieces. With a star the driver receives K slices.
    busiest = (2 * actors - 1) * piece
    return RoundBytes(slice=slice_bytes, total=deltas + sums, busiest_link=max(busiest, slice_bytes),
                      star_busiest_link=actors * slice_bytes)


# An exchange's wall time on a real link (README "Scaling model"; measured by `jobs/links.py`: Ray
# nodes in network namespaces, K = 2 and 4, links of 100 Mb/s to 1 Gb/s and 0.1 to 5 ms):
#   X = messages * round_trips(K) * rtt + slice_bytes / node_bytes_per_s + L(K) / bw
# - bandwidth: over the unshaped exchange, the time grew by 1.0-1.1x the busiest link's bytes / bw
#   (`round_bytes`): that term needs no factor;
# - latency: each message (row slice, at most MAX_SLICE_BYTES) is a chain of Ray calls one after
#   the other (take, the reduce's pulls, apply's pulls, then the driver fetching the K summed
#   pieces one by one): ~9 round trips at K=2 and ~15 at K=4 (slices of 1,000 rows, least squares
#   over +4 and +11 ms of RTT, +-50%: the loaded machine's noise), EXCHANGE_RTTS + EXCHANGE_RTTS_PER_NODE * K;
# - the node's own work (delta, sum, apply, serialisation, object-store copies) adds to the
#   transfers instead of overlapping them: `node_bytes_per_s`, to be measured on the nodes
#   themselves (the unshaped run of `jobs/links.py`). Here it was ~20 MB/s of slice at K=2
#   (0.046-0.064 s/MB, 2 cores shared by the nodes and ~40 runnable processes of other work), of
#   which numpy's arithmetic alone was ~0.15 s per 24 MB; `math.inf` (the default) leaves it out.
EXCHANGE_RTTS = 3  # round trips per message whatever K is
EXCHANGE_RTTS_PER_NODE = 3  # and per node: the driver's fetch of each summed piece is one more
DATACENTER_RTT = 1e-4  # seconds: a round trip inside one availability zone, the default link's


def exchange_round_trips(nodes: int) -> int:
    """Network round trips one exchange message waits for, one after the other (measured, see above).

    >>> exchange_round_trips(2), exchange_round_trips(16)
    (9, 51)
    """
    return EXCHANGE_RTTS + EXCHANGE_RTTS_PER_NODE * nodes


def exchange_seconds(nodes: int, slice_bytes: float, link_bytes_per_s: float, rtt_seconds: float = DATACENTER_RTT,
                     node_bytes_per_s: float = math.inf, star: bool = False, max_bytes: int = MAX_SLICE_BYTES,
                     collective: bool = False, value_bytes: int = 4) -> float:
    """Wall seconds of one exchange of a `slice_bytes` slice on K = `nodes` nodes (see EXCHANGE_RTTS above).

    `collective`: gloo's ring allreduce (`w2v.collective`): each message takes 2(K - 1) one-way hops
    ((K - 1) round trips) and each member's link carries 2(K - 1)/K of the slice each way. An
    ordinary round has no commit (only the rare rounds the driver asks for do: one more ring of
    tiny messages), so none is counted. `value_bytes`: bytes per value on the ring's wire (2 with
    `--wire bfloat16`: the links carry half of the float32 slice). On shaped links (`jobs.links`, 100 Mb/s)
    halving the bytes saved what this says within 0.05 s, while both wires took 0.11-0.33 s more than
    it over the unshaped run (a relay process, TCP's ramp-up: README "Scaling model").

    >>> round(exchange_seconds(4, 24e6, 100e6 / 8, 4e-3), 2), round(exchange_seconds(4, 24e6, 100e6 / 8, 4e-3, 20e6), 2)
    (3.54, 4.74)
    >>> round(exchange_seconds(4, 24e6, 100e6 / 8, 4e-3, collective=True), 2)
    2.92
    >>> round(exchange_seconds(4, 24e6, 100e6 / 8, 4e-3, collective=True, value_bytes=2), 2)
    1.48
    """
    messages = max(1, math.ceil(slice_bytes / max_bytes))
    if collective:
        link = 2 * (nodes - 1) / nodes * slice_bytes * value_bytes / 4
        rtts = messages * (nodes - 1)
        return rtts * rtt_seconds + slice_bytes / node_bytes_per_s + link / link_bytes_per_s
    moved = round_bytes(nodes, int(slice_bytes))
    link = moved.star_busiest_link if star else moved.busiest_link
    return messages * exchange_round_trips(nodes) * rtt_seconds + slice_bytes / node_bytes_per_s + link / link_bytes_per_s


def projected_efficiency(nodes: int, slice_bytes: float, chunk_seconds: float, sync_share: float,
                         link_bytes_per_s: float = 10e9 / 8, star: bool = False, rtt_seconds: float = DATACENTER_RTT,
                         node_bytes_per_s: float = math.inf, collective: bool = False, value_bytes: int = 4) -> float:
    """Parallel efficiency at `nodes` nodes, at the same words per exchange (the same quality).

    E(K) = min(1 - s, t / X(K)): s is the share of a node's time its exchange work takes
    (measured), t the seconds a node takes to train one chunk (sync_words at its measured rate),
    X(K) the wall time of one exchange (`exchange_seconds`: the busiest link's bytes / bw, round
    trips per message, the node's own work when `node_bytes_per_s` is given). A chunk starts once
    the exchange two rounds back is applied, so a round lasts the longer of the training with the
    exchange's work beside it, t / (1 - s), and the exchange, X: while one exchange fits in the
    time of a chunk it costs only s; past that the actors wait for it (and its work is inside X).

    >>> round(projected_efficiency(16, 32e6, 0.1, 0.05), 3), round(projected_efficiency(16, 32e6, 0.1, 0.05, star=True), 3)
    (0.95, 0.233)
    >>> round(projected_efficiency(16, 150e6, 0.23, 0.05, rtt_seconds=0), 2), round(projected_efficiency(16, 150e6, 0.23, 0.05), 2)
    (0.95, 0.71)
    """
    seconds = exchange_seconds(nodes, slice_bytes, link_bytes_per_s, rtt_seconds, node_bytes_per_s, star,
                               collective=collective, value_bytes=value_bytes)
    return min(1.0 - sync_share, chunk_seconds / seconds)


def node_efficiency(nodes: int, cores: int, sync_words: float, slice_bytes: float, words_per_core_second: float,
                    exchange_cpu_seconds: float, link_bytes_per_s: float = 10e9 / 8,
                    rtt_seconds: float = DATACENTER_RTT, collective: bool = False, loop_cpu_seconds: float = 0.0,
                    background_cores: float = 0.0, value_bytes: int = 4) -> float:
    """`projected_efficiency` of `nodes` nodes of `cores` cores each, from CPU costs measured anywhere.

    A node trains one chunk (`sync_words` words) in t = sync_words / (cores x words per core-second):
    gensim's corpus_file threads scale with cores. Its share of one exchange of a `slice_bytes`
    slice costs w = `exchange_cpu_seconds`, done one step after the other, so w is in the exchange's
    wall time (`exchange_seconds`' node term), and beside training it takes the share s = w / (w +
    cores x t) of the node's CPU. Both rates come from a run's manifest (`words_per_core_second`,
    `exchange_cpu_seconds_per_exchange`, or with the collective `round_cpu_seconds_per_exchange`), in
    CPU time, so simulated nodes sharing a machine's cores measure them as a real node would. w holds a
    fixed part per exchange besides the per-byte work, so it is only carried to the same model and
    tiers (the same slice).

    Two costs that are not the exchange's, measured with the collective: the chunk loop's own work
    between chunks (`loop_cpu_seconds` per chunk, on one core while the others wait: it lengthens
    every chunk), and what the node's other processes and threads use whatever happens
    (`background_cores`: it takes that many cores from training).

    >>> round(node_efficiency(16, 1, 1e6, 10e6, 1e6, 0.1), 2)  # 1 s per chunk and 0.1 s of exchange work
    0.91
    >>> round(node_efficiency(16, 16, 1e6, 10e6, 1e6, 0.1), 2)  # the same share, but 1/16 s chunks: waits
    0.5
    >>> round(node_efficiency(16, 16, 1e6, 10e6, 1e6, 0.01, loop_cpu_seconds=0.001, background_cores=0.16), 2)
    0.96
    """
    training = sync_words / (cores * words_per_core_second)
    chunk = training + loop_cpu_seconds
    share = exchange_cpu_seconds / (exchange_cpu_seconds + cores * chunk)
    busy = projected_efficiency(nodes, slice_bytes, chunk, share, link_bytes_per_s, rtt_seconds=rtt_seconds,
                                node_bytes_per_s=slice_bytes / max(exchange_cpu_seconds, 1e-12), collective=collective,
                                value_bytes=value_bytes)
    return busy * training / chunk * max(1.0 - background_cores / cores, 0.0)


def most_cores(nodes: int, target: float, sync_words: float, slice_bytes: float, words_per_core_second: float,
               exchange_cpu_seconds: float, link_bytes_per_s: float = 10e9 / 8, rtt_seconds: float = DATACENTER_RTT,
               limit: int = 256, collective: bool = False, loop_cpu_seconds: float = 0.0,
               background_cores: float = 0.0, value_bytes: int = 4) -> int:
    """The most cores per node (up to `limit`) at which `node_efficiency` stays at `target` or above; 0 if none.

    >>> most_cores(16, 0.85, 1e6, 10e6, 1e6, 0.1)
    9
    """
    fits = [c for c in range(1, limit + 1)
            if node_efficiency(nodes, c, sync_words, slice_bytes, words_per_core_second, exchange_cpu_seconds,
                               link_bytes_per_s, rtt_seconds, collective, loop_cpu_seconds, background_cores,
                               value_bytes) >= target]
    return max(fits, default=0)


# A node's own CPU per exchange with the collective (`jobs.round_cost --actors 2 4 8 --trials 3`: the round
# thread and gloo's, bfloat16 wire, `saturation`; medians on this project's 2-core machines, one session):
# 3.9, 5.3 and 6.8 ms at K = 2, 4, 8 for the 24M-word benchmark corpus's 58,089 rows (2.9 MB of float32 rows
# per exchange on average, `mean_slice_bytes`), 2.0, 3.5 and 5.5 ms for the 5.2M-word corpus's 28,196 rows
# (1.4 MB). Least squares over the six: w = 1.115 ms per MB + 0.52 ms per member after the first + 0.19 ms,
# within 0.31 ms of each. Past K = 8 it overstates: stop 33 measured 8.8 ms at K = 16 (58,089 rows), the
# line says 11.2. The plan's speed projection (`w2v.forecast.projected_speed`) takes w from it.
ROUND_CPU_PER_BYTE = 1.115e-9
ROUND_CPU_PER_MEMBER = 0.52e-3
ROUND_CPU_FIXED = 0.19e-3


def round_cpu_seconds(actors: int, slice_bytes: float) -> float:
    """A node's CPU per exchange of a `slice_bytes` slice among `actors` members (the measured line above).

    >>> round(round_cpu_seconds(4, 2.9e6) * 1e3, 1), round(round_cpu_seconds(8, 1.41e6) * 1e3, 1)
    (5.0, 5.4)
    """
    return ROUND_CPU_PER_BYTE * slice_bytes + ROUND_CPU_PER_MEMBER * max(actors - 1, 0) + ROUND_CPU_FIXED


def mean_slice_bytes(vocab_size: int, row_bytes: int, tiers: int = TIERS) -> float:
    """Bytes of rows one exchange moves on average over the tier schedule's period (`tier_ranges`).

    >>> mean_slice_bytes(6400, 800) == 6400 * 800 / 16  # 7 tiers: 1/16 of the rows on average
    True
    """
    period = 2 ** (tiers - 1)
    rows = sum(stop - start for e in range(1, period + 1) for start, stop in tier_ranges(vocab_size, e, tiers))
    return rows * row_bytes / period


def copy_weights(weights: Weights) -> Weights:
    """A writable copy of every matrix (arrays from the object store are read-only; live ones keep changing)."""
    return {name: np.array(array, copy=True) for name, array in weights.items()}


def nbytes(weights: Weights) -> int:
    """Bytes of one copy of the weights, for the exchanged-bytes accounting."""
    return sum(a.nbytes for a in weights.values())


# Combining (README "What the quality follows"): summing the K deltas applies every actor's updates
# as if one process had made them, which holds for a row whose updates were few or independent (a
# rare word one actor saw; noise in different directions). A row that every actor pulled the same
# way (a hot word reaching the same target in every actor) is moved K times too far by the sum:
# each actor made the whole move, one process would have made it once. `adaptive` tells the two
# apart per row, from the deltas themselves: w = sum_k |d_k|^2 / |sum_k d_k|^2, clipped to
# [1/K, 1], is 1 for orthogonal deltas (sum) and 1/K for identical ones (the mean), and the
# combined delta is w x the sum. No constant: it reads how much the actors' changes repeat each other.
# `saturation` is `adaptive` floored by each row's update count (`RowUpdates`): agreeing deltas are
# also what a row moving steadily and far from done gives, and the sum is right for it; only a row
# with enough updates to have reached its target in every actor is shrunk towards the mean.
COMBINES = ("adaptive", "sum", "saturation")
# The share of the way to its local target one update moves a row (`saturation_factor`), chosen in the
# one-process replay (jobs/replay.py; README "Combining at K >= 4"): smaller is closer to the sum.
SATURATION_RHO = 0.01


def sum_deltas(deltas: Sequence[Weights], combine: str = "sum", floors: dict[str, np.ndarray] | None = None) -> Weights:
    """The combined delta of every actor for one slice (arrays may be read-only, from the object store).

    `sum` adds them; `adaptive` scales each row of the sum by how little the actors' deltas repeat
    each other (see COMBINES above).

    >>> same, other = {"v": np.array([[1.0, 0.0]])}, {"v": np.array([[0.0, 1.0]])}
    >>> sum_deltas([same, same], "adaptive")["v"].tolist(), sum_deltas([same, other], "adaptive")["v"].tolist()
    ([[1.0, 0.0]], [[1.0, 1.0]])
    """
    total = {name: np.array(array, dtype=np.float32, copy=True) for name, array in deltas[0].items()}
    for delta in deltas[1:]:
        for name, array in delta.items():
            total[name] += array
    squares = {name: sum(np.einsum("ij,ij->i", d[name], d[name], dtype=np.float64) for d in deltas)
               for name in total} if combine != "sum" else {}
    return combine_summed(total, squares, len(deltas), combine, floors)


def saturation_factor(updates: np.ndarray, actors: int, rho: float = SATURATION_RHO) -> np.ndarray:
    """The share of the K summed moves one process would have made, for rows with `updates` each.

    An update moves a row `rho` of the way to its local target, so n updates move it 1 - (1 - rho)^n of
    the way: K members one after the other 1 - (1 - rho)^(Kn), the sum of their K moves K (1 - (1 - rho)^n).
    The ratio is 1 for few updates (summing is exact) and 1/K for many (every member got there).

    >>> saturation_factor(np.array([0.0, 1.0, 1000.0]), 2, rho=0.5).tolist()
    [1.0, 0.75, 0.5]
    """
    log_q = np.log1p(-rho)
    alone = -np.expm1(updates * log_q)
    together = -np.expm1(actors * updates * log_q)
    return np.where(updates > 0, together / (actors * np.maximum(alone, 1e-30)), 1.0)


class RowUpdates:
    """Each row's expected updates in one member's round, per matrix, from the global vocabulary's counts:
    what `saturation` needs, known to every member without an extra column in the allreduce.

    gensim's negative sampling: a kept occurrence (gensim's down-sampling rule, `sample`) is a context of
    window + 1 centres on average (the reduced window); each centre (CBOW) or pair (skip-gram) updates
    the target's output row once and `negative` rows drawn from the counts^ns_exponent table. Rows of a
    matrix it does not model (hierarchical softmax's `syn1`: tree nodes, not words) get no floor.
    """

    def __init__(self, counts: Sequence[int], raw_words: int, sync_words: float, window: int, negative: int,
                 sample: float, sg: bool = False, ns_exponent: float = 0.75):
        c = np.asarray(counts, np.float64)
        keep = 1.0
        if sample:
            threshold = sample * c.sum()
            keep = np.minimum((np.sqrt(c / threshold) + 1) * threshold / c, 1.0)
        kept = c * keep / max(raw_words, 1) * sync_words  # kept occurrences per member's round
        self.per_round: dict[str, np.ndarray] = {"vectors": kept * (window + 1)}
        if negative:
            table = c**ns_exponent
            targets = kept * (window + 1) if sg else kept  # output-row updates as the positive target
            self.per_round["syn1neg"] = targets + negative * targets.sum() * table / table.sum()
        self.computed: dict[tuple, dict[str, np.ndarray]] = {}  # `floors`, by what they depend on (read-only)

    def floors(self, rows: slice, exchange: int, actors: int, tiers: int, final: bool = False,
               rho: float = SATURATION_RHO) -> dict[str, np.ndarray]:
        """`saturation_factor` of the rows' updates since their last exchange (`tier_ranges`' schedule:
        a row of tier t moves every 2**t exchanges; every row at exchange 0, a full round covers what
        accumulated since the row's last turn).

        Computed once per slice and kept: they depend on the exchange only through exchange 0 and, in a
        full round, its place in the longest tier period (2**(tiers-1), which every period divides), so
        every other round of the job reads them back instead of passing over the slice's rows again."""
        phase = exchange % 2 ** (tiers - 1) if final else None
        key = (rows.start, rows.stop, exchange == 0, phase, actors, tiers, rho)
        if key not in self.computed:
            self.computed[key] = self._floors(rows, exchange, actors, tiers, final, rho)
        return self.computed[key]

    def _floors(self, rows: slice, exchange: int, actors: int, tiers: int, final: bool,
                rho: float) -> dict[str, np.ndarray]:
        index = np.arange(rows.start, rows.stop)
        vocab = len(next(iter(self.per_round.values())))
        bounds = np.array([math.ceil(vocab / 2 ** (tiers - 1 - t)) for t in range(tiers)])
        period = 2 ** np.searchsorted(bounds, index, side="right")
        since = exchange % period
        rounds = 1 if exchange == 0 else np.where(since == 0, period, since if final else period)
        return {name: saturation_factor(n[rows] * rounds, actors, rho) for name, n in self.per_round.items()}


def combine_summed(summed: Weights, squares: dict[str, np.ndarray], actors: int, combine: str = "sum",
                   floors: dict[str, np.ndarray] | None = None) -> Weights:
    """The combined delta from the sum of the K deltas and, per row, the sum of their squared norms
    (what a collective's allreduce gives: `collective.take_packed`). Scales `summed` in place (see COMBINES).

    >>> combine_summed({"v": np.array([[2.0, 0.0]], np.float32)}, {"v": np.array([2.0])}, 2, "adaptive")["v"].tolist()
    [[1.0, 0.0]]
    """
    for name, total in summed.items():
        # Each row's |sum|^2 serves twice: the adaptive factor's denominator, and the finiteness check (a row
        # with a NaN or an infinity has a non-finite norm), one pass instead of a pass per purpose.
        both = np.einsum("ij,ij->i", total, total)  # float32: 4x faster than accumulating in float64, ample for a ratio
        if not np.isfinite(both).all():
            raise FloatingPointError(f"the summed '{name}' deltas are not finite: lower alpha or --sync-words")
        if combine in ("adaptive", "saturation") and actors > 1:
            factor = np.clip(squares[name] / np.maximum(both, 1e-30), 1.0 / actors, 1.0)
            if combine == "saturation" and floors is not None and name in floors:
                factor = np.maximum(factor, floors[name])  # shrunk only as far as the row's updates allow
            total *= factor.astype(np.float32, copy=False)[:, None]
    return summed


class DeltaBook:
    """An actor's side of the exchange, kept like an account book: its changes since the last exchange, and
    the others' changes. (Named so beside the MLflow `tracking` of a run: one name, one idea.)

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
