"""Evaluation sets: analogy questions and word-pair judgements, read the way gensim reads them.

Pure Python, no TensorFlow: this module turns a file into row indices of an artifact, so that
`metrics` only does arithmetic. Matching follows gensim's `evaluate_word_analogies` and
`evaluate_word_pairs` exactly, so our scores can be checked against gensim's on the same vectors:

- only the `restrict_vocab` most frequent words count (default 300,000, gensim 4's default);
- words match case-insensitively, a word standing for its most frequent case variant;
- a question or pair with a word outside that vocabulary is skipped and counted as OOV.

Files are read through `storage.open`, so they may live wherever the artifact does. A bare file
name that does not exist locally (`questions-words.txt`, `wordsim353.tsv`, `simlex999.txt`) is
taken from gensim's bundled test data.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .. import storage
from ..errors import EvaluationError, StorageError

logger = logging.getLogger(__name__)

DEFAULT_ANALOGIES = "questions-words.txt"
DEFAULT_PAIRS = ("wordsim353.tsv", "simlex999.txt")
DEFAULT_RESTRICT_VOCAB = 300_000  # gensim 4's default for both evaluations


def resolve(uri: str) -> str:
    """A URI as given, or gensim's bundled copy for a bare name that is not a local file.

    >>> resolve("questions-words.txt").endswith("test_data/questions-words.txt")
    True
    """
    path = storage.local_path(uri)
    if path is not None and not os.path.exists(path) and os.sep not in path:
        from gensim.test.utils import datapath

        if os.path.exists(datapath(uri)):
            return datapath(uri)
    return uri


def _lines(uri: str) -> list[str]:
    path = resolve(uri)
    try:
        with storage.open(path, "rb") as f:
            return f.read().decode("utf-8").splitlines()
    except StorageError as exc:
        raise EvaluationError(f"evaluation file {exc}") from None
    except UnicodeDecodeError as exc:
        raise EvaluationError(f"evaluation file {path}: not UTF-8 ({exc})") from None


def vocabulary_index(words: Sequence[str], restrict_vocab: int, case_insensitive: bool = True) -> dict[str, int]:
    """Key -> row among the first `restrict_vocab` rows; upper-cased keys map to the most frequent variant.

    >>> vocabulary_index(["the", "The", "cat"], 2)
    {'THE': 0}
    """
    keys = words[:restrict_vocab]
    return {(k.upper() if case_insensitive else k): i for i, k in reversed(list(enumerate(keys)))}


def canonical_rows(words: Sequence[str], index: dict[str, int], restrict_vocab: int,
                   case_insensitive: bool = True) -> np.ndarray:
    """For each of the first rows, the row that stands for its key (itself, or its most frequent case variant).

    >>> canonical_rows(["the", "The", "cat"], {"THE": 0, "CAT": 2}, 3).tolist()
    [0, 0, 2]
    """
    keys = words[:restrict_vocab]
    return np.array([index[k.upper() if case_insensitive else k] for k in keys], dtype=np.int64)


@dataclass
class AnalogySection:
    """One `: section` of an analogy file, as row indices (a, b, c, expected) of the questions in vocabulary."""

    name: str
    questions: list[tuple[int, int, int, int]] = field(default_factory=list)  # rows a, b, c, expected
    oov: int = 0  # questions with a word outside the restricted vocabulary


def read_analogies(uri: str, words: Sequence[str], restrict_vocab: int = DEFAULT_RESTRICT_VOCAB,
                   case_insensitive: bool = True) -> tuple[list[AnalogySection], int]:
    """(sections, invalid lines) of a `questions-words.txt`-style file, looked up in `words`.

    Lines that are not four words are skipped like gensim does (and counted); a question before
    the first `: section` line is an error naming the file and line.
    """
    index = vocabulary_index(words, restrict_vocab, case_insensitive)
    sections: list[AnalogySection] = []
    invalid = 0
    for number, line in enumerate(_lines(uri), start=1):
        if line.startswith(": "):
            sections.append(AnalogySection(line[2:].strip()))
            continue
        if not line.strip():
            continue
        if not sections:
            raise EvaluationError(f"{resolve(uri)} line {number}: question before the first ': section' line")
        parts = line.split()
        if len(parts) != 4:
            invalid += 1
            continue
        keys = [p.upper() if case_insensitive else p for p in parts]
        if all(k in index for k in keys):
            sections[-1].questions.append(tuple(index[k] for k in keys))  # type: ignore[arg-type]
        else:
            sections[-1].oov += 1
    if not sections:
        raise EvaluationError(f"{resolve(uri)}: no ': section' line; not an analogy file")
    return sections, invalid


@dataclass
class WordPairs:
    """Human similarity judgements of word pairs in vocabulary, as rows, and how many were OOV."""

    name: str
    rows: list[tuple[int, int]] = field(default_factory=list)  # rows a, b
    gold: list[float] = field(default_factory=list)  # the human score of each pair
    oov: int = 0  # pairs with a word outside the restricted vocabulary
    invalid: int = 0  # lines that are not `a<TAB>b<TAB>score`


def read_pairs(uri: str, words: Sequence[str], restrict_vocab: int = DEFAULT_RESTRICT_VOCAB,
               case_insensitive: bool = True, delimiter: str = "\t") -> WordPairs:
    """The pairs of a `wordsim353.tsv`-style file (`#` comments, `a<TAB>b<TAB>score`), looked up in `words`."""
    index = vocabulary_index(words, restrict_vocab, case_insensitive)
    pairs = WordPairs(os.path.basename(resolve(uri)))
    for line in _lines(uri):
        if not line or line.startswith("#"):
            continue
        parts = line.split(delimiter)
        try:
            a, b, score = parts
            gold = float(score)
        except ValueError:
            pairs.invalid += 1
            continue
        a, b = (a.upper(), b.upper()) if case_insensitive else (a, b)
        if a in index and b in index:
            pairs.rows.append((index[a], index[b]))
            pairs.gold.append(gold)
        else:
            pairs.oov += 1
    if not pairs.rows and not pairs.oov:
        raise EvaluationError(f"{resolve(uri)}: no `word<TAB>word<TAB>score` line; not a word-pair file")
    return pairs
