"""The exchange protocol replayed in one process: K model copies, exact staleness, a pluggable combiner.

    python -m jobs.replay --corpus /tmp/combiner-5m/corpus.txt --work /tmp/replay-5m --baselines --seeds 1 2 3
    python -m jobs.replay --corpus /tmp/combiner-5m/corpus.txt --work /tmp/replay-5m --actors 4 8 \
        --combine adaptive adaptive+nesterov --seeds 1 2 3 --out /tmp/replay.jsonl
    python -m jobs.replay --corpus /tmp/combiner-5m/corpus.txt --work /tmp/replay-5m --alpha 0.05 --actors 1 4 8 \
        --combine adaptive+saturation0.01 --seeds 1 2 3 --out /tmp/replay.jsonl   # both sides at another step

Why: a real run (`jobs.benchmark`) puts K simulated nodes on this machine's cores, so a K=8 run is
slow and its staleness depends on how the nodes' turns fall. Here the K actors are K gensim models
in one process, trained chunk by chunk with the project's own pieces: the actor's model and spool
(`TrainerActor.spool`: the global vocabulary, seed and chunk files), its chunk trainer
(`trainer.ChunkTrainer`, gensim's compiled `train_epoch_cbow`), the pacing (`sync.default_sync_words`,
`chunks_per_epoch`, `chunk_alphas`), the tiers (`sync.exchange_slices`), the actor's bookkeeping
(`sync.DeltaBook`) and the collective's sum with each row's |d_k|^2 (what `collective.take_packed` sends),
rounded as the ring rounds it on a bfloat16 wire (`--wire`, `wire_sum`). Only the combining step is swapped
(`COMBINERS`).

The order is the protocol's bounded staleness at its bound (README "Distributed training", 3): round
r is taken once every actor trained chunk r; its exchange runs beside chunk r + 1 and lands when
that chunk ends; chunk r + 2 starts only after it. So an actor trains chunk r + 1 without the
others' chunk r (and r + 1): what a real run sees when its exchange takes as long as a chunk.
`--lag 1` lands round r before chunk r + 1 starts instead (no overlap: README "Combining at K >= 4").

Scoring is `jobs.benchmark`'s, side by side with gensim `corpus_file` (2 workers) of the same seed on
the same lines: analogy ratio, wordsim353 difference, neighbour agreement over gensim's seed floor.
gensim's runs (the reference and the floor, seed + 1000) are kept in `--work` and reused, one pair per
seed, alpha and epoch count: `--alpha` sets both sides' starting learning rate, so a comparison at
another step gives gensim that step too (README "Against gensim at its best learning rate").
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from jobs import benchmark
from w2v import sync, trainer
from w2v.collective import DEFAULT_WIRE, WIRES
from w2v.config import TrainConfig
from w2v.corpus import ReadOptions, assign_shards, list_shards, split_shards
from w2v.trainer import ChunkTrainer, TrainerActor
from w2v.vocab import Vocabulary, count_shard, merge_counts

logger = logging.getLogger("replay")

PARAMS = {"vector_size": 100, "window": 5, "negative": 5, "min_count": 5, "sample": 1e-3, "epochs": 5,
          "alpha": 0.025}  # the benchmark's defaults


# ---------------------------------------------------------------- combiners
# A combiner turns one slice's summed deltas (and each row's sum of |d_k|^2, what the collective's
# allreduce gives every member) into the step applied to the global weights. Every member computes it
# from identical inputs, so state kept across rounds (a momentum) is identical on every member too.

@dataclass
class Combiner:
    """Today's rules (`sync.combine_summed`) per matrix: `rules` maps a matrix name to a rule, else `rule`."""

    actors: int
    rule: str = "adaptive"
    rules: dict[str, str] = field(default_factory=dict)

    def __call__(self, round_: int, rows: slice, summed: sync.Weights, squares: dict[str, np.ndarray],
                 touched: dict[str, np.ndarray] | None = None) -> sync.Weights:
        out = {}
        for name in summed:
            rule = self.rules.get(name, self.rule)
            if rule == "mean":
                out[name] = summed[name] * np.float32(1.0 / self.actors)
            else:
                out[name] = sync.combine_summed({name: summed[name]}, {name: squares.get(name)}, self.actors, rule)[name]
        return out


