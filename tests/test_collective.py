"""The collective transport: members exchange rounds among themselves with gloo (torch's CPU build), all or
nothing per round; tested first with threads in one process (real gloo groups over loopback, no Ray), then
as a job's transport on a real Ray cluster with a member killed mid-allreduce and one hung (SIGSTOP).

The protocol's arithmetic is checked to float32's precision on the float32 wire (`wire="float32"`); the
default bfloat16 wire has its own test, and the Ray tests run on it."""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time

import numpy as np
import pytest

from w2v import collective, procfs, sync
from w2v.collective import GroupSpec, PeerRounds, StoreHost, ThreadClock, apply_packed, take_packed, torch_missing, unpack

pytestmark = pytest.mark.skipif(torch_missing() is not None, reason="the collective needs torch (w2v[collective])")

ROWS, DIM = 40, 6


class Member:
    """A trainer actor's exchange side, without Ray or gensim: its own weights, trained by adding a seeded
    change per chunk; `train(r)` marks chunk r done."""

    def __init__(self, rank: int, initial: sync.Weights, rounds: int, timeout_rounds: set[int] = frozenset(),
                 combine: str = "adaptive", row_updates: sync.RowUpdates | None = None):
        self.rank = rank
        self.live = sync.copy_weights(initial)
        self.done = threading.Condition()
        self.trained = -1  # the last chunk trained
        self.applied = -1
        self.skip = timeout_rounds  # rounds this member never reaches (it "hangs" before them)
        self.rng = np.random.default_rng(rank)
        self.changes: list[sync.Weights] = []  # its change of every chunk, in order
        self.peers = PeerRounds(lambda: self.live, sync.DeltaBook(self.live), ROWS, rounds, tiers=3,
                                combine=combine, chunk_done=self.chunk_done, applied=self.mark, lock=threading.Lock(),
                                row_updates=row_updates)

    def chunk_done(self, r: int) -> bool:
        if r in self.skip:  # hung: alive (its connections open) but silent, past the group's timeout
            time.sleep(6)
            raise TimeoutError(f"member {self.rank} hung before round {r}")
        change = {name: self.rng.normal(0, 0.01, a.shape).astype(np.float32) for name, a in self.live.items()}
        for name, array in change.items():
            self.live[name] += array
        self.changes.append(change)
        self.trained = r
        return True

    def mark(self, r: int) -> None:
        self.applied = r


def _run(members: list[Member], host: StoreHost, first_round: int = 0) -> None:
    specs = host.next_generation(len(members), first_round)
    threads = [m.peers.start(spec) for m, spec in zip(members, specs)]
    for thread in threads:
        thread.join(timeout=60)


def _initial() -> sync.Weights:
    rng = np.random.default_rng(9)
    return {"vectors": rng.normal(0, 1, (ROWS, DIM)).astype(np.float32),
            "syn1neg": rng.normal(0, 1, (ROWS, DIM)).astype(np.float32)}


def test_a_packed_slice_carries_each_rows_change_and_squared_norm_and_leaves_the_reference_alone():
    reference = {"vectors": np.zeros((3, 3), np.float32), "syn1neg": np.ones((3, 2), np.float32)}
    live = {"vectors": np.arange(9, dtype=np.float32).reshape(3, 3), "syn1neg": np.full((3, 2), 2.0, np.float32)}
    before = sync.copy_weights(reference)
    packed = take_packed(live, reference, slice(1, 3))
    deltas, squares = unpack(packed, {"vectors": 3, "syn1neg": 2})
    assert deltas["vectors"].tolist() == [[3, 4, 5], [6, 7, 8]] and deltas["syn1neg"].tolist() == [[1, 1], [1, 1]]
    assert squares["vectors"].tolist() == [50.0, 149.0] and squares["syn1neg"].tolist() == [2.0, 2.0]
    assert all(np.array_equal(reference[name], before[name]) for name in reference)  # taking moves nothing


def test_applying_a_round_gives_the_reference_the_whole_sum_and_the_live_weights_the_others_part():
    """An actor that trained on after taking keeps that training: live = live + (sum - own)."""
    reference = {"v": np.zeros((2, 2), np.float32)}
    live = {"v": np.ones((2, 2), np.float32)}
    own = take_packed(live, reference, slice(0, 2))
    live["v"] += 0.5  # trained after the take
    total = own.copy()
    unpack(total, {"v": 2})[0]["v"][:] = 3.0  # every member's changes summed: 1 of ours, 2 of the others'
    apply_packed(live, reference, slice(0, 2), own, total)
    assert reference["v"].tolist() == [[3.0, 3.0]] * 2  # the global weights: initial + the sum
    assert live["v"].tolist() == [[3.5, 3.5]] * 2  # the sum plus what it trained since taking


