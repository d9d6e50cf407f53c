"""Phrases: adjacent words joined into one token (`new_york`), found and applied as gensim 4's `Phrases`.

Learning is a counting pass over the corpus in the same Ray tasks and merge tree as the vocabulary
(`vocab.count_and_merge`), with `tally` in place of a plain word count: each task counts, per
sentence, every word that is not a connector word and every candidate (two words, with the
connector words between them), into one table keyed by the joined string, exactly as gensim's
`Phrases._learn_vocab` does. The driver scores the merged table with gensim's own scorers
(`original_scorer`, `npmi_scorer`) and gensim's `export_phrases` rule (`score_phrases`): a
candidate whose score is above the threshold is a phrase. A second pass (`phrase_passes: 2`)
counts again over the text phrased by the first, so a phrase can join a phrase and a word
(`new_york_times`), as word2phrase's second run and `Phrases(bigram[sentences])` do.

Applying is `Phrasing.apply`, gensim's `FrozenPhrases.analyze_sentence` with one set of phrases
per pass, applied in order. `ReadOptions.phrases` carries it, so every reader of the corpus (the
final vocabulary count, the spooling for training, `to_indices`, `w2v.phrase`) joins the same way.

Bounded counting: with `max_vocab_size` the phrase table (words and candidates together, as gensim
keeps them) is pruned by gensim's rule in each task and in each merge task (`vocab.Pruner`). One
task alone gives exactly gensim's table; with several, a candidate pruned in one shard loses those
occurrences, so rare candidates can score lower (or, through a smaller table size in the default
score, higher) than in one gensim process. Without `max_vocab_size` the phrases are exactly gensim's.

This module does not read files itself, train or write the artifact (`export` writes what
`tsv_bytes` and `frozen_phrases` give).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Mapping, MutableMapping, Sequence

logger = logging.getLogger(__name__)

DELIMITER = "_"  # gensim's default: new + york -> new_york
SCORINGS = ("default", "npmi")  # gensim's names: default = Mikolov et al.'s formula, npmi = normalized PMI
PHRASES_TSV = "phrases.tsv"  # the artifact's phrase table
TSV_HEADER = "phrase\tcount\tscore\tpass\n"
FROZEN_PICKLE = "phrases-{}.pkl"  # gensim FrozenPhrases of pass N, only with --phrases-pickle (a pickle)


def connector_words(enabled: bool) -> frozenset[str]:
    """gensim 4's ENGLISH_CONNECTOR_WORDS (`the`, `of`, ...) when enabled, else none.

    >>> sorted(connector_words(True))[:4], connector_words(False)
    (['a', 'an', 'and', 'at'], frozenset())
    """
    if not enabled:
        return frozenset()
    from gensim.models.phrases import ENGLISH_CONNECTOR_WORDS

    return frozenset(ENGLISH_CONNECTOR_WORDS)


def tally(table: MutableMapping[str, int], sentence: Sequence[str], connectors: frozenset[str] = frozenset()) -> None:
    """Count one sentence's words and phrase candidates into `table` (gensim's `_learn_vocab` loop).

    Connector words are not counted alone; they only ever sit inside a candidate.

    >>> t = {}; tally(t, ["bank", "of", "america", "rose"], frozenset({"of"})); t
    {'bank': 1, 'america': 1, 'bank_of_america': 1, 'rose': 1, 'america_rose': 1}
    """
    start: str | None = None
    between: list[str] = []
    for word in sentence:
        if word not in connectors:
            table[word] = table.get(word, 0) + 1
            if start is not None:
                joined = DELIMITER.join([start, *between, word]) if between else start + DELIMITER + word
                table[joined] = table.get(joined, 0) + 1
            start, between = word, []
        elif start is not None:
            between.append(word)


def score_phrases(table: Mapping[str, int], corpus_words: int, min_count: int, threshold: float,
                  scoring: str) -> dict[str, tuple[int, float]]:
    """phrase -> (count, score) of every candidate scoring above `threshold`: gensim's `export_phrases`.

    A candidate's parts are its string split on the delimiter (so, as in gensim, a second pass's
    `new_york_times` is scored as `new` ... `times`); `len_vocab` is the whole table's size.

    >>> table = {"new": 3, "york": 3, "new_york": 3, "the": 9, "the_new": 1}
    >>> score_phrases(table, 20, min_count=1, threshold=1.0, scoring="default")
    {'new_york': (3, 1.1111111111111112)}
    """
    from gensim.models.phrases import npmi_scorer, original_scorer

    scorer = original_scorer if scoring == "default" else npmi_scorer
    size = len(table)
    found: dict[str, tuple[int, float]] = {}
    for token, count in table.items():
        parts = token.split(DELIMITER)
        if len(parts) < 2:
            continue
        a, b = table.get(parts[0], 0), table.get(parts[-1], 0)
        if a <= 0 or b <= 0 or count <= 0:
            continue
        score = scorer(worda_count=a, wordb_count=b, bigram_count=count, len_vocab=size, min_count=min_count,
                       corpus_word_count=corpus_words)
        if score > threshold:
            found[token] = (count, score)
    return found


@dataclass(frozen=True)
class Phrasing:
    """The phrases of every pass and how to apply them: what a reader of the corpus needs."""

    layers: tuple[Mapping[str, tuple[int, float]], ...]  # pass -> phrase -> (count, score), applied in order
    min_count: int = 5  # gensim's min_count of the scoring
    threshold: float = 10.0  # a candidate is a phrase when its score is above this
    scoring: str = "default"  # default | npmi
    connectors: bool = False  # gensim's ENGLISH_CONNECTOR_WORDS may sit inside a phrase
    passes: tuple[dict[str, Any], ...] = ()  # per pass: what its counting saw (for the manifest)
    connector_set: frozenset[str] = field(init=False, compare=False, repr=False)  # connector_words(connectors)

    def __post_init__(self) -> None:
        object.__setattr__(self, "connector_set", connector_words(self.connectors))

    def apply(self, sentence: Sequence[str]) -> list[str]:
        """The sentence with each pass's phrases joined, pass by pass (gensim's `FrozenPhrases[...]`).

        >>> Phrasing(({"new_york": (5, 20.0)},)).apply(["in", "new", "york", "city"])
        ['in', 'new_york', 'city']
        """
        tokens = list(sentence)
        for layer in self.layers:
            tokens = join(tokens, layer, self.connector_set)
        return tokens

    def settings(self) -> dict[str, Any]:
        """The manifest's `phrases` block: the settings and what each pass found."""
        return {"file": PHRASES_TSV, "delimiter": DELIMITER, "min_count": self.min_count,
                "threshold": self.threshold, "scoring": self.scoring, "connector_words": self.connectors,
                "phrases": sum(len(layer) for layer in self.layers), "passes": list(self.passes)}

    def rows(self) -> list[tuple[str, int, float, int]]:
        """(phrase, count, score, pass) of every phrase: by pass, then count descending, then phrase."""
        return [(p, c, s, n) for n, layer in enumerate(self.layers, 1)
                for p, (c, s) in sorted(layer.items(), key=lambda item: (-item[1][0], item[0]))]


