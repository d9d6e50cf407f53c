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
- One global learning-rate schedule: each actor decays linearly from `alpha` to `min_alpha` over
  its own words of all epochs; shards are balanced by bytes, so every actor is at the same point of
  the global schedule at the same share of the job.

Everything here is pure numpy, tested without Ray: `DeltaTracker` is the actor's side,
`row_slices` and `sum_deltas` the driver's. `train` owns the actors and the loop.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

Weights = dict[str, np.ndarray]  # "vectors" (input vectors) and "syn1neg" and/or "syn1" (output)

MAX_SLICE_BYTES = 32 * 2**20  # one exchange message per actor holds at most this much


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
        self.reference: Weights = {k: np.array(v, copy=True) for k, v in weights.items()}
        self.taken: dict[int, Weights] = {}  # slice start -> own delta handed over, not yet applied

    def take(self, weights: Weights, rows: slice) -> Weights:
        """The local change of these rows since the last exchange (the live weights keep training)."""
        delta = {}
        for name, live in weights.items():
            snapshot = np.array(live[rows], copy=True)
            delta[name] = snapshot - self.reference[name][rows]
            self.reference[name][rows] = snapshot
        self.taken[rows.start] = delta
        return delta

    def apply(self, weights: Weights, rows: slice, total: Weights) -> None:
        """Add everyone else's change of these rows: `total` minus what this actor handed over."""
        own = self.taken.pop(rows.start)
        for name, live in weights.items():
            others = total[name] - own[name]
            live[rows] += others
            self.reference[name][rows] += others