def test_the_rounds_own_cpu_time_is_read_per_thread_from_when_it_is_watched_and_kept_when_it_ends():
    clock = ThreadClock()
    spent = {}

    def busy(seconds: float) -> None:
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass

    def watched():
        busy(0.05)  # before it is watched: not counted
        spent["tid"] = threading.get_native_id()
        clock.watch(spent["tid"])
        busy(0.05)
        spent["cpu"] = clock.read()

    thread = threading.Thread(target=watched)
    thread.start()
    thread.join()  # Python's join returns before the OS thread has quite finished: wait until /proc drops it
    deadline = time.monotonic() + 10
    while spent["tid"] in procfs.thread_ids() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert 0.05 <= spent["cpu"] < 0.09
    ended = clock.read()  # the thread is gone: what it used is kept (with its last instructions after the read)
    assert spent["cpu"] <= ended < spent["cpu"] + 0.02
    time.sleep(0.05)
    assert clock.read() == ended  # and no longer grows


def test_every_member_ends_with_the_same_global_weights_the_combined_deltas_give():
    """Three members, six rounds, the last one moving every row: each member's reference (the global weights)
    is the same, and is the initial weights plus every round's adaptively combined change, as the object
    store's reduce-scatter combined them (`sync.sum_deltas`)."""
    initial, rounds = _initial(), 6
    members = [Member(k, initial, rounds) for k in range(3)]
    _run(members, StoreHost(timeout=30, wire="float32"))
    assert [m.peers.status.state for m in members] == ["done"] * 3, [m.peers.status.error for m in members]
    assert [m.peers.status.committed for m in members] == [rounds - 1] * 3
    references = [m.peers.book.reference for m in members]
    for name in initial:
        assert np.allclose(references[0][name], references[1][name], atol=1e-5)
        assert np.allclose(references[0][name], references[2][name], atol=1e-5)
    # The last round moved every row and nothing trained since: the live weights are the global ones too.
    assert np.allclose(members[0].live["vectors"], references[0]["vectors"], atol=1e-5)
    # With one round only, the combination is exactly sync.sum_deltas of the members' changes.
    one = [Member(k, initial, 1) for k in range(3)]
    _run(one, StoreHost(timeout=30, wire="float32"))
    expected = sync.sum_deltas([m.changes[0] for m in one], "adaptive")
    for name in initial:
        assert np.allclose(one[0].peers.book.reference[name], initial[name] + expected[name], atol=1e-5)
    assert one[0].peers.status.full_rounds == [0]


def test_on_the_bfloat16_wire_every_member_holds_the_same_rounded_sum():
    """The default wire carries bfloat16: the global weights are those of `sync.sum_deltas` to bfloat16's
    rounding (not exactly: the wire did round), and every member's copy is the same to the bit, so nothing
    drifts apart round after round."""
    initial, rounds = _initial(), 4
    members = [Member(k, initial, rounds) for k in range(3)]
    _run(members, StoreHost(timeout=30))  # the default wire
    assert [m.peers.status.state for m in members] == ["done"] * 3, [m.peers.status.error for m in members]
    for name in initial:
        assert all(np.array_equal(members[0].peers.book.reference[name], m.peers.book.reference[name])
                   for m in members[1:])
    one = [Member(k, initial, 1) for k in range(3)]
    _run(one, StoreHost(timeout=30, wire="bfloat16"))
    expected = sync.sum_deltas([m.changes[0] for m in one], "adaptive")
    for name in initial:
        moved = one[0].peers.book.reference[name] - initial[name]
        error = np.abs(moved - expected[name])
        assert error.max() <= 2e-2 * np.abs(expected[name]).max(), error.max()  # a few roundings of 2**-9
        assert error.max() > 1e-7  # rounded: not the float32 sum


