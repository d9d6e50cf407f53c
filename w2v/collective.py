"""The exchange as a collective among the trainer actors: torch's gloo allreduce, the driver out of the round.

Why (README "Scaling model"): through Ray's object store an exchange cost a node 40-65 ms of CPU
and the driver as much again, every round, for ~3 MB of slice: K(K+1) objects per slice, 4K calls
and 2K+1 gets on the driver's one thread. gloo's ring allreduce moves the same bytes between the
actors themselves for 1-3 ms of CPU per member (measured here: 1.2 ms at K=2, 2.2-2.6 ms at K=4 for
3.3 MB), and the driver takes no part in it.

How a round goes, on every actor at once (`PeerRounds`, one thread per actor beside its training
thread). The tier schedule is a function of the round number, so no one needs to be told which
rows are due:

1. wait until this actor has trained chunk r;
2. *payload*: for each slice of the due rows, take the delta (`take_packed`) and
   allreduce it (sum) together with each row's |d_k|^2, one extra column per matrix, so the
   `adaptive` combiner sees what it saw before (`sync.combine_summed`). The round's last slice
   carries the driver's requests (`request`) as two more numbers, summed like the rest: every member
   learns them with the round, so every member acts on them at the same next round: it moves every
   row (a checkpoint, a stop, a notice), and with a halt the group stops after it (a notice: the
   driver moves an actor);
3. apply it (`apply_packed`: all of it to the reference, the others' part to the live weights) and
   let the training thread go on (LAG rounds).

Only a round the driver asked for (the full round before a snapshot or a halt), and the job's last
(no round after it would settle it), has a *commit* between 2 and 3: a tiny allreduce that completes on a member only once every member completed its
payload, so the snapshot and the halt are of a round every member holds. An ordinary round needs
none: a member applies its sum as it arrives, and the round is settled everywhere once the next
round's first sum arrives (every member entered the next round, so every member had applied this
one). Dropping the per-round commit saved a ring of K - 1 round trips and its CPU per round
(README "Scaling model").

The wire (`--wire`, `Group.sum_`): by default the ring carries a bfloat16 copy of each slice, so every
link moves half the bytes; the member converts on its round thread (torch's intra-op pool held at one
thread) and gets the sum back in float32. The sum is rounded at each of the ring's additions, the same
on every member, so every member's reference stays the same to the bit; the member's own change, applied
to its live weights in float32 already, is replaced by its rounded share of the sum (`apply_packed`: live
+= sum - own), so the live and global weights never drift apart.

Faults. A member that dies shows as "Connection reset" in the others' collective within a fraction
of a second; one that hangs (SIGSTOP, a stuck node) only at the group's timeout (`--exchange-timeout`,
the documented bound: gloo's abort does not interrupt a pending allreduce), unless the driver finds it
first: an actor whose status does not come within 15 s is killed, and Ray restarts it. Each survivor then stops
its round and reports where it stood (`RoundState`): the last round it applied, whether its payload
of the next one completed. All or nothing per round (`settled_round`): the survivors' last applied
rounds differ by one at most; if every survivor applied round r or holds its sum, r lands everywhere,
otherwise it is taken back where it landed (each member keeps an ordinary round's buffers until the
next round's first sum: `resolve`; those members then `adopt` the exact global weights of one that never
applied it) and every survivor keeps its delta for the next exchange (taking never moved its reference). The driver then starts the dead one's successor from a survivor's
reference weights (every member's reference is the global weights: initial + every settled sum), and
every member joins the next *generation* of the group (a new store prefix), whose first round moves
every row.

The store is a `TCPStore` the driver hosts (`StoreHost`); it only serves the rendezvous of each
generation, never a round's data. torch is an optional extra (`w2v[collective]`, its CPU build):
without it the job exchanges through the object store and says so (`driver`).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from . import procfs, sync
from .errors import one_line

logger = logging.getLogger(__name__)

TRANSPORTS = ("auto", "collective", "object-store")
# The numbers the ring carries (`--wire`). bfloat16 halves the bytes every link moves, at the same CPU per
# member (the conversions cost what the ring's float32 arithmetic saves; README "Scaling model"), and keeps
# float32's range, so the squared norms and non-finite checks survive. Each member's values and the running
# sum at each of the ring's K - 1 additions are rounded to 8 bits of mantissa (2**-9 of the larger operand:
# ~0.4% of a value at K = 8 in the median; where members' changes cancel, more of the small sum), the same
# rounded sum on every member.
WIRES = ("bfloat16", "float32")
DEFAULT_WIRE = "bfloat16"
VALUE_BYTES = {"bfloat16": 2, "float32": 4}  # bytes per value on the wire
DEFAULT_TIMEOUT_SECONDS = 120.0  # a hung member is found within this (a member waits this long for the slowest one)
INSTALL = ("pip install 'torch==2.13.0' --index-url https://download.pytorch.org/whl/cpu "
           "(the CPU build, ~0.7 GB installed; plain `torch` on Linux pulls CUDA wheels of several GB)")


def torch_missing() -> str | None:
    """Why the collective cannot run here (torch or its gloo backend missing), else None."""
    try:
        import torch.distributed as dist
    except ImportError:
        return f"torch is not installed: {INSTALL}"

    if not dist.is_available() or not dist.is_gloo_available():
        return "this torch build has no gloo backend (torch.distributed): install its CPU build"
    return None


@dataclass(frozen=True)
class GroupSpec:
    """Where and as whom an actor joins one generation of the group (sent by the driver)."""

    host: str  # the store's address (the driver's node)
    port: int  # the store's port
    generation: int  # one store prefix per generation: a new group after every membership change
    rank: int  # this member's rank (its actor index)
    size: int  # members (actors)
    timeout: float  # seconds a collective waits for the slowest member (the bound on finding a hang)
    first_round: int  # the round this generation's first exchange takes (it moves every row)
    wire: str = DEFAULT_WIRE  # the numbers on the wire (WIRES): the same for every member of a generation


class StoreHost:
    """The driver's TCPStore: the group's rendezvous, generation after generation."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_SECONDS, wire: str = DEFAULT_WIRE):
        import torch.distributed as dist

        self.host = _reachable_address()  # the address the actors dial: this node's, not loopback
        self.store = dist.TCPStore(self.host, 0, is_master=True, wait_for_workers=False,
                                   timeout=datetime.timedelta(seconds=timeout))
        self.generation = 0  # the last generation handed out
        self.timeout = timeout  # seconds, for every generation's collectives
        self.wire = wire  # the numbers on the wire, for every generation (WIRES)

    def next_generation(self, size: int, first_round: int) -> list[GroupSpec]:
        """Every member's spec of a new generation (rank k = actor k)."""
        self.generation += 1
        return [GroupSpec(self.host, self.store.port, self.generation, k, size, self.timeout, first_round, self.wire)
                for k in range(size)]