def join(sentence: Sequence[str], phrases: Mapping[str, Any], connectors: frozenset[str]) -> list[str]:
    """One pass of gensim's `analyze_sentence`: join each candidate found in `phrases`, left to right.

    >>> join(["bank", "of", "america", "of", "x"], {"bank_of_america": 1}, frozenset({"of"}))
    ['bank_of_america', 'of', 'x']
    """
    out: list[str] = []
    start: str | None = None
    between: list[str] = []
    for word in sentence:
        if word in connectors:
            if start is None:
                out.append(word)
            else:
                between.append(word)
            continue
        if start is not None:
            joined = DELIMITER.join([start, *between, word]) if between else start + DELIMITER + word
            if joined in phrases:
                out.append(joined)
                start, between = None, []
                continue
            out.append(start)
            out.extend(between)
        start, between = word, []
    if start is not None:
        out.append(start)
        out.extend(between)
    return out


def learn(shards: Sequence[Any], options: Any, passes: int, min_count: int, threshold: float, scoring: str,
          connectors: bool, max_vocab_size: int | None = None, count: Any = None) -> Phrasing:
    """Count and score `passes` times over the shards (each pass over the text the previous ones phrased).

    Runs on Ray (`vocab.count_and_merge`): one counting task per shard (small shards batched), a tree of merge tasks, the
    scoring on the driver. `options` is the corpus's `ReadOptions` without phrases. `count` replaces
    `vocab.count_and_merge` (same arguments and result: the tests count in one process).
    """
    from .vocab import count_and_merge

    count = count or count_and_merge
    phrasing = Phrasing((), min_count, threshold, scoring, connectors)
    for n in range(1, passes + 1):
        merged, counted, stats = count(shards, replace(options, phrases=phrasing if n > 1 else None),
                                       max_vocab_size, partial(tally, connectors=phrasing.connector_set))
        words = sum(sc.words for sc in counted)
        found = score_phrases(merged, words, min_count, threshold, scoring)
        info = {"pass": n, "corpus_words": words, "table": len(merged),
                "largest_task_table": max((sc.distinct for sc in counted), default=0), "phrases": len(found),
                "max_vocab_size": max_vocab_size, **stats}
        logger.info("phrases pass %d/%d: %d phrase(s) among %d words and candidates of %d tokens; pruned %d "
                    "entries (%d occurrences), bound %s; peak RSS %.0f MB (count), %.0f MB (merge)", n, passes,
                    len(found), len(merged), words, stats["pruned_words"], stats["pruned_tokens"], max_vocab_size,
                    stats.get("count_peak_rss", 0) / 1e6, stats.get("merge_peak_rss", 0) / 1e6)
        del merged
        phrasing = replace(phrasing, layers=(*phrasing.layers, found), passes=(*phrasing.passes, info))
    return phrasing