@dataclass
class TouchMean(Combiner):
    """Sparse model averaging: each row's sum divided by the number of members whose row moved.

    The averaging of sparse allreduces (a row's sum over its contributors, divided by their count), with
    the count as one more allreduced column: each member adds 1 for a row it changed (+1 byte a row and
    matrix as uint8, +4 as float32 beside the 400-byte row of d=100). A row only one member touched keeps
    that member's whole step (as `adaptive`); a row every member touched gets the mean, agreeing or not.
    """

    needs_touched: bool = True

    def __call__(self, round_, rows, summed, squares, touched=None):
        for name, total in summed.items():
            total *= (1.0 / np.maximum(touched[name], 1)).astype(np.float32)[:, None]
        return summed


@dataclass
class Saturation(Combiner):
    """Each row's step from how many updates it can have had since its last exchange (`sync.RowUpdates`).

    Why: summing is exact while a row's K moves add up (the single-process run would have made them one
    after the other); averaging is right once each member's updates have carried the row to the same
    place (saturation). `adaptive` reads agreement as saturation, so it shrinks a row whose K deltas
    agree even when they agree because the row is moving steadily and far from done. Model
    (`sync.saturation_factor`): each update moves a row a share `rho` of the way to its local target.
    n comes from the global vocabulary's counts (every member has them), the pacing and the rounds since
    the row's last exchange: no extra bytes in the allreduce. With `floor_adaptive` (`--sync-combine
    saturation`) the step is max(adaptive, saturation): agreement shrinks a row only as far as its update
    count says it can have saturated; without, the factor alone (README: the relaxation rule tried before).
    """

    rho: float = 0.05
    floor_adaptive: bool = True
    follow_alpha: bool = False  # rho = the round's learning rate (`sync.chunk_alphas`), not a constant
    alphas: Callable[[int], float] | None = None  # round -> its mean learning rate (`make_combiner` sets it)
    updates: dict[str, np.ndarray] = field(default_factory=dict)  # expected updates per member per round
    last: np.ndarray | None = None  # each row's last exchanged round

    def __call__(self, round_, rows, summed, squares, touched=None):
        interval = round_ - self.last[rows] if self.last is not None else np.ones(rows.stop - rows.start)
        rho = self.alphas(round_) if self.follow_alpha else self.rho
        factors = {name: sync.saturation_factor(self.updates[name][rows] * interval, self.actors, rho)
                   for name in summed}
        if self.floor_adaptive:
            both = {name: np.einsum("ij,ij->i", t, t) for name, t in summed.items()}
            for name in summed:  # adaptive's factor, as sync.combine_summed computes it
                adaptive = np.clip(squares[name] / np.maximum(both[name], 1e-30), 1.0 / self.actors, 1.0)
                factors[name] = np.maximum(factors[name], adaptive)
        for name, total in summed.items():
            total *= factors[name].astype(np.float32)[:, None]
        if self.last is not None:
            self.last[rows] = round_
        return summed


@dataclass
class Outer(Combiner):
    """Another combiner's step as a pseudo-gradient with an outer momentum (DiLoCo; SlowMo), per row, at the
    row's own exchanges (a row's momentum moves only when its tier is due).

    m <- beta m + c; the step is lr m (SlowMo), or with `nesterov` lr (c + beta m) (DiLoCo's Nesterov). The
    buffer is one more copy of the matrices, identical on every member (every member computes it from the
    same sums). lr = 1 - beta gives a persistent direction a steady-state gain of 1 (only the timing changes);
    lr = 1 a gain of 1/(1 - beta): a larger step in that direction, which issue 23's rule compares only
    against gensim at its own best step.
    """

    inner: Combiner | None = None  # the rule whose step is the pseudo-gradient
    lr: float = 1.0  # the outer step on the momentum
    beta: float = 0.5  # the momentum's decay per exchange of the row
    nesterov: bool = False  # step lr (c + beta m) instead of lr m
    vocab_rows: int = 0  # rows of every matrix (the buffer's size; `configure` sets it)
    momentum: dict[str, np.ndarray] = field(default_factory=dict)  # per matrix, identical on every member

    def __call__(self, round_, rows, summed, squares, touched=None):
        combined = self.inner(round_, rows, summed, squares, touched)
        for name, c in combined.items():
            if name not in self.momentum:
                self.momentum[name] = np.zeros((self.vocab_rows, c.shape[1]), np.float32)
            m = self.momentum[name][rows]
            m *= np.float32(self.beta)
            m += c
            if self.nesterov:
                c += np.float32(self.beta) * m
                c *= np.float32(self.lr)
            else:
                np.multiply(m, np.float32(self.lr), out=c)
        return combined