def _reachable_address() -> str:
    """This node's address as Ray sees it (actors on other nodes dial it); loopback outside Ray."""
    try:
        import ray

        if ray.is_initialized():
            return ray.util.get_node_ip_address()
    except Exception:
        pass
    return "127.0.0.1"  # one process outside Ray (the tests' threads): loopback


class Group:
    """One generation of the gloo group, as one member sees it: sum and max allreduces of numpy arrays."""

    def __init__(self, spec: GroupSpec):
        import torch
        import torch.distributed as dist

        # The wire's conversions on the round thread alone: torch's intra-op pool would spread a copy over
        # threads that spin between rounds beside gensim's workers and that the round's clock does not see.
        torch.set_num_threads(1)

        self.spec = spec  # what the driver sent
        store = dist.TCPStore(spec.host, spec.port, is_master=False,
                              timeout=datetime.timedelta(seconds=spec.timeout))
        prefixed = dist.PrefixStore(f"w2v/generation-{spec.generation}", store)
        # gloo's default device binds the address this host's name resolves to, which is loopback on many
        # hosts (Debian maps it to 127.0.1.1): members on other nodes could not connect. Bind the node's own
        # address, as Ray knows it (measured on namespaced hosts: the group never formed without it).
        options = dist.ProcessGroupGloo._Options()
        options._devices = [dist.ProcessGroupGloo.create_device(hostname=_reachable_address())]
        options._timeout = datetime.timedelta(seconds=spec.timeout)
        self.group = dist.ProcessGroupGloo(prefixed, spec.rank, spec.size, options)
        self.store = store  # kept alive with the group
        self.wire_buffer: Any = None  # the bfloat16 copy the ring sums, kept from round to round (grown as needed)

    def sum_(self, array: np.ndarray) -> None:
        """Sum `array` (float32, C-contiguous, writable) over every member, in place; with the bfloat16 wire the
        ring carries and sums a bfloat16 copy, and `array` gets the sum back in float32."""
        import torch

        if array.dtype != np.float32:
            raise TypeError(f"the exchange sums float32 arrays, not {array.dtype}")
        if self.spec.wire == "float32":
            self.group.allreduce([torch.from_numpy(array)]).wait()
            return
        if self.wire_buffer is None or self.wire_buffer.numel() < array.size:
            self.wire_buffer = torch.empty(array.size, dtype=torch.bfloat16)
        wire, values = self.wire_buffer[: array.size], torch.from_numpy(array).view(-1)
        wire.copy_(values)  # round to nearest even, on this thread (torch's intra-op threads are held at 1)
        self.group.allreduce([wire]).wait()
        values.copy_(wire)

    def max_(self, array: np.ndarray) -> None:
        """Elementwise max of `array` (int64) over every member, in place."""
        import torch
        import torch.distributed as dist

        options = dist.AllreduceOptions()
        options.reduceOp = dist.ReduceOp.MAX
        self.group.allreduce([torch.from_numpy(array)], options).wait()