def tsv_bytes(phrasing: Phrasing) -> bytes:
    """The artifact's `phrases.tsv`: a header, then phrase, count, score (exact: repr), pass.

    >>> tsv_bytes(Phrasing(({"new_york": (5, 20.5)},))).decode()
    'phrase\\tcount\\tscore\\tpass\\nnew_york\\t5\\t20.5\\t1\\n'
    """
    lines = [TSV_HEADER] + [f"{p}\t{c}\t{s!r}\t{n}\n" for p, c, s, n in phrasing.rows()]
    return "".join(lines).encode("utf-8")


def from_tsv(data: bytes, settings: Mapping[str, Any]) -> Phrasing:
    """The Phrasing of an artifact: its `phrases.tsv` and the manifest's `phrases` block.

    >>> p = Phrasing(({"new_york": (5, 20.5)},), threshold=3.0)
    >>> from_tsv(tsv_bytes(p), p.settings()).apply(["new", "york"])
    ['new_york']
    """
    passes = list(settings.get("passes", []))
    layers: list[dict[str, tuple[int, float]]] = [{} for _ in range(max(len(passes), 1))]
    for line in data.decode("utf-8").splitlines()[1:]:
        phrase, count, score, n = line.split("\t")
        while len(layers) < int(n):
            layers.append({})
        layers[int(n) - 1][phrase] = (int(count), float(score))
    return Phrasing(tuple(layers), int(settings.get("min_count", 5)), float(settings.get("threshold", 10.0)),
                    str(settings.get("scoring", "default")), bool(settings.get("connector_words", False)),
                    tuple(passes))


def frozen_phrases(phrasing: Phrasing) -> list[Any]:
    """gensim `FrozenPhrases`, one per pass (apply them in order: `f2[f1[sentence]]`), from our table."""
    from gensim.models.phrases import FrozenPhrases, npmi_scorer, original_scorer

    class _Source:  # what FrozenPhrases(phrases_model) reads from a trained gensim Phrases
        def __init__(self, layer):
            self.threshold, self.min_count, self.delimiter = phrasing.threshold, phrasing.min_count, DELIMITER
            self.scoring = original_scorer if phrasing.scoring == "default" else npmi_scorer  # as Phrases keeps it
            self.connector_words = phrasing.connector_set
            self.layer = layer

        def export_phrases(self):
            return {p: s for p, (_, s) in self.layer.items()}

    return [FrozenPhrases(_Source(layer)) for layer in phrasing.layers]


def artifact_files(phrasing: Phrasing, pickle: bool = False) -> dict[str, bytes]:
    """name -> bytes of the phrase files an artifact carries: `phrases.tsv`, and with `pickle`,
    gensim's `FrozenPhrases.save` of every pass (`phrases-N.pkl`: a pickle, for trusted consumers)."""
    import os
    import tempfile

    files = {PHRASES_TSV: tsv_bytes(phrasing)}
    if pickle:
        with tempfile.TemporaryDirectory(prefix="w2v-phrases-") as tmp:
            for n, frozen in enumerate(frozen_phrases(phrasing), 1):
                path = os.path.join(tmp, FROZEN_PICKLE.format(n))
                frozen.save(path)
                with open(path, "rb") as f:
                    files[FROZEN_PICKLE.format(n)] = f.read()
    return files