def expected_updates(vocab: Vocabulary, params: dict, sync_words: int) -> dict[str, np.ndarray]:
    """Each row's expected updates in one member's round of `sync_words` corpus words, per matrix (CBOW)."""
    return sync.RowUpdates(vocab.counts, vocab.raw_words, sync_words, params["window"], params["negative"],
                           params["sample"]).per_round


def make_combiner(name: str, actors: int, vocab_rows: int, vocab: Vocabulary | None = None,
                  params: dict | None = None, sync_words: int = 0, rounds: int = 0) -> Combiner:
    """The combiners compared (`--combine`): see COMBINERS."""
    combiner = COMBINERS[name](actors)
    configure(combiner, vocab_rows, vocab, params, sync_words, rounds, name)
    return combiner


def configure(combiner: Combiner, vocab_rows: int, vocab: Vocabulary | None, params: dict | None,
              sync_words: int, rounds: int, name: str) -> None:
    """Give a combiner (and the one an `Outer` wraps) what it needs from the job: buffers, counts, rates."""
    if isinstance(combiner, Outer):
        combiner.vocab_rows = vocab_rows
    if isinstance(combiner, Outer):
        configure(combiner.inner, vocab_rows, vocab, params, sync_words, rounds, name)
    if isinstance(combiner, Saturation) and vocab is not None:
        combiner.updates = expected_updates(vocab, params, sync_words)
        combiner.last = np.full(vocab_rows, -1, np.int64)
        if combiner.follow_alpha and rounds <= 0:
            raise ValueError(f"--combine {name}: rho follows the learning rate, which needs the job's rounds")
        min_alpha = TrainConfig.min_alpha  # the job's default, as every replayed actor has it
        combiner.alphas = lambda r: sum(sync.chunk_alphas(params["alpha"], min_alpha, rounds, r)) / 2