def test_the_saturation_combiner_floors_the_allreduced_sum_as_the_object_stores_reduce_does():
    """`saturation` needs nothing more in the allreduce than adaptive: each member computes the floors from
    the word counts and the tier schedule, and the global weights are those of `sync.sum_deltas`."""
    initial = _initial()
    updates = sync.RowUpdates(np.arange(ROWS, 0, -1) * 100, raw_words=ROWS * 2000, sync_words=500, window=5,
                              negative=5, sample=1e-3)
    one = [Member(k, initial, 1, combine="saturation", row_updates=updates) for k in range(3)]
    _run(one, StoreHost(timeout=30, wire="float32"))
    assert [m.peers.status.state for m in one] == ["done"] * 3, [m.peers.status.error for m in one]
    floors = updates.floors(slice(0, ROWS), 0, 3, tiers=3, final=True)
    expected = sync.sum_deltas([m.changes[0] for m in one], "saturation", floors)
    adaptive = sync.sum_deltas([m.changes[0] for m in one], "adaptive")
    for name in initial:
        assert np.allclose(one[0].peers.book.reference[name], initial[name] + expected[name], atol=1e-5)
        assert not np.allclose(expected[name], adaptive[name], atol=1e-5)  # the floors changed something


def test_a_member_that_never_arrives_breaks_the_round_and_it_is_taken_back_everywhere():
    """Member 2 hangs before round 3; the others' collective fails at the group's timeout with round 3 taken
    but not applied. Resolving without it (no one holds round 3's sum) takes round 3 back: every survivor's
    global weights are those after round 2, and its change of round 3 waits for the next exchange."""
    initial = _initial()
    members = [Member(k, initial, 8, timeout_rounds={3} if k == 2 else set()) for k in range(3)]
    _run(members, StoreHost(timeout=3, wire="float32"))
    survivors = members[:2]
    assert [m.peers.status.state for m in survivors] == ["broken", "broken"]
    assert [m.peers.status.committed for m in survivors] == [2, 2]
    assert [m.peers.status.pending for m in survivors] == [3, 3]
    assert "Timeout" in survivors[0].peers.status.error or "timed out" in survivors[0].peers.status.error.lower(), \
        survivors[0].peers.status.error
    def agree() -> bool:
        return all(np.allclose(survivors[0].peers.book.reference[name], survivors[1].peers.book.reference[name],
                               atol=1e-5) for name in initial)

    assert agree()  # taking moved no reference: both are the global weights after round 2 already
    assert collective.settled_round([m.peers.status for m in survivors]) == 2
    assert [m.peers.resolve(2) for m in survivors] == [2, 2]
    assert all(not m.peers.own and not m.peers.totals for m in survivors)
    assert agree()  # round 3 landed nowhere
    # ...and each survivor's change of round 3 is still live - reference: it travels with the next exchange.
    # (The hottest tier's rows move at every round, so for them that is round 3's change alone.)
    hottest = sync.tier_ranges(ROWS, 1, tiers=3)[0][1]
    for m in survivors:
        kept = m.live["vectors"][:hottest] - m.peers.book.reference["vectors"][:hottest]
        assert np.allclose(kept, m.changes[3]["vectors"][:hottest], atol=1e-6)
    assert [m.peers.status.state for m in survivors] == ["halted", "halted"]


def test_a_member_that_dies_breaks_every_other_member_at_once_not_only_its_ring_neighbours():
    """Member 2 of 4 dies before round 3 (its round loop ends and drops its group, as a killed process's sockets
    close). Its ring neighbours (1 and 3) see it at once; member 0, not next to it, sees them drop their groups
    in turn: every member breaks within seconds, far inside the group's 30 s timeout."""
    initial = _initial()
    members = [Member(k, initial, 50) for k in range(4)]
    original = members[2].chunk_done

    def dies_before_round_3(r: int) -> bool:
        if r == 3:
            raise RuntimeError("member 2 died")
        return original(r)

    members[2].peers.chunk_done = dies_before_round_3
    host = StoreHost(timeout=30, wire="float32")
    began = time.perf_counter()
    threads = [m.peers.start(spec) for m, spec in zip(members, host.next_generation(4, 0))]
    for thread in threads:
        thread.join(timeout=60)
    assert time.perf_counter() - began < 10
    assert [m.peers.status.state for m in members] == ["broken"] * 4
    assert [m.peers.status.committed for m in members] == [2] * 4


