"""How K actors' weights become one model: the round schedule and the combine step.

Training runs in rounds. In a round every actor trains on its next `sync_words` words from the
same starting weights (the base), then the driver combines the actors' weights into a new base
that every actor starts the next round from. The combine rule is the delta sum,

    base' = base + sum_k (w_k - base),

i.e. every actor's updates are applied to the shared weights, as if one process had made them.
Averaging instead (Spark MLlib's rule) divides each actor's progress by K and loses most of the
quality; the delta sum keeps it when rounds are short (see the distributed-training issue).

One global linear learning-rate schedule runs from `alpha` to `min_alpha` over all words of all
epochs: each round gets the slice of it that its share of the words covers.

Everything here is pure (numpy only), so it is tested without Ray. `train` owns the actors and
calls these functions; a better synchronization design replaces this module behind the same
three names: `rounds_per_epoch`, `round_alphas`, `DeltaSum`.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

Weights = dict[str, np.ndarray]  # "vectors" (input vectors) and "syn1neg" and/or "syn1" (output)


def rounds_per_epoch(actor_words: Sequence[int], sync_words: int) -> int:
    """Rounds per epoch so no actor trains more than about `sync_words` words between syncs.

    One actor never needs to sync: one round per epoch.

    >>> rounds_per_epoch([100_000], 20_000), rounds_per_epoch([100_000, 50_000], 20_000)
    (1, 5)
    """
    if len(actor_words) <= 1:
        return 1
    return max(1, math.ceil(max(actor_words) / sync_words))


def learning_rate(alpha: float, min_alpha: float, progress: float) -> float:
    """Linear decay over the whole job; progress in [0, 1] is the share of all words trained.

    >>> learning_rate(0.025, 0.0001, 0.0), round(learning_rate(0.025, 0.0001, 1.0), 6)
    (0.025, 0.0001)
    """
    progress = min(max(progress, 0.0), 1.0)
    return alpha - (alpha - min_alpha) * progress


def round_alphas(alpha: float, min_alpha: float, epoch: int, epochs: int, round_index: int,
                 rounds: int) -> tuple[float, float]:
    """The (start, end) learning rate of one round: its slice of the global schedule.

    >>> round_alphas(0.025, 0.0, epoch=1, epochs=2, round_index=0, rounds=2)
    (0.0125, 0.00625)
    """
    start = (epoch + round_index / rounds) / epochs
    end = (epoch + (round_index + 1) / rounds) / epochs
    return learning_rate(alpha, min_alpha, start), learning_rate(alpha, min_alpha, end)


def round_budget(words: int, rounds: int, round_index: int) -> int | None:
    """Words an actor trains in a round; None for the last round (train to the epoch's end).

    >>> [round_budget(10, 3, r) for r in range(3)]
    [4, 4, None]
    """
    return None if round_index == rounds - 1 else math.ceil(words / rounds)


def nbytes(weights: Weights) -> int:
    """Bytes of one copy of the weights, for the exchanged-bytes accounting."""
    return sum(a.nbytes for a in weights.values())


class DeltaSum:
    """The combine step: base' = base + sum_k (w_k - base).

    The driver keeps the base (one copy of the weights). With one actor the combine is that
    actor's weights, bit for bit.
    """

    def __init__(self, base: Weights):
        self.base: Weights = {k: np.array(v, dtype=np.float32, copy=True) for k, v in base.items()}

    def combine(self, actor_weights: Sequence[Weights]) -> Weights:
        """Apply every actor's change since the base; returns (and keeps) the new base."""
        if len(actor_weights) == 1:
            self.base = {k: np.array(v, copy=True) for k, v in actor_weights[0].items()}
            return self.base
        for name, base in self.base.items():
            total = np.zeros_like(base)
            for weights in actor_weights:
                total += weights[name]
            # sum_k (w_k - base) == sum_k w_k - K * base; one pass, no per-actor temporaries
            total -= len(actor_weights) * base
            base += total
            if not np.isfinite(base).all():
                raise FloatingPointError(f"combined '{name}' weights are not finite: lower alpha or sync_words")
        return self.base