COMBINERS: dict[str, Callable[[int], Combiner]] = {
    "adaptive": lambda k: Combiner(k, "adaptive"),  # today's default
    "sum": lambda k: Combiner(k, "sum"),
    "mean": lambda k: Combiner(k, "mean"),
    # Outer Nesterov on the adaptive step with unit steady-state gain (lr = 1 - beta): a persistent direction
    # moves as far as without momentum (no hidden change of alpha); only the timing changes (look-ahead).
    "adaptive+nesterov0.5": lambda k: Outer(k, inner=Combiner(k, "adaptive"), lr=0.5, beta=0.5, nesterov=True),
    # DiLoCo's published outer optimizer (Douillard et al. 2023): Nesterov, lr 0.7, momentum 0.9, on the mean.
    "mean+diloco": lambda k: Outer(k, inner=Combiner(k, "mean"), lr=0.7, beta=0.9, nesterov=True),
    # SlowMo (Wang et al. 2020) with its base step (slow lr 1) and a moderate momentum, on the adaptive step.
    "adaptive+slowmo0.5": lambda k: Outer(k, inner=Combiner(k, "adaptive"), lr=1.0, beta=0.5, nesterov=True),
    # The output layer (every actor moves the same frequent rows as negatives) averaged; the input vectors adaptive.
    "adaptive+syn1neg-mean": lambda k: Combiner(k, "adaptive", {"syn1neg": "mean"}),
    "adaptive+syn1neg-sum": lambda k: Combiner(k, "adaptive", {"syn1neg": "sum"}),
    # Per-row counts: the mean over the members that moved the row (sparse model averaging), +1 column.
    "touch-mean": lambda k: TouchMean(k),
    # Per-row step from each row's expected update count (no extra column), alone or as adaptive's floor.
    "saturation0.02": lambda k: Saturation(k, rho=0.02, floor_adaptive=False),
    "adaptive+saturation0.003": lambda k: Saturation(k, rho=0.003),
    "adaptive+saturation0.01": lambda k: Saturation(k, rho=0.01),
    "adaptive+saturation0.05": lambda k: Saturation(k, rho=0.05),
    "adaptive+saturation0.02": lambda k: Saturation(k, rho=0.02),
    "adaptive+saturation0.005": lambda k: Saturation(k, rho=0.005),
    # rho = the round's learning rate: an update's share of the way to its target scales with the step size
    "adaptive+saturation-alpha": lambda k: Saturation(k, follow_alpha=True),
    # SlowMo's outer momentum on the default combiner: beta 0.5 (gain 2 on a persistent direction), 0.3 (1.43).
    "saturation+slowmo0.5": lambda k: Outer(k, inner=Saturation(k, rho=0.01), lr=1.0, beta=0.5),
    "saturation+slowmo0.3": lambda k: Outer(k, inner=Saturation(k, rho=0.01), lr=1.0, beta=0.3),
}
# Not a combiner: "hot rows twice a chunk" is the adaptive rule with half the sync words and one more
# tier (`--hot-twice`): the hottest V/128 rows are exchanged twice per chunk, every other row as often as before.


# ---------------------------------------------------------------- the corpus and the vocabulary

@dataclass(frozen=True)
class Prepared:
    parts: Path  # benchmark.deal_corpus's part files (w2v's shards)
    joined: Path  # the same lines in one file (gensim's)
    epoch_words: int
    vocab: Vocabulary
    shard_words: dict[str, int]  # shard name -> words (the counting pass's, for each actor's chunk bounds)


def prepare(corpus: list[Path], work: Path, min_count: int) -> Prepared:
    """Deal the corpus into part files once (kept in `work`), count it (in this process, no Ray)."""
    work.mkdir(parents=True, exist_ok=True)
    # gensim's file is the dealt parts one after the other (`benchmark.deal_corpus`); a work directory of an
    # earlier version holds the sources' order as joined.txt, and its gensim models, which this name leaves alone.
    parts, joined = work / "parts", work / "joined-dealt.txt"
    if not parts.exists():
        tmp = work / "dealing"
        shutil.rmtree(tmp, ignore_errors=True)  # what a dealing cut short left behind
        tmp.mkdir()
        p, j, _ = benchmark.deal_corpus(corpus, tmp)
        j.rename(joined)
        p.rename(parts)
        tmp.rmdir()
    if not joined.exists():  # a work directory of an earlier version: its parts, joined anew
        benchmark.joined_in_dealt_order(parts, joined.with_suffix(".tmp")).rename(joined)
    counted = [count_shard(s, ReadOptions()) for s in list_shards([str(parts)])]
    vocab = Vocabulary.from_counts(merge_counts(c.counts for c in counted), min_count)
    vocab = Vocabulary(words=vocab.words, counts=vocab.counts, effective_min_count=vocab.effective_min_count,
                       raw_words=sum(c.words for c in counted), raw_distinct=vocab.raw_distinct)
    return Prepared(parts, joined, vocab.raw_words, vocab, {c.uri: c.words for c in counted})


# ---------------------------------------------------------------- the replay

def to_bfloat16(array: np.ndarray) -> np.ndarray:
    """float32 values rounded to bfloat16's 8-bit mantissa (round to nearest, ties to even), kept as float32:
    what torch's conversion gives the collective's wire (`collective.Group.sum_`).

    >>> to_bfloat16(np.array([1.0, 1.00390625, 1.01171875, 3.0e-3], np.float32)).tolist()
    [1.0, 1.0, 1.015625, 0.0030059814453125]
    """
    values = np.ascontiguousarray(array, dtype=np.float32)
    bits = values.view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return np.where(np.isnan(values), np.float32(np.nan), rounded.view(np.float32))  # NaN stays NaN, as in torch