def test_resolving_a_round_whose_sum_arrived_applies_it_as_a_commit_would():
    """A member that holds round r's sum (its payload completed, it broke before applying it) applies it when
    the survivors settle on r: its global weights then equal what applying it would have given."""
    initial = _initial()
    done = [Member(k, initial, 2) for k in range(2)]
    _run(done, StoreHost(timeout=30, wire="float32"))
    committed = done[0].peers.book.reference
    again = [Member(k, initial, 2) for k in range(2)]
    for m in again:  # the same changes, stopped after round 1's payload, before its commit
        m.peers.wanted[:] = 0
    host = StoreHost(timeout=30, wire="float32")  # kept: the store lives as long as its host object
    specs = host.next_generation(2, 0)
    original = PeerRounds._apply_round

    def stop_before_the_last_commit(self, r, full, **kwargs):
        if r == 1:
            raise ConnectionResetError("a peer left before the commit")
        return original(self, r, full, **kwargs)

    PeerRounds._apply_round = stop_before_the_last_commit
    try:
        threads = [m.peers.start(spec) for m, spec in zip(again, specs)]
        for thread in threads:
            thread.join(timeout=60)
    finally:
        PeerRounds._apply_round = original
    assert [(m.peers.status.pending, m.peers.status.pending_complete) for m in again] == [(1, True), (1, True)]
    assert collective.settled_round([m.peers.status for m in again]) == 1
    assert again[0].peers.resolve(1) == 1
    for name in initial:
        assert np.allclose(again[0].peers.book.reference[name], committed[name], atol=1e-5)


def test_a_request_reaches_every_member_at_the_same_round():
    """The driver asks one member for a halt with a snapshot: the commit carries it, so every member halts
    after the same (full) round, and the asked member holds the global weights of that round."""
    initial = _initial()
    members = [Member(k, initial, 300) for k in range(3)]
    host = StoreHost(timeout=30, wire="float32")
    threads = [m.peers.start(spec) for m, spec in zip(members, host.next_generation(3, 0))]
    members[1].peers.request(halt=True, snapshot=True)  # while the rounds run
    for thread in threads:
        thread.join(timeout=60)
    assert {m.peers.status.state for m in members} == {"halted"}
    rounds = {m.peers.status.committed for m in members}
    assert len(rounds) == 1  # a commit carried it to all: the next round moved every row, then they halted
    halted = rounds.pop()
    assert 0 < halted < 299 and members[1].peers.status.snapshot_round == halted
    assert all(halted in m.peers.status.full_rounds for m in members)
    round_, snapshot = members[1].peers.take_snapshot()
    assert round_ == halted and np.allclose(snapshot["vectors"], members[0].peers.book.reference["vectors"], atol=1e-5)
    assert members[1].peers.take_snapshot() == (-1, None)  # taken once
    # A new generation drops what was asked before it: no halt nobody asked for in it.
    members[0].peers.request(halt=True, snapshot=True)
    _run(members, StoreHost(timeout=30, wire="float32"), first_round=halted + 1)
    assert {m.peers.status.state for m in members} == {"done"}


class Twice:
    """A group of two members whose changes are equal: every sum is twice this member's slice. `fails_at`:
    the sum (counted from 1) that raises, as a peer's connection reset would."""

    def __init__(self, spec, fails_at: int = 0):
        self.sums = 0
        self.committed: list[int] = []  # the rounds a commit allreduce ran for (the member's pending round then)
        self.fails_at = fails_at
        self.peers = None  # set by `_one_member`

    def sum_(self, array):
        self.sums += 1
        if self.sums == self.fails_at:
            raise RuntimeError("Connection reset by peer")
        array *= 2

    def max_(self, array):
        assert self.peers.status.pending_complete  # after the round's payload, before it is applied
        self.committed.append(self.peers.status.pending)


def _one_member(monkeypatch, rounds: int, fails_at: int = 0, **kwargs):
    """A PeerRounds over a `Twice` group, trained by a known change per chunk; (peers, changes, group, references
    after each applied round)."""
    groups, changes, after = [], [], {}

    def group(spec):
        groups.append(Twice(spec, fails_at))
        groups[-1].peers = peers
        return groups[-1]

    monkeypatch.setattr(collective, "Group", group)
    live = {"v": np.random.default_rng(1).normal(0, 0.1, (32, 4)).astype(np.float32)}  # the same for every call
    rng = np.random.default_rng(0)

    def chunk_done(r):
        change = rng.normal(0, 0.01, live["v"].shape).astype(np.float32)
        live["v"] += change
        changes.append(change)
        return True

    peers = PeerRounds(lambda: live, sync.DeltaBook(live), 32, rounds, 1, "sum", chunk_done,
                       lambda r: after.__setitem__(r, peers.book.reference["v"].copy()), threading.Lock(), **kwargs)
    return peers, live, changes, groups, after