def widths(weights: sync.Weights) -> dict[str, int]:
    """Each matrix's columns: the layout of a packed buffer (`take_packed`, `unpack`)."""
    return {name: array.shape[1] for name, array in weights.items()}


def packed_size(live: sync.Weights, rows: slice) -> int:
    """float32 elements of a `take_packed` buffer of `rows`: each matrix's rows, and a squared norm per row each."""
    return (rows.stop - rows.start) * (sum(widths(live).values()) + len(live))


def take_packed(live: sync.Weights, reference: sync.Weights, rows: slice, out: np.ndarray | None = None) -> np.ndarray:
    """This member's change of `rows` since the last exchange, packed for the allreduce: each matrix's rows,
    then each matrix's per-row squared norms (what the `adaptive` combiner needs of every member).

    The live rows are read once (gensim may be writing them), straight into the buffer, and the reference
    does not move: it stays the global weights until a round's sum is applied (`apply_packed`), so a round
    that breaks needs no undoing, and a reader of the reference never sees half a round. Every part is a
    contiguous block, so `unpack` gives contiguous views (strided column views made the combining ~2x
    slower). `out`: a float32 buffer of at least `packed_size` elements to write into (one kept from an earlier
    round); the packed slice is its first `packed_size`.

    >>> live, reference = {"v": np.array([[1.0, 2.0]], np.float32)}, {"v": np.zeros((1, 2), np.float32)}
    >>> take_packed(live, reference, slice(0, 1)).tolist()
    [1.0, 2.0, 5.0]
    """
    size = packed_size(live, rows)
    buffer = np.empty(size, dtype=np.float32) if out is None else out[:size]
    deltas, squares = unpack(buffer, widths(live))
    for name, array in live.items():
        np.subtract(array[rows], reference[name][rows], out=deltas[name])
        np.einsum("ij,ij->i", deltas[name], deltas[name], out=squares[name])
    return buffer


def unpack(buffer: np.ndarray, columns: dict[str, int]) -> tuple[sync.Weights, dict[str, np.ndarray]]:
    """(each matrix's rows, each matrix's per-row squared norms) of a `take_packed` buffer of matrices
    `columns` wide (`widths`): views, no copies.

    >>> rows, squares = unpack(np.arange(6, dtype=np.float32), {"v": 2})
    >>> rows["v"].tolist(), squares["v"].tolist()
    ([[0.0, 1.0], [2.0, 3.0]], [4.0, 5.0])
    """
    count = buffer.size // (sum(columns.values()) + len(columns))
    summed, squares, offset = {}, {}, 0
    for name, width in columns.items():
        summed[name] = buffer[offset : offset + count * width].reshape(count, width)
        offset += count * width
    for name in columns:
        squares[name] = buffer[offset : offset + count]
        offset += count
    return summed, squares


def apply_packed(live: sync.Weights, reference: sync.Weights, rows: slice, own: np.ndarray, total: np.ndarray) -> None:
    """Land a round's combined change of `rows`: the global weights (`reference`) get all of it, the live
    weights the others' part (`total` - `own`: this member's own change is in them already). `own` is
    overwritten with that difference (no allocation).

    >>> live, reference = {"v": np.array([[3.0]], np.float32)}, {"v": np.array([[1.0]], np.float32)}
    >>> apply_packed(live, reference, slice(0, 1), np.array([2.0, 4.0], np.float32), np.array([5.0, 0.0], np.float32))
    >>> live["v"].tolist(), reference["v"].tolist()
    ([[6.0]], [[6.0]])
    """
    mine, summed = unpack(own, widths(live))[0], unpack(total, widths(live))[0]
    for name, array in live.items():
        reference[name][rows] += summed[name]
        np.subtract(summed[name], mine[name], out=mine[name])
        array[rows] += mine[name]


def take_back_packed(live: sync.Weights, reference: sync.Weights, rows: slice, others: np.ndarray,
                     total: np.ndarray) -> None:
    """Undo `apply_packed` of `rows`: the reference loses the whole combined sum (`total`), the live weights the
    others' part (`others`, as `apply_packed` leaves its `own`). In float32 the reference is then the one before
    only up to rounding (`PeerRounds.adopt` makes it exact).

    >>> live, reference = {"v": np.array([[6.0]], np.float32)}, {"v": np.array([[6.0]], np.float32)}
    >>> take_back_packed(live, reference, slice(0, 1), np.array([3.0, 0.0], np.float32), np.array([5.0, 0.0], np.float32))
    >>> live["v"].tolist(), reference["v"].tolist()
    ([[3.0]], [[1.0]])
    """
    removed, theirs = unpack(total, widths(live))[0], unpack(others, widths(live))[0]
    for name, array in live.items():
        reference[name][rows] -= removed[name]
        array[rows] -= theirs[name]


class Buffers:
    """float32 buffers kept from round to round. Why: a fresh multi-MB array is fresh pages, and faulting
    them in cost as much as the arithmetic that fills them (measured: taking and copying a 3.3 MB slice
    took 2.3 ms each with new arrays, 0.6 and 0.25 ms in kept ones). At most `keep` are kept (a round
    that moves every row uses more, once)."""

    def __init__(self, keep: int = 8):
        self.keep = keep  # buffers kept at most: two per slice of a round, and two of the last, until settled
        self.free: list[np.ndarray] = []  # kept, unused

    def get(self, size: int) -> np.ndarray:
        """A buffer of `size` elements: a view of the smallest kept one that is big enough, else a new one."""
        fits = [i for i, b in enumerate(self.free) if b.size >= size]
        if not fits:
            return np.empty(size, dtype=np.float32)
        best = self.free.pop(min(fits, key=lambda i: self.free[i].size))  # by position: `remove` would compare arrays
        return best[:size]

    def give(self, buffer: np.ndarray) -> None:
        """Keep `buffer` (or the array it is a view of) for a later round; the smallest go when too many."""
        whole = buffer.base if buffer.base is not None else buffer
        self.free.append(whole)
        if len(self.free) > self.keep:
            self.free.pop(min(range(len(self.free)), key=lambda i: self.free[i].size))


class ThreadClock:
    """CPU seconds of a round's own work on one member: its round thread and gloo's threads (the ring's
    transfers and sums run on `gloo_tcp_loop` and `pt_gloo_runloop` threads, not on the caller).

    Why not the whole process: its other threads (Ray's, idle) cost CPU per second, not per round, so on
    simulated nodes sharing two cores, where a round lasts 10-100x longer than on a real node, they would be
    counted as exchange work (README "Scaling model"). Read from each thread's schedstat (`procfs`), from
    when a thread is first watched; a thread that exits keeps what it was last seen to use.
    """

    NAMES = ("gloo", "pt_gloo")  # thread names (comm) of gloo's own threads

    def __init__(self):
        self.first: dict[int, float] = {}  # tid -> its CPU seconds when first watched
        self.last: dict[int, float] = {}  # tid -> its CPU seconds when last read
        self.gloo: set[int] = set()  # the watched tids that are gloo's (names vanish with the threads)

    def watch(self, *tids: int) -> None:
        """Count these threads' CPU from now on."""
        for tid in tids:
            seconds = procfs.thread_cpu_seconds(tid)
            if tid not in self.first and seconds is not None:
                self.first[tid] = self.last[tid] = seconds

    def watch_gloo(self) -> None:
        """Count every gloo thread now in the process from now on (after a group was built)."""
        tids = [tid for tid in procfs.thread_ids() if procfs.thread_name(tid).startswith(self.NAMES)]
        self.watch(*tids)
        self.gloo.update(tid for tid in tids if tid in self.first)  # one gone before it was read is not watched

    def read(self) -> float:
        """CPU seconds the watched threads used since each was first watched (any thread may ask)."""
        for tid in list(self.first):
            seconds = procfs.thread_cpu_seconds(tid)
            if seconds is not None:
                self.last[tid] = seconds
        return sum(self.last[tid] - self.first[tid] for tid in list(self.first))

    def gloo_seconds(self) -> float:
        """Of `read`'s seconds, those of gloo's threads (the ring's transfers and sums), as last read."""
        return sum(self.last[tid] - self.first[tid] for tid in self.gloo)


