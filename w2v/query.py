"""Ad-hoc questions to a loaded artifact, answered by gensim's `KeyedVectors`: no TensorFlow.

The `w2v` query commands (`neighbors`, `similarity`, `analogy`, `doesnt-match`) call these on
`export.load(uri)`; they need the core install only. Every answer is gensim's own (cosine on
l2-normalized rows, the query words excluded), which is what the TensorFlow evaluation computes
too (`evaluation.metrics`, `evaluation.analogies`; the tests check both agree). This module answers; it does not
print: the CLI prints the answers and `Lookup.notes`.

Query words first go through `lookup`: a word the vocabulary lacks, but which the artifact's own
tokenization turns into a word it has (`Paris` on a lowercased artifact, `War,` on a `--tokenizer
simple` one), is looked up as that word, with a note saying so; any other unknown word is an
EvaluationError naming it, with the reason when the tokenization explains it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from .evaluation.analogies import ANALOGY_METHODS  # the evaluation's methods (that module imports TensorFlow only when it solves)
from .corpus import ReadOptions, tokenize
from .display import printable
from .errors import EvaluationError


@dataclass
class Lookup:
    """Query words as the vocabulary knows them."""

    keys: list[str]  # one per query word, in order: the word itself or what the tokenization made of it
    notes: list[str] = field(default_factory=list)  # one line per word looked up as another


def _how_trained(options: ReadOptions) -> str:
    """Why a typed word and a vocabulary word differ, in the flags a user trained with."""
    if options.tokenizer == "simple":
        return "trained with --tokenizer simple (lowercase words of letters only" + (", accents stripped)"
                                                                                   if options.deaccent else ")")
    return "trained with --lowercase"


def _as_trained(word: str, options: ReadOptions | None) -> str | None:
    """The one token the artifact's tokenization makes of `word`, when it differs from it; else None.

    >>> _as_trained("Paris", ReadOptions(lowercase=True)), _as_trained("paris", ReadOptions(lowercase=True))
    ('paris', None)
    >>> _as_trained("War,", ReadOptions(tokenizer="simple")), _as_trained("New York", ReadOptions(lowercase=True))
    ('war', None)
    """
    if options is None or not (options.lowercase or options.tokenizer == "simple"):
        return None
    tokens = tokenize(word.lower() if options.lowercase else word, options)
    return tokens[0] if len(tokens) == 1 and tokens[0] != word else None


def lookup(kv: Any, words: Sequence[str], where: str) -> Lookup:
    """The vocabulary keys of query words, or an EvaluationError naming every unknown one, quoted ('' for an empty one).

    `kv.w2v_read_options` (attached by `w2v.load`) is the artifact's tokenization; without it
    (KeyedVectors from elsewhere) words are looked up as typed.
    """
    options = getattr(kv, "w2v_read_options", None)
    found = Lookup(keys=[])
    missing: list[str] = []
    for word in words:
        if word in kv.key_to_index:
            found.keys.append(word)
            continue
        token = _as_trained(word, options)
        if token is not None and token in kv.key_to_index:
            found.keys.append(token)
            found.notes.append(f"{printable(word)!r} looked up as {printable(token)!r}: {where} was "
                               f"{_how_trained(options)}")
        elif token is not None:
            missing.append(f"{printable(word)!r} (looked up as {printable(token)!r}: {where} was "
                           f"{_how_trained(options)})")
        elif word.lower() != word and word.lower() in kv.key_to_index:
            missing.append(f"{printable(word)!r} ({printable(word.lower())!r} is: the vocabulary is case-sensitive)")
        else:
            missing.append(repr(printable(word)))
    if missing:
        raise EvaluationError(f"not in the vocabulary of {where}: {', '.join(missing)}")
    return found


def neighbors(kv: Any, key: str, k: int = 8) -> list[tuple[str, float]]:
    """The k nearest words of `key` by cosine, itself excluded: [(word, cosine), ...], nearest first."""
    if k < 1:
        raise EvaluationError(f"-k {k}: ask for at least one neighbour")
    return kv.most_similar(key, topn=min(k, len(kv.index_to_key) - 1))


def similarity(kv: Any, a: str, b: str) -> float:
    """Cosine similarity of two words."""
    return float(kv.similarity(a, b))


def analogy(kv: Any, a: str, b: str, c: str, k: int = 5, method: str = "3CosAdd") -> list[tuple[str, float]]:
    """`a is to b as c is to ?`: the k best words (a, b, c excluded) with their scores, over the whole vocabulary.

    3CosAdd is gensim's `most_similar(positive=[b, c], negative=[a])`, 3CosMul its `most_similar_cosmul`
    (Levy and Goldberg's, cosines shifted to [0, 1]).
    """
    if method not in ANALOGY_METHODS:
        raise EvaluationError(f"analogy method {method!r}: must be one of {ANALOGY_METHODS}")
    solve = kv.most_similar if method == "3CosAdd" else kv.most_similar_cosmul
    return solve(positive=[b, c], negative=[a], topn=min(k, len(kv.index_to_key) - 3))


def doesnt_match(kv: Any, keys: Sequence[str]) -> str:
    """The word farthest (cosine) from the normalized mean of the words' unit vectors: gensim's `doesnt_match`."""
    if len(keys) < 2:
        raise EvaluationError(f"doesnt-match needs at least 2 words, got {len(keys)}")
    return kv.doesnt_match(list(keys))