def test_only_a_round_the_driver_asked_for_has_a_commit(monkeypatch):
    """An ordinary round is one allreduce per slice; the driver's wish rides on the round's last slice, and
    the next round, which moves every row, is committed before it is applied (a snapshot or a halt is of a
    round every member holds). The structure before, a commit every round, stays measurable."""
    peers, _, _, groups, _ = _one_member(monkeypatch, 6)
    peers.request(full=True)  # before round 0: it rides on round 0, so round 1 moves every row and is committed
    peers.run(GroupSpec("127.0.0.1", 1, 0, 0, 1, 5.0, 0))
    assert peers.status.state == "done" and groups[0].sums == 6
    assert groups[0].committed == [1, 5]  # the asked round, and the job's last (no round after it settles it)
    assert peers.status.full_rounds == [0, 1, 5]  # the generation's first, the asked one, the job's last
    assert peers.unsettled is None  # the last round's buffers are not held past the end
    every, _, _, groups, _ = _one_member(monkeypatch, 6, commit_every_round=True)
    every.run(GroupSpec("127.0.0.1", 1, 0, 0, 1, 5.0, 0))
    assert every.status.state == "done" and groups[0].committed == [0, 1, 2, 3, 4, 5]


def test_an_ordinary_round_that_did_not_reach_every_survivor_is_taken_back(monkeypatch):
    """This member applied round 3 as its sum arrived; round 4's first sum then fails, so whether every member
    got round 3 is unknown here. When another survivor never got it (`settled_round` says 2), resolving takes
    it back: the global weights are those after round 2 again, and this member's changes of chunks 3 and 4
    are live - reference, for the next exchange."""
    peers, live, changes, _, after = _one_member(monkeypatch, 8, fails_at=5)  # round 4's sum
    peers.run(GroupSpec("127.0.0.1", 1, 0, 0, 1, 5.0, 0))
    assert peers.status.state == "broken" and peers.status.committed == 3 and peers.status.pending == 4
    lacking = collective.RoundState(committed=2, pending=3)  # a survivor whose sum of round 3 never came
    assert collective.settled_round([peers.status, lacking]) == 2
    assert peers.resolve(2) == 2 and peers.status.exchanges == 3 and peers.unsettled is None
    assert np.allclose(peers.book.reference["v"], after[2], atol=1e-6)
    assert np.allclose(live["v"] - peers.book.reference["v"], changes[3] + changes[4], atol=1e-6)
    with pytest.raises(RuntimeError, match="cannot be taken back"):  # round 2 was settled by round 3's sum
        peers._undo()


def test_survivors_that_took_a_round_back_end_with_the_same_global_weights_to_the_bit(monkeypatch):
    """Two members with the same changes: round 3's sum reaches A (which applies it, then breaks in round 4) but
    not B (its round 3 breaks). They settle on round 2; A takes round 3 back, which in float32 is exact only up
    to rounding, then adopts B's global weights: both hold the same bits, and A's own changes are untouched."""
    a, a_live, changes, _, _ = _one_member(monkeypatch, 8, fails_at=5)  # A: round 4's sum fails
    a.run(GroupSpec("127.0.0.1", 1, 0, 0, 1, 5.0, 0))
    b, _, _, _, _ = _one_member(monkeypatch, 8, fails_at=4)  # B: round 3's sum fails
    b.run(GroupSpec("127.0.0.1", 1, 0, 0, 1, 5.0, 0))
    assert (a.status.committed, b.status.committed, b.status.pending, b.status.pending_complete) == (3, 2, 3, False)
    last = collective.settled_round([a.status, b.status])
    assert last == 2 and a.resolve(last) == b.resolve(last) == 2
    own = a_live["v"] - a.book.reference["v"]
    assert not np.array_equal(a.book.reference["v"], b.book.reference["v"])  # (x + s) - s: off by rounding
    assert np.allclose(a.book.reference["v"], b.book.reference["v"], atol=1e-6)
    a.adopt(b.book.reference)
    assert np.array_equal(a.book.reference["v"], b.book.reference["v"])
    assert np.allclose(a_live["v"] - a.book.reference["v"], own, atol=1e-7)
    assert np.allclose(own, changes[3] + changes[4], atol=1e-6)