@dataclass
class RoundState:
    """Where a member's rounds stand: read by the driver in `status`, the basis of `resolve` after a fault."""

    state: str = "idle"  # idle (no group yet), running, halted (by request or after a fault), done, broken
    committed: int = -1  # the last round applied here (an ordinary one can still be taken back by `resolve`
    # after a fault, until the next round's first sum arrives: see `settled_round`)
    pending: int | None = None  # the round taken but not applied, or None
    pending_complete: bool = False  # its payload allreduce completed here (this member holds the sum)
    error: str | None = None  # why it broke (the collective's error), for the driver's log
    generation: int = 0  # the group generation it runs (or ran) in
    exchanges: int = 0  # rounds applied by this process (less any taken back)
    exchanged_bytes: int = 0  # bytes of the slices it took in them
    cpu_seconds: float = 0.0  # CPU time of the rounds' own work: the round thread and gloo's threads (`ThreadClock`)
    snapshot_round: int = -1  # the round after which `snapshot` was copied (a full exchange), -1: none
    full_rounds: list[int] = field(default_factory=list)  # rounds that moved every row (for the driver's records)


def settled_round(states: list[RoundState]) -> int:
    """The last round that lands on every survivor after a fault (`resolve` it on each): the survivors' last
    applied rounds differ by one at most (a member enters round r + 1 only after applying r, so a sum of r + 1
    cannot arrive while a member still lacks r). The newest lands if every survivor applied it or holds its
    sum; otherwise it is taken back where it landed.

    >>> settled_round([RoundState(committed=4), RoundState(committed=3, pending=4, pending_complete=True)])
    4
    >>> settled_round([RoundState(committed=4), RoundState(committed=3, pending=4)])
    3
    >>> settled_round([RoundState(committed=3, pending=4, pending_complete=True)] * 2)  # no commit completed
    4
    """
    newest = max(s.pending if s.pending is not None and s.pending_complete else s.committed for s in states)
    held = all(s.committed == newest or (s.pending == newest and s.pending_complete) for s in states)
    return newest if held else newest - 1


@dataclass
class Applied:
    """An ordinary round applied on this member but not yet known to be applied everywhere: what taking it back
    needs (`PeerRounds._undo`). Each slice's `others` is the others' part added to the live rows, `total` the
    whole combined sum added to the reference."""

    round: int
    full: bool
    slices: list[slice]
    others: dict[int, np.ndarray]  # by slice start: packed, as `apply_packed` leaves `own`
    totals: dict[int, np.ndarray]  # by slice start: packed


