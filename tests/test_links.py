"""jobs/links.py: the tables and slice sizes without a network; the namespaced link with root and TUN."""

import multiprocessing
import os
import shutil
import subprocess
import time

import pytest

from jobs import links


def test_the_timed_slices_are_the_tiers_prefixes():
    assert links.tier_rows(30_000, 7) == [469, 938, 1875, 3750, 7500, 15000, 30000]
    assert links.tier_rows(100, 1) == [100]


def test_link_settings_parse_and_name_themselves():
    args = links.parse_args(["--links", "0:0", "0:2", "100:2", "10000:0.1"])
    assert args.settings == [(0.0, 0.0), (0.0, 2.0), (100.0, 2.0), (10000.0, 0.1)]
    assert [links._name(*s) for s in args.settings] == ["unshaped", "unlimited + 2 ms", "100 Mb/s + 2 ms",
                                                        "10 Gb/s + 0.1 ms"]
    with pytest.raises(SystemExit):
        links.parse_args(["--links", "fast"])


def test_tables_compare_each_slice_with_the_old_term_and_the_law():
    def run(mbit, ms, seconds):
        return {"nodes": 2, "mbit_s": mbit, "one_way_ms": ms, "probe": {"rtt": 4e-3, "bytes_per_s": 12e6},
                "training": {"exchanges": 3, "exchange_seconds": 1.0, "wait_seconds": 0.5, "sync_share": 0.25},
                "slices": [{"rows": 1000, "bytes": 8_000_000, "messages": 1, "seconds": seconds}]}

    text = links.tables([run(0, 0, [0.2, 0.1, 0.3]), run(100, 2, [1.5, 1.4, 1.6])])
    shaped = [line for line in text.splitlines() if line.startswith("| 2 | 100 Mb/s")][-1].split(" | ")
    assert shaped[5] == "1.500 [1.400-1.600]"  # median [range]
    assert shaped[6] == "0.960"  # 12 MB on the busiest link at 12.5 MB/s
    # the unshaped 0.2 s + 0.96 s + 9 round trips of 4 ms
    assert shaped[7] == "1.196"


needs_netns = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or not shutil.which("ip"),
                                 reason="network namespaces need root, /dev/net/tun and iproute2")


@pytest.mark.slow
@needs_netns
def test_two_hosts_talk_through_the_relay_and_leave_nothing_behind():
    net = links.Links(2, subnet=250)
    server = None
    try:
        net.create()
        net.shape(100, 2)
        server = multiprocessing.get_context("fork").Process(target=links.probe_server,
                                                             args=(net.names[1], net.ips[1]), daemon=True)
        server.start()
        links._setns(f"/var/run/netns/{net.names[0]}")
        try:
            for _ in range(50):  # the server's socket, once it listens
                try:
                    found = links.probe_once(net.ips[1], pings=3, size=2**20)
                    break
                except OSError:
                    time.sleep(0.1)
        finally:
            links._setns(None)
        assert found["rtt"] > 0 and found["bytes_per_s"] > 0  # no timings asserted: the machine is shared
    finally:
        if server is not None:
            server.terminate()
        net.close()
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(name in listed for name in net.names)