def test_a_successor_that_joined_and_applied_nothing_counts_as_holding_the_round_before(monkeypatch):
    """A restarted actor's new round loop joins generation g at round 5 with the global weights of round 4; if g
    breaks before its first round lands anywhere, every member is still at round 4 and nothing is taken back."""
    fresh, _, _, _, _ = _one_member(monkeypatch, 8, fails_at=1)
    fresh.start(GroupSpec("127.0.0.1", 1, 3, 0, 1, 5.0, 5)).join()
    assert fresh.status.state == "broken" and fresh.status.committed == 4
    survivor = collective.RoundState(committed=4, pending=5)
    assert collective.settled_round([fresh.status, survivor]) == 4 and fresh.resolve(4) == 4


def test_a_group_generation_joins_at_a_given_round_and_counts_tiers_from_it():
    host = StoreHost(timeout=30, wire="float32")
    spec = host.next_generation(3, first_round=7)
    assert [s.rank for s in spec] == [0, 1, 2] and {s.generation for s in spec} == {1}
    assert {s.first_round for s in spec} == {7}
    assert host.next_generation(2, 9)[0].generation == 2
    assert isinstance(spec[0], GroupSpec)


# ---------------------------------------------------------------------- as a job's transport (Ray)


@pytest.mark.slow
def test_a_job_without_torch_exchanges_through_the_object_store_and_says_so(ray_cluster, planted_corpus, tmp_path,
                                                                             monkeypatch, caplog):
    from w2v import TrainConfig, collective
    from w2v.errors import ConfigError
    from w2v.pipeline import run

    from .test_faults import precision_of

    monkeypatch.setattr(collective, "torch_missing", lambda: "torch is not installed: pip install ...")
    root, _ = planted_corpus
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), actors=2, vector_size=32, epochs=5, seed=3,
                         eval=False, checkpoint_interval=0)
    with caplog.at_level("INFO", logger="w2v.driver"):
        manifest = run(config).manifest.to_json()
    lines = [r.getMessage() for r in caplog.records if "object store" in r.getMessage()]
    assert len(lines) == 1 and "torch is not installed" in lines[0] and "10x the CPU" in lines[0], lines
    assert manifest["training"]["transport"] == "object-store" and manifest["training"]["exchanges"] > 0
    assert precision_of(config.out) >= 0.9
    with pytest.raises(ConfigError, match="^--transport collective: torch is not installed"):
        run(TrainConfig(corpus=(str(root),), out=str(tmp_path / "art2"), actors=2, vector_size=8, epochs=1,
                        eval=False, transport="collective"))


@pytest.mark.slow
def test_the_driver_takes_no_part_in_the_rounds_and_both_transports_give_the_same_quality(
        ray_cluster, planted_corpus, tmp_path):
    """The same job on each transport: the collective's driver spends a fraction of the object store's CPU
    per exchange (it only polls; measured in the benchmark, not asserted here), every member's exchange
    count is the object store's, and both give planted precision >= 0.9."""
    from w2v import TrainConfig
    from w2v.pipeline import run

    from .test_faults import precision_of

    root, _ = planted_corpus
    seen = {}
    for transport in ("collective", "object-store"):
        config = TrainConfig(corpus=(str(root),), out=str(tmp_path / transport), actors=2, vector_size=32, epochs=5,
                             seed=3, eval=False, checkpoint_interval=0, transport=transport)
        training = run(config).manifest.to_json()["training"]
        seen[transport] = training
        assert training["transport"] == transport
        assert training.get("wire") == ("bfloat16" if transport == "collective" else None)  # the default wire
        assert training["driver_cpu_seconds_per_exchange"] is not None
        assert precision_of(config.out) >= 0.9, transport
    assert seen["collective"]["exchanges"] == seen["object-store"]["exchanges"] == 5 * seen["collective"][
        "chunks_per_epoch"]
    assert seen["collective"]["exchange_seconds"] is None  # no driver wall time in any round
    # The collective splits a node's CPU outside gensim: the rounds' own part is a part of it, and the rest is
    # the chunk loop's and background; the object store's rounds run in Ray's threads, so it has no split.
    split = seen["collective"]
    assert 0 < split["round_cpu_seconds_per_exchange"] < split["exchange_cpu_seconds_per_exchange"]
    assert split["loop_cpu_seconds_per_round"] > 0 and split["background_cores"] > 0
    assert seen["object-store"]["round_cpu_seconds_per_exchange"] is None
    print({t: (s["driver_cpu_seconds_per_exchange"], s["exchange_cpu_seconds_per_exchange"]) for t, s in seen.items()})


