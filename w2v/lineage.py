"""Continue training from an artifact: its training state, the checks, the new job's first weights.

A job with `save_training_state` adds to its artifact what continuing needs beyond `vectors.npy`
and `vocab.tsv` (whose counts are the corpus counts): the output weights of negative sampling,
`syn1neg.npy` (float32 V x D, row i = word i, no pickle), and `dropped_counts.tsv` (word<TAB>count
of every word it counted but left out, below min_count), checksummed in the manifest like every
file, and a `training_state` section naming them. A job with `init_from` reads a parent artifact:

- its vocabulary is the parent's, grown by the new corpus (`vocab.Vocabulary.extended`): every
  parent word keeps its row (so an index into the parent is an index into the child), then the
  new words that pass `min_count` on the merged counts (the parent's, its left-out words
  included, plus the new corpus's: what one job on both corpora would count), count descending,
  ties by word;
- its first weights (`initial_weights`) are what gensim's own `build_vocab(update=True)` gives:
  the parent's trained vectors and output weights on the parent's rows, and the seeded gensim
  initialisation of the grown vocabulary on the new rows (random vectors, zero output weights);
  the driver hands them to every actor as it hands out any job's first weights (`driver`);
- its manifest records the parent (`lineage_section`): URI, manifest sha256, rows inherited.

This module does not count, train or write: `pipeline` calls it before and after those stages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from . import export, storage
from .config import TrainConfig
from .errors import ArtifactError, ConfigError
from .vocab import Vocabulary

logger = logging.getLogger(__name__)

OUTPUT_WEIGHTS = "syn1neg.npy"  # gensim's name for negative sampling's output layer
DROPPED_COUNTS = "dropped_counts.tsv"  # word<TAB>count of the counted words the vocabulary left out
STATE_VERSION = 1

# Parameters a child must share with its parent: the matrices' shape and meaning (vector_size, sg:
# CBOW and skip-gram train different output layers; hs and negative: which layers exist and how
# they are read), and the rule that turns text into the parent's words (lowercase, tokenizer, deaccent).
COMPATIBLE_KEYS = ("vector_size", "sg", "hs", "negative", "lowercase", "tokenizer", "deaccent")


@dataclass(frozen=True)
class Parent:
    """A parent artifact as a child job needs it."""

    uri: str  # where it was read
    manifest_sha256: str  # of its manifest.json: pins every file (lineage)
    words: list[str]  # its rows, in order
    counts: list[int]  # its corpus counts (cumulative over its own parents)
    vectors: np.ndarray  # V x D input vectors
    syn1neg: np.ndarray  # V x D output weights
    dropped: dict[str, int]  # word -> count of the words it counted and left out (below min_count)


def state_section(config: TrainConfig) -> dict[str, Any] | None:
    """The manifest's `training_state` section of an artifact written with `save_training_state`, else None."""
    if not config.save_training_state:
        return None
    return {"version": STATE_VERSION, "output_weights": OUTPUT_WEIGHTS, "dropped_counts": DROPPED_COUNTS,
            "note": "counts in vocab.tsv; continue with: w2v train NEW_CORPUS --init-from THIS --out NEW"}


def state_arrays(config: TrainConfig, syn1neg: np.ndarray | None) -> dict[str, np.ndarray]:
    """name -> matrix of the training state to publish with the artifact (none without save_training_state)."""
    if not config.save_training_state:
        return {}
    if syn1neg is None:
        raise RuntimeError("save_training_state: training returned no output weights (syn1neg)")
    return {OUTPUT_WEIGHTS: syn1neg}


def state_files(config: TrainConfig, dropped: dict[str, int] | None) -> dict[str, bytes]:
    """name -> bytes of the training state's text files (none without save_training_state).

    >>> state_files(TrainConfig(corpus=("c",), out="o", save_training_state=True), {"b": 1, "a": 2})
    {'dropped_counts.tsv': b'a\\t2\\nb\\t1\\n'}
    """
    if not config.save_training_state:
        return {}
    ranked = sorted((dropped or {}).items(), key=lambda wc: (-wc[1], wc[0]))
    return {DROPPED_COUNTS: "".join(f"{w}\t{c}\n" for w, c in ranked).encode("utf-8")}


def check_parent(config: TrainConfig, sha256: str | None = None) -> dict[str, Any]:
    """The parent's manifest, once it is known to hold a training state this job can continue.

    Reads only the manifest (cheap: `pipeline.preflight` calls it before Ray starts). ArtifactError for
    a parent that is not a complete artifact or has no training state, ConfigError naming the first
    parameter the two jobs disagree on. With `sha256`, a manifest with another digest is refused.
    """
    uri = config.init_from
    try:
        manifest = export.read_manifest(uri, sha256)
    except ArtifactError as exc:
        raise ArtifactError(f"--init-from {exc}") from None
    state = manifest.get("training_state")
    if not state or state.get("output_weights") not in manifest.get("files", {}):
        raise ArtifactError(f"--init-from {uri}: the artifact has no training state (its job ran without "
                            f"--save-training-state); retrain it with --save-training-state to continue from it")
    if state.get("version") != STATE_VERSION:
        raise ArtifactError(f"--init-from {uri}: training state version {state.get('version')!r}, this w2v reads "
                            f"version {STATE_VERSION}")
    then = manifest.get("parameters", {})
    for key in COMPATIBLE_KEYS:
        ours, theirs = getattr(config, key), then.get(key, getattr(TrainConfig, key))
        if ours != theirs:
            raise ConfigError(f"{key}={ours!r}, but the parent {uri} was trained with {key}={theirs!r}: a continued "
                              f"job must keep the parent's {key}")
    return manifest


def load_parent(config: TrainConfig) -> Parent:
    """The parent's words, counts and both matrices, every file checked against its manifest's sha256."""
    uri = config.init_from
    sha256 = (config.init_from_sha256 or export.manifest_sha256(uri)).lower()  # every read below is pinned to it
    manifest = check_parent(config, sha256)
    try:
        words, counts, vectors = export.load_arrays(uri, manifest_sha256=sha256)
        syn1neg = export.load_array(uri, manifest["training_state"]["output_weights"], manifest)
        listed = manifest["training_state"].get("dropped_counts")
        dropped = dict(export.read_counts(export.read_file(uri, listed, manifest), storage.join(uri, listed))) \
            if listed else {}
    except ArtifactError as exc:  # a file altered since its manifest was written, or missing
        raise ArtifactError(f"--init-from {exc}") from None
    if syn1neg.shape != vectors.shape:
        raise ArtifactError(f"--init-from {uri}: {OUTPUT_WEIGHTS} is {syn1neg.shape}, vectors.npy {vectors.shape}: "
                            f"they must agree")
    logger.info("continuing from %s (manifest sha256 %s): %d words x %d", uri, sha256[:12], len(words),
                vectors.shape[1])
    return Parent(uri=uri, manifest_sha256=sha256, words=words, counts=counts, vectors=vectors, syn1neg=syn1neg,
                  dropped=dropped)


def initial_weights(seeded: Mapping[str, np.ndarray], parent: Parent) -> dict[str, np.ndarray]:
    """The child's first weights: `seeded` (gensim's initialisation of the grown vocabulary) with the
    parent's trained rows over its first rows. Copies; `seeded` is left as it was.

    >>> p = Parent("p", "", ["a"], [3], np.ones((1, 2), np.float32), np.full((1, 2), 2, np.float32), {})
    >>> w = initial_weights({"vectors": np.zeros((2, 2), np.float32), "syn1neg": np.zeros((2, 2), np.float32)}, p)
    >>> w["vectors"].tolist(), w["syn1neg"].tolist()
    ([[1.0, 1.0], [0.0, 0.0]], [[2.0, 2.0], [0.0, 0.0]])
    """
    inherited = {"vectors": parent.vectors, "syn1neg": parent.syn1neg}
    weights = {}
    for name, array in seeded.items():
        weights[name] = np.array(array, dtype=np.float32, copy=True)
        rows = inherited[name]
        if weights[name].shape[0] < rows.shape[0] or weights[name].shape[1] != rows.shape[1]:
            raise ValueError(f"{name}: the child's {weights[name].shape} cannot hold the parent's {rows.shape}")
        weights[name][: rows.shape[0]] = rows
    return weights


def lineage_section(parent: Parent, vocab: Vocabulary) -> dict[str, Any]:
    """The manifest's `parent` section: where this artifact's first weights came from."""
    return {"uri": parent.uri, "manifest_sha256": parent.manifest_sha256, "inherited_words": vocab.inherited,
            "new_words": len(vocab) - vocab.inherited,
            "order": "rows 0..inherited_words-1 are the parent's rows in its order; new words follow, "
                     "count descending, ties by word"}