def wire_sum(parts: list[np.ndarray], wire: str) -> np.ndarray:
    """The members' arrays summed as the ring sums them: in float32, or (bfloat16) each member's array rounded
    to bfloat16 and the running sum rounded again after every addition, member by member.

    >>> wire_sum([np.array([1.0], np.float32), np.array([0.00390625], np.float32)], "bfloat16").tolist()
    [1.0]
    """
    if wire == "float32":
        return np.sum(parts, axis=0, dtype=np.float32)
    total = to_bfloat16(parts[0])
    for part in parts[1:]:
        total = to_bfloat16(total + to_bfloat16(part))
    return total


@dataclass
class ReplayResult:
    kv: object  # gensim KeyedVectors of the global weights after the last round
    actors: int
    combine: str
    sync_words: int
    tiers: int
    rounds: int
    stale_share: float
    words: int
    seconds: float


def replay(prep: Prepared, params: dict, actors: int, seed: int, combine: str, work: Path,
           sync_words: int = 0, tiers: int = sync.TIERS, hot_twice: bool = False, wire: str = DEFAULT_WIRE,
           lag: int = 2) -> ReplayResult:
    """Train K actors chunk by chunk in one process, in the protocol's order; return the global weights."""
    from gensim.models import KeyedVectors

    began = time.perf_counter()
    config = TrainConfig(corpus=(str(prep.parts),), out=str(work / "unused"), actors=actors, seed=seed, eval=False,
                         sync_tiers=tiers, **params)
    shards = split_shards(list_shards([str(prep.parts)]), actors)
    plan = assign_shards(shards, actors)
    expected = [sum(prep.shard_words[s.name] for s in p) for p in plan]
    sync_words = sync_words or sync.default_sync_words(sum(expected), actors)
    if hot_twice:  # the hottest tier twice per chunk: half the words per round, one more (narrower) tier
        sync_words, tiers = max(1, sync_words // 2), tiers + 1
    chunks = sync.chunks_per_epoch(sum(expected), actors, sync_words)
    rounds = params["epochs"] * chunks
    members = []
    for k in range(actors):
        member = TrainerActor(config, workers=1)
        member.spool_dir = tempfile.mkdtemp(prefix=f"spool-k{actors}-{k}-", dir=work)  # runs may share `work`
        member.spool(prep.vocab, plan[k], chunks, expected[k])
        members.append(member)
    initial = sync.copy_weights(members[0].weights())  # actor 0's initial weights start everyone
    for m in members[1:]:
        for name, array in m.weights().items():
            np.copyto(array, initial[name])
    books = [sync.DeltaBook(m.weights()) for m in members]
    trainers = [ChunkTrainer(m.model, 1) for m in members]
    vocab_rows = len(prep.vocab)
    combiner = make_combiner(combine, actors, vocab_rows, prep.vocab, params, sync_words, rounds)
    row_bytes = sum(a.shape[1] * 4 for a in initial.values())
    pending: list[tuple[slice, sync.Weights]] = []  # round r - 1's combined steps, applied at the end of chunk r
    words = 0
    try:
        for r in range(rounds):
            start_alpha, end_alpha = sync.chunk_alphas(config.alpha, config.min_alpha, rounds, r)
            for m, t in zip(members, trainers):
                words += t.train(m.spooled.chunks[r % chunks], start_alpha, end_alpha)
            if (r + 1) % chunks == 0:
                logger.info("K=%d %s seed %d: epoch %d of %d trained, %.0f s", actors, combine, seed, (r + 1) // chunks,
                            params["epochs"], time.perf_counter() - began)
            if actors == 1:
                continue
            for rows, total in pending:  # the exchange of round r - 1 lands as chunk r ends
                for m, book in zip(members, books):
                    book.apply(m.weights(), rows, total)
            pending = []
            for rows in sync.exchange_slices(vocab_rows, row_bytes, r, final=r == rounds - 1, tiers=tiers):
                # What the collective's allreduce gives every member: the sum, and each row's sum of |d_k|^2.
                deltas = [book.take(m.weights(), rows) for m, book in zip(members, books)]
                summed = {n: wire_sum([d[n] for d in deltas], wire) for n in deltas[0]}
                squares = {n: wire_sum([np.einsum("ij,ij->i", d[n], d[n]) for d in deltas], wire) for n in deltas[0]}
                touched = None
                if getattr(combiner, "needs_touched", False):  # the count column: members whose row moved
                    touched = {n: np.sum([np.any(d[n] != 0, axis=1) for d in deltas], axis=0) for n in deltas[0]}
                total = combiner(r, rows, summed, squares, touched)
                for name, array in total.items():
                    if not np.isfinite(array).all():
                        raise FloatingPointError(f"round {r}: the combined '{name}' step is not finite")
                pending.append((rows, total))
            if lag == 1:  # blocking: round r lands before chunk r + 1 starts
                for rows, total in pending:
                    for m, book in zip(members, books):
                        book.apply(m.weights(), rows, total)
                pending = []
        for rows, total in pending:  # the last (full) round
            for m, book in zip(members, books):
                book.apply(m.weights(), rows, total)
    finally:
        for t in trainers:
            t.close()
    final = books[0].reference if actors > 1 else members[0].weights()
    kv = KeyedVectors(vector_size=params["vector_size"])
    kv.add_vectors(list(prep.vocab.words), np.array(final["vectors"]))
    for m in members:
        m.close()
    stale = sync.stale_words(sync_words, actors) / max(sum(expected), 1)
    return ReplayResult(kv, actors, combine + (" hot-twice" if hot_twice else ""), sync_words, tiers, rounds, stale,
                        words, time.perf_counter() - began)


# ---------------------------------------------------------------- gensim's side, scoring

def gensim_reference(prep: Prepared, params: dict, seed: int, work: Path, cores: int = 2) -> dict:
    """gensim corpus_file (`cores` workers) of `seed` and of seed + 1000 (the floor), trained once and kept."""
    from gensim.models import KeyedVectors

    found = {}
    # Kept per parameters: a model of another alpha or epoch count is another reference (the defaults add no
    # suffix). "dealt" in the name: models of earlier versions, trained on the sources' order, are not reused.
    suffix = "".join(f"-{key}{params[key]:g}" for key in ("alpha", "epochs") if params[key] != PARAMS[key])
    for tag, s in (("ref", seed), ("floor", seed + 1000)):
        path = work / f"gensim-dealt-seed{s}{suffix}.kv"  # "dealt": trained on the lines in w2v's order
        if not path.exists():
            tmp = work / f"gensim-tmp-{s}"
            tmp.mkdir(exist_ok=True)
            r = benchmark.run_gensim("corpus_file", prep.joined, params, cores, tmp, s)
            r["kv"].save(str(path))
        found[tag] = KeyedVectors.load(str(path))
    cached = work / f"gensim-dealt-seed{seed}{suffix}.json"  # its scores, computed once
    if cached.exists():
        scores = json.loads(cached.read_text())
    else:
        scores = {**benchmark.quality(found["ref"], 30000), "floor": benchmark.agreement(found["ref"], found["floor"])}
        cached.write_text(json.dumps(scores))
    return {**scores, "kv": found["ref"]}


def score(kv, reference: dict | None) -> dict:
    """The run's own scores, and against gensim's of the same seed (`reference`; None: those are None)."""
    s = benchmark.quality(kv, 30000)
    if reference is None:
        return {**s, **dict.fromkeys(("analogy_ratio", "wordsim_diff", "agreement", "agreement_ratio",
                                      "gensim_analogy", "gensim_wordsim353", "floor"))}
    agreed = benchmark.agreement(reference["kv"], kv)
    return {**s, "analogy_ratio": s["analogy"] / reference["analogy"],
            "wordsim_diff": s["wordsim353"] - reference["wordsim353"],
            "agreement": agreed, "agreement_ratio": agreed / reference["floor"],
            "gensim_analogy": reference["analogy"], "gensim_wordsim353": reference["wordsim353"],
            "floor": reference["floor"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", nargs="+", required=True)
    parser.add_argument("--work", required=True, help="keeps the part files and gensim's models between runs")
    parser.add_argument("--actors", type=int, nargs="+", default=[4])
    parser.add_argument("--combine", nargs="+", default=["adaptive"], choices=sorted(COMBINERS))
    parser.add_argument("--hot-twice", action="store_true", help="also run each combiner with the hot tier twice a chunk")
    parser.add_argument("--only-hot-twice", action="store_true", help="only the hot-twice variant")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--sync-words", type=int, default=0, help="0: the default pacing (0.25%% stale)")
    parser.add_argument("--epochs", type=int, default=PARAMS["epochs"])
    parser.add_argument("--alpha", type=float, default=PARAMS["alpha"],
                        help="the starting learning rate of both sides (gensim's models are kept per alpha)")
    parser.add_argument("--tiers", type=int, nargs="+", default=[sync.TIERS],
                        help="frequency tiers (1: every row at every exchange)")
    parser.add_argument("--baselines", action="store_true", help="only train and score gensim for the seeds")
    parser.add_argument("--no-gensim", action="store_true",
                        help="score the runs alone, no gensim reference (what the law's ratio to K=1 needs)")
    parser.add_argument("--wire", nargs="+", default=[DEFAULT_WIRE], choices=WIRES,
                        help=f"how the collective's ring sums, as a job's --wire (default {DEFAULT_WIRE}: each member's "
                             "values and the running sum rounded to bfloat16; the shipped law's points were replayed "
                             "with float32 sums, before the wire)")
    parser.add_argument("--lag", type=int, nargs="+", default=[2], choices=(1, 2),
                        help="2 (the job's overlap): round r lands as chunk r + 1 ends, the most a member can run ahead; "
                             "1: round r lands before chunk r + 1 starts (no overlap)")
    parser.add_argument("--out", help="append one JSON line per run to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("gensim", "w2v", "smart_open"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    params = {**PARAMS, "epochs": args.epochs, "alpha": args.alpha}
    work = Path(args.work)
    prep = prepare([Path(c) for c in args.corpus], work, params["min_count"])
    logger.info("corpus: %s words per epoch, vocabulary %d", f"{prep.epoch_words:,}", len(prep.vocab))
    for seed in args.seeds:
        if args.baselines:
            reference = gensim_reference(prep, params, seed, work)
            logger.info("gensim seed %d: analogy %.4f wordsim353 %.4f floor %.4f", seed, reference["analogy"],
                        reference["wordsim353"], reference["floor"])
            continue
        for k in args.actors:
            for combine in args.combine:
                variants = [True] if args.only_hot_twice else [False, True] if args.hot_twice else [False]
                for hot, tiers, wire, lag in [(h, t, w, g) for h in variants for t in args.tiers for w in args.wire
                                              for g in args.lag]:
                    r = replay(prep, params, k, seed, combine, work, args.sync_words, tiers=tiers, hot_twice=hot,
                               wire=wire, lag=lag)
                    # After the run: another run may have built it. Without it, the scores alone (jobs.law divides
                    # by the K=1 run of the same seed, so no gensim run enters the law).
                    reference = None if args.no_gensim else gensim_reference(prep, params, seed, work)
                    row = {"actors": k, "combine": r.combine, "seed": seed, "alpha": params["alpha"],
                           "epochs": params["epochs"], "sync_words": r.sync_words, "wire": wire, "lag": lag,
                           "tiers": r.tiers, "rounds": r.rounds, "stale_share": r.stale_share, "words": r.words,
                           "seconds": round(r.seconds, 1), "corpus": ",".join(args.corpus), **score(r.kv, reference)}
                    logger.info("result %s", json.dumps(row))
                    if args.out:
                        with open(args.out, "a") as f:
                            f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