class PeerRounds:
    """One member's round loop (the exchange thread of a `TrainerActor`), pure of Ray: tested with threads.

    `weights()` gives the live matrices; `book` is the member's `sync.DeltaBook`; `chunk_done(r)`
    blocks until the member trained chunk r (False: training ended before it); `applied(r)` lets the
    training thread start chunk r + LAG. `lock` guards the book against `reference()` readers.
    """

    def __init__(self, weights: Callable[[], sync.Weights], book: sync.DeltaBook, vocab_size: int, rounds: int,
                 tiers: int, combine: str, chunk_done: Callable[[int], bool], applied: Callable[[int], None],
                 lock: threading.Lock, before_payload: Callable[[int], None] = lambda r: None,
                 row_updates: sync.RowUpdates | None = None, commit_every_round: bool = False):
        self.weights = weights
        self.book = book
        self.vocab_size = vocab_size  # rows of every matrix
        self.rounds = rounds  # epochs x chunks: the last round is rounds - 1
        self.tiers = tiers  # sync.exchange_slices' frequency tiers
        self.combine = combine  # "adaptive", "sum" or "saturation" (sync.COMBINES)
        self.row_updates = row_updates  # each row's expected updates a round: `saturation`'s floors
        self.chunk_done = chunk_done
        self.applied = applied
        self.lock = lock
        self.before_payload = before_payload  # called with the round before its allreduces (the tests' fault hook)
        # The round structure before ordinary rounds dropped their commit, kept to measure it side by side
        # (`jobs.round_cost --commit-every-round`).
        self.commit_every_round = commit_every_round
        self.status = RoundState()  # what the driver reads
        self.wanted = np.zeros(2, dtype=np.float32)  # [full next, halt after next]: the driver's requests, summed
        self.snapshot: tuple[int, sync.Weights] | None = None  # (round, the reference after it): a requested full round
        self.snapshot_asked = False  # the driver asked this member for a snapshot; the next round carries it
        self.snapshot_at: int | None = None  # the full round after which to copy the reference
        self.asking = threading.Lock()  # guards `wanted` and `snapshot_asked` (the driver's calls run on another thread)
        self.own: dict[int, np.ndarray] = {}  # the pending round's packed own changes, by slice start (`take_packed`)
        self.totals: dict[int, np.ndarray] = {}  # the pending round's combined sums, same layout, by slice start
        self.slices: list[slice] = []  # the pending round's slices
        self.seconds = 0.0  # wall time in the round loop's own work (taking, combining, applying), not waiting
        self.generation_first = 0  # the first round of the running generation: the tier schedule counts from it
        self.exchange = 0  # the pending round's exchange number in the tier schedule (r - generation_first)
        self.pending_full = False  # the pending round moves every row
        self.unsettled: Applied | None = None  # the last ordinary round applied here, until the next round's first sum
        self.clock = ThreadClock()  # the rounds' own CPU time (`status.cpu_seconds`)
        self.buffers = Buffers()  # the packed slices' buffers, kept from round to round

    def request(self, full: bool = False, halt: bool = False, snapshot: bool = False) -> None:
        """The driver's wish, carried to every member by the next round: the round after it moves every row and
        is committed (`full`), the group halts after that round (`halt`); this member copies the reference then."""
        with self.asking:
            self.wanted[0] = max(self.wanted[0], float(full or halt or snapshot))
            self.wanted[1] = max(self.wanted[1], float(halt))
            self.snapshot_asked |= snapshot

    def run(self, spec: GroupSpec) -> None:
        """Join generation `spec` and exchange rounds spec.first_round.. until the last, a halt or a fault."""
        self.status.generation, self.status.error = spec.generation, None
        try:
            group = Group(spec)
        except Exception as exc:
            self.status.state, self.status.error = "broken", f"joining generation {spec.generation}: {one_line(exc)[:300]}"
            return
        # Clocked from here: forming the group (and importing torch, if nothing did before) is a cost of the
        # generation, not of its rounds, and at ~1 s of CPU for torch's import it would have added ms to each.
        self.clock.watch(threading.get_native_id())
        self.clock.watch_gloo()
        self.status.state = "running"
        full_next = True  # a generation's first round moves every row: every member agrees from the start
        commit_next = False  # the next round was asked for: a commit settles it before it is applied
        halt_at = None  # the (full) round after which the group halts, once a round carried a halt
        try:
            for r in range(spec.first_round, self.rounds):
                self.chunk_done(r)
                last = r == self.rounds - 1  # committed too: no next round would settle it (and free its buffers)
                full, commit = full_next or last, commit_next or last or self.commit_every_round
                self._take(r, full)
                self.before_payload(r)
                with self.asking:  # what the driver asked so far goes with this round (lost with it if it fails)
                    wishes, asked = self.wanted.copy(), self.snapshot_asked
                    self.wanted[:], self.snapshot_asked = 0, False
                decided = self._payload(group, spec.size, wishes)
                if commit:  # every member holds every sum of round r once this completes
                    group.max_(np.ones(1, dtype=np.int64))
                self._apply_round(r, full, settled=commit)
                if halt_at == r and r < self.rounds - 1:  # the full round the halt waited for is committed
                    self.status.state = "halted"
                    return
                # Requests carried by this round act on the next, on every member at once: it moves every row and
                # is committed, the asked member copies the global weights after it, the group halts after it.
                full_next = commit_next = bool(decided[0] > 0)
                self.snapshot_at = r + 1 if asked else self.snapshot_at
                halt_at = r + 1 if decided[1] > 0 else halt_at
            self.status.state = "done"
        except Exception as exc:  # a member died (connection reset) or hung (the timeout): the driver resolves
            self.status.state, self.status.error = "broken", one_line(exc)[:300]
            logger.warning("exchange of round %s broke: %s", self.status.pending, self.status.error)
        finally:
            self.status.cpu_seconds = self.clock.read()  # before this generation's threads go

    def _take(self, r: int, full: bool) -> None:
        began = time.perf_counter()
        live = self.weights()
        row_bytes = sum(a.shape[1] * 4 for a in live.values())
        # The tier due is counted from the generation's first round (sync.tier_ranges' `exchange`).
        self.exchange = r - self.generation_first
        self.slices = sync.exchange_slices(self.vocab_size, row_bytes, self.exchange, final=full, tiers=self.tiers)
        # No lock: only this thread moves the reference (in `_apply_round`), and taking leaves it as it is.
        # Every buffer has room for the wishes the last slice carries (`_payload`): buffers kept from one round
        # then fit the next round's slices of the same size, whichever of the two roles they get.
        self.own = {rows.start: take_packed(live, self.book.reference, rows,
                                            self.buffers.get(packed_size(live, rows) + self.wanted.size))
                    for rows in self.slices}
        self.status.exchanged_bytes += sum(rows.stop - rows.start for rows in self.slices) * row_bytes
        self.status.pending, self.status.pending_complete = r, False
        self.pending_full = full  # the round moves every row (what `_apply_round` records)
        self.totals = {}
        self.seconds += time.perf_counter() - began

    def _payload(self, group: Group, size: int, wishes: np.ndarray) -> np.ndarray:
        """Allreduce and combine every slice of the pending round; returns the members' summed `wishes`, which
        ride at the end of the last slice."""
        columns = widths(self.weights())
        decided = wishes
        for i, rows in enumerate(self.slices):
            own = self.own[rows.start]
            extra = wishes.size if i == len(self.slices) - 1 else 0
            buffer = self.buffers.get(own.size + extra)
            np.copyto(buffer[:own.size], own)  # the allreduce sums in place; the own change is kept for `_apply_round`
            buffer[own.size:] = wishes[:extra]
            group.sum_(buffer)  # not counted in `seconds`: mostly waiting for the slowest member's chunk
            began = time.perf_counter()
            if i == 0:  # every member entered this round, so every member applied the last: it is settled
                self._settle()
            total = buffer[:own.size]
            decided = buffer[own.size:].copy() if extra else decided
            summed, squares = unpack(total, columns)
            floors = None
            if self.combine == "saturation" and self.row_updates is not None:
                floors = self.row_updates.floors(rows, self.exchange, size, self.tiers, final=self.pending_full)
            sync.combine_summed(summed, squares, size, self.combine, floors)  # in place
            self.totals[rows.start] = total
            self.seconds += time.perf_counter() - began
        self.status.pending_complete = True
        return decided

    def _apply_round(self, r: int, full: bool, settled: bool = True) -> None:
        """Apply round r's combined sum of every slice; copy the reference when a snapshot is due. `settled`:
        every member holds the sum (a commit completed); otherwise the buffers are kept until the next round's
        first sum says so (`_settle`), for `resolve` to take the round back after a fault."""
        began = time.perf_counter()
        live = self.weights()
        with self.lock:
            others = {}
            for rows in self.slices:
                own = self.own.pop(rows.start)
                apply_packed(live, self.book.reference, rows, own, self.totals[rows.start])
                others[rows.start] = own  # now the others' part
            applied = Applied(r, full, self.slices, others, self.totals)
            if r == self.snapshot_at:  # a full round: every row of the reference is the global weights
                self.snapshot = (r, sync.copy_weights(self.book.reference))
                self.snapshot_at = None
                self.status.snapshot_round = r
        self.totals = {}
        self._settle()  # an earlier round is settled by now in any case (this one's first sum arrived)
        if settled:
            self._release(applied)
        else:
            self.unsettled = applied
        self.status.committed, self.status.pending, self.status.pending_complete = r, None, False
        self.status.exchanges += 1
        if full:
            self.status.full_rounds.append(r)
        self.seconds += time.perf_counter() - began
        self.applied(r)

    def _settle(self) -> None:
        """The kept round is applied everywhere: its buffers go back to the pool."""
        if self.unsettled is not None:
            self._release(self.unsettled)
            self.unsettled = None

    def _release(self, applied: Applied) -> None:
        for start in list(applied.others):
            self.buffers.give(applied.others.pop(start))
            self.buffers.give(applied.totals.pop(start))

    def _undo(self) -> None:
        """Take back the last ordinary round applied here (it did not land on every survivor): the reference
        loses its sum, the live weights the others' part; this member's own change of it is live - reference
        again, for the next exchange."""
        kept = self.unsettled
        if kept is None or kept.round != self.status.committed:
            raise RuntimeError(f"round {self.status.committed} cannot be taken back here: it was settled")
        live = self.weights()
        with self.lock:
            for rows in kept.slices:
                take_back_packed(live, self.book.reference, rows, kept.others[rows.start], kept.totals[rows.start])
        self._settle()
        # The training thread was let go on when the round was applied (`applied`): it may have trained one chunk
        # further than LAG allows, once; the bytes moved stay counted (they did cross the links).
        self.status.committed -= 1
        self.status.exchanges -= 1
        if kept.full and self.status.full_rounds and self.status.full_rounds[-1] == kept.round:
            self.status.full_rounds.pop()

    def resolve(self, last: int) -> int:
        """After a fault: make round `last` (`settled_round` of every survivor's state) the last applied here.
        Apply the pending round's sums if it is `last` (this member holds them), take back an ordinary round
        past it, or leave the changes where they are, for the next exchange. Returns the last round applied."""
        r = self.status.pending
        if r is not None and r == last and self.status.pending_complete:
            self._apply_round(r, self.pending_full)  # as the commit would have
        elif self.status.committed > last:
            self._undo()
        # Otherwise nothing to undo: taking left the reference as it was, so the changes of a round not applied
        # are still live - reference, and travel with the next exchange.
        for buffer in [*self.own.values(), *self.totals.values()]:
            self.buffers.give(buffer)
        self._settle()  # every survivor agrees on `last` now
        self.status.pending, self.status.pending_complete, self.own, self.totals = None, False, {}, {}
        self.status.state = "halted"
        return self.status.committed

    def adopt(self, reference: sync.Weights) -> None:
        """Take `reference` (another survivor's global weights, after `resolve`) as this member's, moving the live
        weights by the same difference, so that this member's own changes (live - reference) stay as they are.
        Why: taking a round back subtracts its sum again, and in float32 (x + s) - s is x only up to rounding
        (about 5% of the elements differ by an ulp), while the survivors that never applied it hold x exactly;
        every member's reference must be the same global weights, bit for bit."""
        live = self.weights()
        with self.lock:
            for name, array in self.book.reference.items():
                difference = reference[name] - array
                array += difference
                live[name] += difference

    def report(self) -> RoundState:
        """A copy of `status` for the driver, with the rounds' CPU time read now (read here, on the caller's
        thread, not once per round on the round thread's path; and once more as each generation ends)."""
        self.status.cpu_seconds = self.clock.read()
        return replace(self.status, full_rounds=list(self.status.full_rounds))

    def take_snapshot(self) -> tuple[int, sync.Weights | None]:
        """(round, the global weights after it) copied after a requested full round, once; (-1, None) if none."""
        with self.lock:
            taken, self.snapshot = self.snapshot, None
        return taken if taken is not None else (-1, None)

    def start(self, spec: GroupSpec) -> threading.Thread:
        """Run generation `spec` on a new thread (the previous one has returned). Requests of an earlier
        generation are dropped: the driver asks again after a fault, and a halt nobody asked for now would
        stop the new group."""
        with self.asking:
            self.wanted[:], self.snapshot_asked = 0, False
        self.snapshot_at = None
        self.generation_first = spec.first_round
        # Whoever joins holds the global weights of the round before the generation's first (a successor started
        # from them has applied nothing itself): so `settled_round` sees every member at that round at least.
        self.status.committed = max(self.status.committed, spec.first_round - 1)
        self.status.state = "joining"
        thread = threading.Thread(target=self.run, args=(spec,), name=f"w2v-exchange-{spec.generation}", daemon=True)
        thread.start()
        return thread