def test_every_member_derives_the_same_saturation_floors_whatever_its_own_share_of_words(tmp_path):
    """Each member combines the allreduced sum itself, so its floors must not depend on its own shard: they
    come from the global counts, the epoch's words and the chunk count, the same on every member."""
    from w2v import TrainConfig
    from w2v.corpus import ReadOptions, list_shards
    from w2v.trainer import TrainerActor
    from w2v.vocab import Vocabulary, count_shard, merge_counts

    from .corpora import write_planted_corpus

    write_planted_corpus(tmp_path / "corpus", files=2, sentences_per_file=300, compress=("",))
    config = TrainConfig(corpus=(str(tmp_path / "corpus"),), out=str(tmp_path / "art"), actors=2, vector_size=8,
                         min_count=1, eval=False, seed=5, sync_combine="saturation")
    shards = list_shards(config.corpus)
    counted = [count_shard(s, ReadOptions.of(config)) for s in shards]
    vocab = Vocabulary.from_counts(merge_counts(c.counts for c in counted), config.min_count)
    members = [TrainerActor(config, workers=1) for _ in shards]
    for m, shard, c, extra in zip(members, shards, counted, (0, 500)):
        m.spool_dir = tempfile.mkdtemp(dir=tmp_path)
        m.spool(vocab, [shard], 3, c.words + extra)  # the members' own words differ
    first, second = (m.row_updates(2).floors(slice(0, len(vocab)), 4, 2, config.sync_tiers) for m in members)
    assert all(np.array_equal(first[name], second[name]) for name in ("vectors", "syn1neg"))
    for m in members:
        m.close()


@pytest.mark.slow
def test_a_job_combining_by_saturation_learns_the_planted_groups_on_both_transports(ray_cluster, planted_corpus,
                                                                                  tmp_path):
    """`--sync-combine saturation` end to end: every trainer builds its rows' expected updates when it spools,
    the collective's members and the object store's owners floor adaptive with them, and the job says so."""
    from w2v import TrainConfig
    from w2v.pipeline import run

    from .test_faults import precision_of

    root, _ = planted_corpus
    for transport in ("collective", "object-store"):
        config = TrainConfig(corpus=(str(root),), out=str(tmp_path / transport), actors=2, vector_size=32, epochs=5,
                             seed=3, eval=False, checkpoint_interval=0, transport=transport, sync_combine="saturation")
        training = run(config).manifest.training
        assert training.transport == transport and training.sync_combine == "saturation"
        assert precision_of(config.out) >= 0.9, transport


@pytest.mark.slow
def test_a_hung_member_is_found_killed_and_replaced_and_the_job_finishes(ray_cluster, planted_corpus, tmp_path,
                                                                       monkeypatch):
    """SIGSTOP to a trainer mid-training (a stuck node): its status stops coming, the driver kills it after
    STATUS_TIMEOUT_SECONDS (here 3 s; up to JOIN_GRACE_SECONDS, here 10 s, after a generation formed) so that
    Ray restarts it, the survivors' round in flight is resolved,
    and a new generation goes on; the manifest counts one restart whose cause says it hung."""
    import signal

    from w2v import TrainConfig, driver

    from .test_faults import _run_with_a_fault_after_epoch_3, _trainer_pids, precision_of

    monkeypatch.setattr(driver, "STATUS_TIMEOUT_SECONDS", 3.0)
    monkeypatch.setattr(driver, "JOIN_GRACE_SECONDS", 10.0)  # a restarted member's time to answer after joining
    root, _ = planted_corpus
    # 30 epochs: 1.2 s on an idle machine, where the checkpoint at epoch 3 comes at the driver's first look (0.5 s);
    # once stopped, the member holds the job up until it is replaced, however few epochs are left.
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), actors=2, vector_size=32, epochs=30, seed=3,
                         eval=False, checkpoint_interval=0.2, exchange_timeout=20, transport="collective")
    def stop_a_trainer(noted):
        pids = _trainer_pids(ray_cluster)
        noted["pid"] = pids[0]
        noted["at"] = time.monotonic()
        os.kill(pids[0], signal.SIGSTOP)

    manifest, noted = _run_with_a_fault_after_epoch_3(config, stop_a_trainer)
    faults = manifest["training"]["faults"]
    assert faults["restarts"] + faults["replacements"] == 1, faults
    event = faults["events"][0]
    assert re.search(r"did not answer within \d+ s \(hung\)", event["cause"]), event
    assert event["stage"] == "training" and event["start_digest"] == event["sent_digest"]
    assert noted["pid"] not in {a["pid"] for a in manifest["training"]["actors"]}
    print(f"\nhung trainer {noted['pid']}: replaced in {event['seconds']} s, restart round {event['restart_round']}, "
          f"{event['words_retrained']} words retrained, about {event['words_lost']} lost")
    assert precision_of(config.out) >= 0.9


def test_forming_the_group_is_not_counted_as_the_rounds_cpu(monkeypatch):
    """Joining (torch's import, ~1 s of CPU where nothing imported it before, and the rendezvous) is a cost of
    the generation: counted per round it added ~4 ms to each of 256 rounds (jobs.round_cost, before)."""

    class SlowToForm:
        def __init__(self, spec):
            end = time.thread_time() + 0.3
            while time.thread_time() < end:
                pass

        def sum_(self, array):
            pass

        def max_(self, array):
            pass

    monkeypatch.setattr(collective, "Group", SlowToForm)
    live = {"v": np.ones((64, 4), np.float32)}
    peers = PeerRounds(lambda: live, sync.DeltaBook(live), 64, 4, 2, "saturation", lambda r: True, lambda r: None,
                       threading.Lock())
    peers.run(GroupSpec("127.0.0.1", 1, 0, 0, 1, 5.0, 0))
    state = peers.report()
    assert state.state == "done" and state.exchanges == 4
    assert state.cpu_seconds < 0.1, state.cpu_seconds


def test_every_generations_rounds_are_clocked_across_a_fault(monkeypatch):
    """A fault ends a generation's thread; the next generation's new thread is clocked from its own join."""
    calls = {"sum": 0}

    class BreaksAtTheThirdRound:
        def __init__(self, spec):
            self.spec = spec

        def sum_(self, array):
            calls["sum"] += 1
            if self.spec.generation == 0 and calls["sum"] == 3:
                raise RuntimeError("Connection reset by peer")

        def max_(self, array):
            pass

    def chunk_done(r):  # 20 ms of the round thread's CPU per round, as a round's own work would be
        end = time.thread_time() + 0.02
        while time.thread_time() < end:
            pass
        return True

    monkeypatch.setattr(collective, "Group", BreaksAtTheThirdRound)
    live = {"v": np.ones((64, 4), np.float32)}
    peers = PeerRounds(lambda: live, sync.DeltaBook(live), 64, 4, 1, "sum", chunk_done, lambda r: None,
                       threading.Lock())
    peers.start(GroupSpec("127.0.0.1", 1, 0, 0, 1, 5.0, 0)).join()
    assert peers.status.state == "broken" and peers.resolve(1) == 1
    peers.start(GroupSpec("127.0.0.1", 1, 1, 0, 1, 5.0, 2)).join()
    state = peers.report()
    assert state.state == "done" and state.committed == 3
    assert 0.09 <= state.cpu_seconds < 0.2, state.cpu_seconds  # rounds 0, 1, 2 (broken), 2 and 3 again: 5 x 20 ms


@pytest.mark.slow
def test_the_round_cost_job_measures_each_members_rounds_and_gloos_share_of_them(tmp_path, capsys):
    from jobs import round_cost

    assert round_cost.main(["--actors", "2", "--trials", "1", "--rounds", "70", "--vocab", "640", "--wire", "both",
                            "--json", str(tmp_path / "cost.json")]) == 0
    rows = capsys.readouterr().out.splitlines()[-2:]
    assert rows[0].startswith("| 2 | asked rounds | bfloat16 | ") and rows[1].startswith("| 2 | asked rounds | float32 | ")
    results = json.loads((tmp_path / "cost.json").read_text())["results"]
    assert sorted(results) == ["2-bfloat16", "2-float32"]
    members = results["2-bfloat16"][0] + results["2-float32"][0]
    assert [m["rank"] for m in members] == [0, 1, 0, 1] and all(m["exchanges"] == 70 - 1 - 64 for m in members)
    for m in members:  # gloo's ring threads are part of the round's own CPU, and the process holds both (two
        # clocks, per thread from the scheduler and per process, read one after the other: 0.1 ms of slack)
        assert 0 < m["gloo_cpu_ms"] < m["round_cpu_ms"] <= m["process_cpu_ms"] + 0.1, m
