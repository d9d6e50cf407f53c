"""Generated corpora for tests: real text shapes with a known answer."""

from __future__ import annotations

import gzip
import random
from collections import Counter
from pathlib import Path

GROUPS = 6
WORDS_PER_GROUP = 10
FILLERS = ("the", "of", "and", "a")


def group_of(word: str) -> int | None:
    """'g3w7' -> 3; None for fillers and rare words."""
    if word.startswith("g") and "w" in word:
        return int(word[1 : word.index("w")])
    return None


def write_planted_corpus(root: Path, files: int = 4, sentences_per_file: int = 2500, seed: int = 7,
                         compress: tuple[str, ...] = ("", ".gz"), groups_by_file: bool = False) -> Counter:
    """Write `files` files (alternating plain / .gz) of planted-group sentences; returns the token counts.

    Each sentence draws 12 words from one group plus two fillers; each file also holds a few
    words seen once (below any sensible min_count). With `groups_by_file`, file f holds only the
    groups g with g % files == f: no single file teaches every group.
    """
    rng = random.Random(seed)
    counts: Counter = Counter()
    root.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        lines = []
        for s in range(sentences_per_file):
            g = rng.choice(range(f, GROUPS, files)) if groups_by_file else rng.randrange(GROUPS)
            tokens = [f"g{g}w{rng.randrange(WORDS_PER_GROUP)}" for _ in range(12)] + rng.sample(FILLERS, 2)
            rng.shuffle(tokens)
            if s % 500 == 0:
                tokens.append(f"rare{f}x{s}")
            lines.append(" ".join(tokens))
            counts.update(tokens)
        text = ("\n".join(lines) + "\n").encode("utf-8")
        suffix = compress[f % len(compress)]
        path = root / f"part-{f:03d}.txt{suffix}"
        path.write_bytes(gzip.compress(text) if suffix == ".gz" else text)
    return counts


def write_grown_corpus(root: Path, new_per_group: int = 3, sentences: int = 3000, seed: int = 11) -> Counter:
    """A corpus B for continuing from a model of `write_planted_corpus` (A): the same groups, and in
    each group `new_per_group` words A never had (`g{g}w10`, `g{g}w11`, ...: `group_of` reads them).

    Each sentence is 12 words of one group, 3 of them new, plus two fillers; one file. Returns the
    token counts.
    """
    rng = random.Random(seed)
    counts: Counter = Counter()
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for _ in range(sentences):
        g = rng.randrange(GROUPS)
        tokens = [f"g{g}w{rng.randrange(WORDS_PER_GROUP)}" for _ in range(9)]
        tokens += [f"g{g}w{WORDS_PER_GROUP + rng.randrange(new_per_group)}" for _ in range(3)]
        tokens += rng.sample(FILLERS, 2)
        rng.shuffle(tokens)
        lines.append(" ".join(tokens))
        counts.update(tokens)
    (root / "part-000.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return counts
