"""Vectors planted for the analogy questions of `questions-words.txt`, and the same vectors in gensim.

The analogy vectors are built so that about half of the questions are answered right: every
word of `questions-words.txt` gets a vector, each section's second words are their first word
plus the section's offset plus noise, and lower-case variants of some words sit further down
the vocabulary (case-insensitive matching must take the most frequent variant, as gensim does).
"""

import numpy as np
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

ANALOGIES = datapath("questions-words.txt")


def analogy_vectors(dim=48, noise=0.55, fillers=400, seed=0):
    """(words, vectors): the analogy file's words with planted offsets, case variants and filler words."""
    rng = np.random.default_rng(seed)
    vectors: dict[str, np.ndarray] = {}
    offset = None
    for line in open(ANALOGIES, encoding="utf-8"):
        if line.startswith(": "):
            offset = rng.standard_normal(dim)
            continue
        a, b, c, d = line.split()
        for x, y in ((a, b), (c, d)):
            vectors.setdefault(x, rng.standard_normal(dim))
            vectors.setdefault(y, vectors[x] + offset + noise * rng.standard_normal(dim))
    words = list(vectors)
    rng.shuffle(words)
    # case variants near their word: often the best candidate, which gensim's rule must skip
    for w in words[:150]:
        if w.lower() != w:
            vectors[w.lower()] = vectors[w] + 0.3 * rng.standard_normal(dim)
    for w in words[150:200]:
        vectors[w.upper()] = rng.standard_normal(dim)
    words = list(vectors) + [f"filler{i}" for i in range(fillers)]
    matrix = np.stack([vectors.get(w, rng.standard_normal(dim)) for w in words]).astype(np.float32)
    return words, matrix


def gensim_kv(words, vectors):
    kv = KeyedVectors(vector_size=vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv
