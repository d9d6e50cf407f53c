"""The scaling model's exchange time checked on real links: Ray nodes as hosts in network namespaces.

    .venv/bin/python -m jobs.links                        # as root: K = 2 and 4, the default links (~15 min)
    .venv/bin/python -m jobs.links --nodes 3 --links 1000:0.5 100:2 --reps 5
    .venv/bin/python -m jobs.links --nodes 2 4 --links 0:0 0:2 0:5 --slice-rows 100 1000 --reps 7   # latency alone
    .venv/bin/python -m jobs.links --nodes 2 --links 0:0 100:2 --vocab 5000 --words 100000 --reps 1  # a quick look
    .venv/bin/python -m jobs.links --nodes 2 4 --links 1000:0.5 100:2 --transport collective object-store --reps 0
    .venv/bin/python -m jobs.links --nodes 2 4 --links 0:0 100:2 --transport collective --wire bfloat16 float32 --reps 0

What it builds (root only; every name starts with `w2vl-<pid>`): one network namespace per Ray
node (a head that runs the driver and holds no actor, and K trainer nodes with one CPU and the
`w2v_node` resource each), each with a TUN device whose other end is a relay process: a star
switch that gives every host a full-duplex link of `--links` bandwidth (Mb/s) and one-way latency
(ms, half on each side of the switch), store-and-forward, no drops. This machine's kernel has no
`netem` (CONFIG_NET_SCH_NETEM is off) and `tbf` cannot add latency, so the links are made in user
space; the relay's own speed (one Python process: a few Gb/s) caps the fastest links, which is why
every setting first probes what the link really gives (RTT of a 1-byte TCP ping-pong, throughput
of one TCP stream; medians of 3).

What it measures, per K and per link setting: a real w2v training run across the namespaced
nodes (`w2v.driver`'s driver on a generated corpus; its exchanges, actor waits and sync share are
the first table), then, with its actors still up and idle, the driver's own exchange
(`exchange.exchange_round`, what the training loop calls after every chunk: take, reduce-scatter
through the object store, apply, the summed pieces to the driver) for the slice of each frequency
tier (V/2**(T-1) .. V rows, or `--slice-rows`), `--reps` times each. The second table has, per
slice, the median and range of the measured seconds, the old model's term (busiest-link bytes /
bandwidth, `sync.round_bytes`) and the law (`sync.exchange_seconds` plus the unshaped time of
the same slice for the nodes' own work; README "Scaling model"). The machines here are shared (2
cores, other agents): medians, and compare within one run. `--json` keeps the raw seconds, written
after every setting.

Cleanup: every namespace, the relay, the probe server and the Ray processes this job started (by
process session; never `ray stop`, which would stop other people's clusters) go in a `finally`
and at exit.
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import fcntl
import heapq
import json
import logging
import math
import multiprocessing
import os
import secrets
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from w2v.collective import DEFAULT_WIRE, WIRES  # imports neither Ray nor torch

logger = logging.getLogger("links")

PREFIX = f"w2vl-{os.getpid()}"  # every namespace this run makes; unique per run
SUBNET = "10.231.{}.{}"  # host i of run-subnet s; hosts are 1 (head), 2.. (trainer nodes)
MTU = 64000  # TUN MTU: big frames keep the relay's packet rate (and CPU) low
GCS_PORT = 6379  # each host has its own network stack: the default ports never collide
PROBE_PORT = 7301  # the link probe's server, in the first trainer node
DEFAULT_LINKS = ("0:0", "10000:0.1", "1000:0.5", "100:2")  # Mb/s:ms; 0 Mb/s = unshaped


# ---------------------------------------------------------------------------- namespaces and the relay

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


ROOT_NS = os.open("/proc/self/ns/net", os.O_RDONLY)  # where this process started: setns() comes back here


def _setns(path: str | None) -> None:
    """Move this thread into the network namespace at `path` (/var/run/netns/NAME); None: back to the start."""
    fd = ROOT_NS if path is None else os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path or 'back'}")
    finally:
        if fd != ROOT_NS:
            os.close(fd)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class Links:
    """Hosts in namespaces joined by a shaping relay: create, shape, tear down (idempotent)."""

    def __init__(self, hosts: int, subnet: int):
        self.names = [f"{PREFIX}-{i}" for i in range(hosts)]  # host i's namespace; 0 is the head
        self.ips = [SUBNET.format(subnet, i + 1) for i in range(hosts)]  # host i's address
        self.setting = multiprocessing.Array("d", [0.0, 0.0])  # (bytes/s, one-way seconds) the relay reads
        self.relay: multiprocessing.Process | None = None  # the switch, forked before any thread exists
        self.made: list[str] = []  # namespaces created so far (what close() deletes)

    def create(self) -> None:
        fds = []
        for name, ip in zip(self.names, self.ips):
            _ip("netns", "add", name)
            self.made.append(name)
            _setns(f"/var/run/netns/{name}")  # the TUN device is born in the namespace that opens it
            try:
                fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
                fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tun0", IFF_TUN | IFF_NO_PI))
            finally:
                _setns(None)
            fds.append(fd)
            _ip("-n", name, "link", "set", "lo", "up")
            _ip("-n", name, "link", "set", "tun0", "mtu", str(MTU), "txqueuelen", "10000", "up")
            _ip("-n", name, "addr", "add", f"{ip}/24", "dev", "tun0")
        ctx = multiprocessing.get_context("fork")
        self.relay = ctx.Process(target=relay, args=(fds, self.setting), daemon=True, name="w2vl-relay")
        self.relay.start()
        for fd in fds:  # the relay holds them now
            os.close(fd)

    def shape(self, mbit_s: float, one_way_ms: float) -> None:
        """Every host's link: `mbit_s` each way (0 = as fast as the relay goes), `one_way_ms` host to host."""
        self.setting[0] = mbit_s * 1e6 / 8
        self.setting[1] = one_way_ms / 1e3

    def close(self) -> None:
        if self.relay is not None and self.relay.is_alive():
            self.relay.terminate()
            self.relay.join(5)
        self.relay = None
        for name in self.made:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.made = []


def relay(fds: list[int], setting) -> None:
    """The star switch: packets from host a to host b cross a's uplink and b's downlink.

    Each link serializes at the set rate (a FIFO: a packet leaves when the one before it has) and
    the one-way latency is added half on each side of the switch. IPv4 only (the hosts' addresses
    end in 1..K+1); anything else is dropped.
    """
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    os.setpriority(os.PRIO_PROCESS, 0, 0)  # the wire: not behind `nice` (the latency it adds would be the load's)
    by_fd = {fd: i for i, fd in enumerate(fds)}
    up_free = [0.0] * len(fds)  # when host i's uplink is free again (monotonic seconds)
    down_free = [0.0] * len(fds)  # when host i's downlink is
    queue: list[tuple[float, int, int, bytes]] = []  # (deliver at, order, host, packet)
    order = 0
    while True:
        now = time.monotonic()
        timeout = min(max(queue[0][0] - now, 0.0), 0.5) if queue else 0.5
        ready, _, _ = select.select(fds, [], [], timeout)
        rate, one_way = setting[0], setting[1]
        for fd in ready:
            src = by_fd[fd]
            for _ in range(64):  # drain a burst, fairly across hosts
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if len(packet) < 20 or packet[0] >> 4 != 4:
                    continue
                dst = packet[19] - 1
                if not 0 <= dst < len(fds) or dst == src:
                    continue
                now = time.monotonic()
                wire = len(packet) / rate if rate > 0 else 0.0
                up_free[src] = max(now, up_free[src]) + wire
                down_free[dst] = max(up_free[src] + one_way / 2, down_free[dst]) + wire
                order += 1
                heapq.heappush(queue, (down_free[dst] + one_way / 2, order, dst, packet))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, dst, packet = heapq.heappop(queue)
            try:
                os.write(fds[dst], packet)
            except OSError:  # the host's queue is full: dropped, as a switch would
                pass


# ---------------------------------------------------------------------------- the link probe


def probe_server(namespace: str, ip: str) -> None:
    """In `namespace`: b"e" + n bytes echoes them back (ping-pong); b"d" + 8-byte size is drained, then b"k"."""
    _setns(f"/var/run/netns/{namespace}")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server = socket.create_server((ip, PROBE_PORT))
    while True:
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            kind = conn.recv(1)
            if kind == b"e":
                while data := conn.recv(64):
                    conn.sendall(data)
            elif kind == b"d":
                size = struct.unpack("!Q", _recv_exactly(conn, 8))[0]
                while size > 0:
                    size -= len(conn.recv(min(size, 2**20)))
                conn.sendall(b"k")


def _recv_exactly(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        data += conn.recv(n - len(data))
    return data


def probe(ip: str, repeats: int = 3) -> dict[str, float]:
    """Medians of `repeats` link probes (`probe_once`)."""
    found = [probe_once(ip) for _ in range(repeats)]
    return {key: _median([f[key] for f in found]) for key in found[0]}


def probe_once(ip: str, pings: int = 20, size: int = 8 * 2**20) -> dict[str, float]:
    """What the link to `ip` gives: median RTT of a 1-byte TCP ping-pong (s) and one stream's bytes/s."""
    with socket.create_connection((ip, PROBE_PORT), timeout=60) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(b"e")
        rtts = []
        for _ in range(pings):
            began = time.perf_counter()
            conn.sendall(b"x")
            _recv_exactly(conn, 1)
            rtts.append(time.perf_counter() - began)
    payload = b"\0" * 2**20
    with socket.create_connection((ip, PROBE_PORT), timeout=120) as conn:
        began = time.perf_counter()
        conn.sendall(b"d" + struct.pack("!Q", size))
        for _ in range(size // len(payload)):
            conn.sendall(payload)
        _recv_exactly(conn, 1)
        seconds = time.perf_counter() - began
    rtts.sort()
    return {"rtt": rtts[len(rtts) // 2], "bytes_per_s": size / seconds}


# ---------------------------------------------------------------------------- Ray nodes on those hosts


class RayHosts:
    """`ray start --block` in every namespace: a head (no CPUs: the driver only) and K trainer nodes.

    Each runs in a process session of its own, so stopping it stops what it spawned and nothing
    else on this machine (other people's clusters included).
    """

    def __init__(self, links: Links, temp_root: str, object_store_bytes: int):
        self.links = links  # where the hosts are
        self.temp_root = temp_root  # one --temp-dir per host under it (Ray's socket paths are length-limited)
        self.object_store_bytes = object_store_bytes  # per host
        self.env = {**os.environ}  # main() put this run's token in it (RAY_AUTH_MODE=token)
        self.env.pop("RAY_ADDRESS", None)
        self.processes: list[subprocess.Popen] = []  # one `ray start --block` per host

    @property
    def address(self) -> str:
        return f"{self.links.ips[0]}:{GCS_PORT}"

    def start(self) -> None:
        ray = os.path.join(os.path.dirname(sys.executable), "ray")
        for i, (name, ip) in enumerate(zip(self.links.names, self.links.ips)):
            role = (["--head", "--port", str(GCS_PORT), "--num-cpus", "0", "--include-dashboard", "false"] if i == 0
                    else ["--address", self.address, "--num-cpus", "1", "--resources", '{"w2v_node": 1}'])
            temp = os.path.join(self.temp_root, f"h{i}")
            with open(f"{temp}.log", "w") as log:  # `ray start`'s own errors, if it fails
                self.processes.append(subprocess.Popen(
                    ["ip", "netns", "exec", name, ray, "start", "--block", "--node-ip-address", ip, *role,
                     "--object-store-memory", str(self.object_store_bytes), "--temp-dir", temp,
                     "--disable-usage-stats"],
                    env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            if i == 0:
                self._wait_for_head()  # the GCS first: the others register with it

    def _wait_for_head(self, timeout: float = 180) -> None:
        """Until the head's GCS port answers (this thread must be in a host's namespace)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.processes[0].poll() is not None:
                raise RuntimeError(f"the Ray head exited (log: {self.temp_root}/h0.log)")
            try:
                socket.create_connection((self.links.ips[0], GCS_PORT), timeout=2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the Ray head did not answer within {timeout:.0f} s") from None
                time.sleep(1)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)  # its stragglers only: the group it leads
            except OSError:  # none left
                pass
        self.processes = []


# ---------------------------------------------------------------------------- what is measured


def write_corpus(path: Path, words: int, vocab: int, seed: int = 1) -> None:
    """Zipf-distributed words w0..w{vocab-1}, 20 to a line: a vocabulary the size of `vocab` after min_count."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ranks = np.arange(1, vocab + 1)
    p = 1.0 / ranks
    p /= p.sum()
    ids = np.concatenate([np.repeat(ranks - 1, 5), rng.choice(vocab, size=max(words - 5 * vocab, 0), p=p)])
    rng.shuffle(ids)
    with open(path, "w") as f:
        for start in range(0, len(ids), 20):
            f.write(" ".join(f"w{i}" for i in ids[start : start + 20]) + "\n")


def tier_rows(vocab_size: int, tiers: int) -> list[int]:
    """Rows in the prefix each tier exchanges: V/2**(T-1), ..., V (`sync.tier_ranges`)."""
    from w2v import sync

    return sorted({stop for e in range(2 ** (tiers - 1) + 1) for _, stop in sync.tier_ranges(vocab_size, e, tiers)})


def measure(config, prepared, reps: int, slice_rows: list[int] | None = None) -> dict:
    """A real training run on the namespaced nodes, then the driver's exchange of each tier's slice, `reps` times.

    The exchange is `exchange.exchange_round`, what the training loop calls after every chunk: here
    with the actors idle (training done), so its time is the exchange's own.
    """
    from w2v import sync
    from w2v.checkpoint import NullCheckpointer
    from w2v.exchange import exchange_round
    from w2v.driver import Training

    p = prepared
    training = Training(config, p.vocab, p.assignment, p.placement, None, NullCheckpointer(),
                         {sc.uri: sc.words for sc in p.shard_counts})
    try:
        result = training.run()
        k = len(training.actors)
        if result.stats.transport == "collective":
            reps = 0  # the timed rounds below are the object store's (`exchange_round`); the training run is the measure
        row_bytes = sum(a.shape[1] * 4 for a in training.global_weights.values())
        slices = []
        for rows in (slice_rows or tier_rows(len(p.vocab), config.sync_tiers)) if reps > 0 else []:
            rows = min(rows, len(p.vocab))
            seconds = []
            parts = sync.row_slices(rows, row_bytes)
            for _ in range(reps):
                began = time.perf_counter()
                _, lost = exchange_round(training.actors, parts, [None] * k, training.global_weights)
                seconds.append(time.perf_counter() - began)
                if lost:
                    raise RuntimeError("an actor dropped out of an exchange")
            slices.append({"rows": rows, "bytes": rows * row_bytes, "messages": len(parts), "seconds": seconds})
    finally:
        training.close()
    stats = result.stats
    return {"nodes": k, "training": {key: getattr(stats, key) for key in (
        "exchanges", "exchange_seconds", "wait_seconds", "sync_share", "slice_bytes_per_exchange", "words_per_s",
        "seconds", "transport", "wire", "exchange_cpu_seconds_per_exchange", "driver_cpu_seconds_per_exchange")},
        "slices": slices}


def run_nodes(k: int, settings: list[tuple[float, float]], args, workdir: Path, transport: str = "auto",
              wire: str = DEFAULT_WIRE) -> list[dict]:
    """Build K+1 hosts, start Ray on them, and measure every link setting; everything torn down after."""
    import ray

    from w2v import TrainConfig, pipeline

    links = Links(k + 1, subnet=200 + k)
    hosts = RayHosts(links, tempfile.mkdtemp(prefix="w2vl", dir="/tmp"), args.object_store_mb * 2**20)
    server = None
    out: list[dict] = []

    def close() -> None:
        if ray.is_initialized():
            ray.shutdown()
        _setns(None)
        hosts.stop()
        if server is not None and server.is_alive():
            server.terminate()
        links.close()
        subprocess.run(["rm", "-rf", hosts.temp_root], check=False)

    atexit.register(close)
    try:
        links.create()
        server = multiprocessing.get_context("fork").Process(target=probe_server, args=(links.names[1], links.ips[1]),
                                                             daemon=True)
        server.start()
        _setns(f"/var/run/netns/{links.names[0]}")  # the driver runs on the head host
        hosts.start()
        ray.init(address=hosts.address, log_to_driver=False, logging_level=logging.WARNING)
        deadline = time.monotonic() + 180
        while sum(n["Alive"] for n in ray.nodes()) < k + 1:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {sum(n['Alive'] for n in ray.nodes())} of {k + 1} Ray nodes came up "
                                   f"(logs: {hosts.temp_root}/h*.log)")
            time.sleep(1)
        config = TrainConfig(corpus=(str(workdir / "corpus"),), out=str(workdir / f"out{k}"),
                             vector_size=args.vector_size,
                             epochs=1, actors=k, workers=1, eval=False, checkpoint_interval=0.0,
                             sync_tiers=args.tiers, sync_words=args.sync_words, seed=1, transport=transport,
                             exchange_timeout=args.exchange_timeout, wire=wire)
        prepared = pipeline.prepare(config, pipeline.preflight(config), {})
        for mbit, ms in settings:
            links.shape(mbit, ms)
            probed = probe(links.ips[1])
            logger.info("K=%d, %s, %s: probed RTT %.2f ms, %.0f Mb/s", k, transport, _name(mbit, ms), probed["rtt"] * 1e3,
                        probed["bytes_per_s"] * 8e-6)
            result = measure(config, prepared, args.reps, args.slice_rows)
            out.append({"mbit_s": mbit, "one_way_ms": ms, "probe": probed, **result})
            if args.json:  # after every setting: a run cut short keeps what it measured
                Path(args.json).write_text(json.dumps(args.done + out, indent=1))
            logger.info("K=%d, %s, %s: %s", k, transport, _name(mbit, ms), json.dumps(result["training"]))
    finally:
        close()
        atexit.unregister(close)
    return out


def _name(mbit: float, ms: float) -> str:
    if not mbit:
        return f"unlimited + {ms:g} ms" if ms else "unshaped"
    return f"{mbit / 1000:g} Gb/s + {ms:g} ms" if mbit >= 1000 else f"{mbit:g} Mb/s + {ms:g} ms"


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def tables(runs: list[dict]) -> str:
    """The links as probed, the in-training exchanges, and each tier's exchange measured vs the model.

    The model's link term is the old model (busiest-link bytes / nominal bandwidth); the law is
    the unshaped run of the same K and slice (the nodes' own work, the relay's) plus
    `sync.exchange_seconds` on the link as set, with the probed RTT.
    """
    from w2v import sync

    lines = ["| K | transport | wire | link | probed RTT ms | probed Mb/s (one stream) | exchanges | training s | "
             "training s/exchange | words/s | driver s/exchange | actor wait s | sync share | w ms/exchange | "
             "driver CPU ms/exchange |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        t = r["training"]

        def cell(key: str, fmt: str = "", scale: float = 1.0) -> str:
            """A training counter formatted, or '-' where a run's record lacks it (older runs, no exchange)."""
            value = t.get(key)
            return "-" if value is None else format(value * scale if scale != 1.0 else value, fmt)

        per_round = "-" if t.get("seconds") is None else f"{t['seconds'] / max(t.get('exchanges') or 1, 1):.3f}"
        lines.append(f"| {r['nodes']} | {t.get('transport', 'object-store')} | {t.get('wire') or '-'} | "
                     f"{_name(r['mbit_s'], r['one_way_ms'])} | "
                     f"{r['probe']['rtt'] * 1e3:.2f} | {r['probe']['bytes_per_s'] * 8e-6:,.0f} | {cell('exchanges')} | "
                     f"{cell('seconds')} | {per_round} | {cell('words_per_s', ',')} | {cell('exchange_seconds')} | "
                     f"{cell('wait_seconds')} | {cell('sync_share', '.1%')} | "
                     f"{cell('exchange_cpu_seconds_per_exchange', '.1f', 1e3)} | "
                     f"{cell('driver_cpu_seconds_per_exchange', '.2f', 1e3)} |")
    unshaped = {(r["nodes"], s["rows"]): _median(s["seconds"]) for r in runs if not r["mbit_s"] and not r["one_way_ms"]
                for s in r["slices"]}
    lines += ["", "| K | link | rows | slice MB | messages | measured s: median [range] | model's link term | "
              "law: unshaped + link + round trips | law / measured |", "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        nominal = r["mbit_s"] * 1e6 / 8
        link = nominal or math.inf  # the unshaped run already holds what the relay itself costs
        for s in r["slices"]:
            measured = _median(s["seconds"])
            term = sync.round_bytes(r["nodes"], s["bytes"]).busiest_link / nominal if nominal else 0.0
            base = unshaped.get((r["nodes"], s["rows"]))
            law = (base + sync.exchange_seconds(r["nodes"], s["bytes"], link, r["probe"]["rtt"])
                   if base is not None and (nominal or r["one_way_ms"]) else None)
            lines.append(f"| {r['nodes']} | {_name(r['mbit_s'], r['one_way_ms'])} | {s['rows']:,} | "
                         f"{s['bytes'] / 1e6:.2f} | {s['messages']} | {measured:.3f} "
                         f"[{min(s['seconds']):.3f}-{max(s['seconds']):.3f}] | {term:.3f} | "
                         + (f"{law:.3f} | {law / measured:.2f} |" if law is not None else "| |"))
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m jobs.links", description=__doc__.split("\n\n")[0])
    # --- the cluster
    p.add_argument("--nodes", type=int, nargs="+", default=[2, 4], help="trainer nodes K (one cluster each)")
    p.add_argument("--links", nargs="+", default=list(DEFAULT_LINKS),
                   help="link settings MBIT_S:ONE_WAY_MS, host to host (0:0 = unshaped)")
    p.add_argument("--object-store-mb", type=int, default=200, help="object store per host, MiB")
    # --- the job
    p.add_argument("--vocab", type=int, default=30_000, help="distinct words of the generated corpus")
    p.add_argument("--words", type=int, default=600_000, help="words of the generated corpus")
    p.add_argument("--sync-words", type=int, default=20_000,
                   help="words per actor between two exchanges (the training run)")
    p.add_argument("--vector-size", type=int, default=100, help="D: a row is 2 x D x 4 bytes")
    p.add_argument("--tiers", type=int, default=7, help="frequency tiers: slices of V/2**(T-1) .. V rows")
    p.add_argument("--slice-rows", type=int, nargs="+",
                   help="rows per timed exchange (default: each tier's, V/2**(T-1) .. V)")
    p.add_argument("--reps", type=int, default=3, help="exchanges timed per slice size")
    p.add_argument("--transport", nargs="+", default=["auto"], choices=("auto", "collective", "object-store"),
                   help="the training runs' exchange transports, one cluster each (default auto); the timed "
                        "slices after training are the object store's exchange and are skipped for the collective")
    p.add_argument("--exchange-timeout", type=float, default=120.0, help="the collective's timeout, seconds")
    p.add_argument("--wire", nargs="+", default=[DEFAULT_WIRE], choices=WIRES,
                   help="the collective's numbers on the wire, one cluster each (--wire of a job)")
    p.add_argument("--gloo-ifname", help="GLOO_SOCKET_IFNAME for the nodes (tun0: the hosts' link), default: unset")
    p.add_argument("--json", help="also write the raw measurements here")
    args = p.parse_args(argv)
    try:
        args.settings = [tuple(float(x) for x in item.split(":")) for item in args.links]
    except ValueError:
        p.error(f"--links: expected MBIT_S:ONE_WAY_MS, e.g. 1000:0.5; got {args.links}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("w2v", "gensim"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        print("jobs.links needs root and /dev/net/tun (network namespaces, TUN devices)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
    # A token of this run's own, set before Ray is imported (it reads the auth mode once): nodes and driver share it.
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    if args.gloo_ifname:  # gloo binds the address the hostname resolves to unless told an interface
        os.environ["GLOO_SOCKET_IFNAME"] = args.gloo_ifname
    runs = []
    with tempfile.TemporaryDirectory(prefix="w2vl-") as tmp:
        workdir = Path(tmp)
        (workdir / "corpus").mkdir()
        write_corpus(workdir / "corpus" / "part.txt", args.words, args.vocab)
        for k in args.nodes:
            for transport in args.transport:
                for wire in args.wire if transport != "object-store" else [DEFAULT_WIRE]:  # ignored: float32 there
                    args.done = runs
                    runs = runs + run_nodes(k, args.settings, args, workdir, transport, wire)
    print(tables(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
