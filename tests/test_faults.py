"""Faults and bad input, injected for real: a trainer process exits mid-training, a node leaves the
cluster, the driver is killed and resumed; every bad input of issue 7 gets a clear error or a
counted policy, and the manifest's counts equal a direct count of the corpus."""

import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

import w2v
from w2v import TrainConfig
from w2v.cli import main
from w2v.pipeline import run
from w2v.trainer import FAULT_ENV

from .corpora import write_planted_corpus
from .test_driver import planted_precision

REPO = Path(__file__).resolve().parents[1]


def precision_of(out: str) -> float:
    """Planted-group precision@5 of an artifact's vectors (1.0: every neighbour from the word's group)."""
    kv = w2v.load(out)
    return planted_precision(kv.index_to_key, kv.vectors)


# ---------------------------------------------------------------------- pure parts (no Ray)


def _bad_inputs(tmp: Path) -> list[tuple[str, list[str], str]]:
    """(name, argv, what the one error line must say) for every bad input caught before Ray starts."""
    (tmp / "c.txt").write_text("a b c\n")
    (tmp / "empty").mkdir()
    (tmp / "empty" / "zero.txt").write_bytes(b"")
    (tmp / "empty" / "zero.txt.gz").write_bytes(b"")
    (tmp / "art").mkdir()
    (tmp / "art" / "manifest.json").write_text("{}")
    return [
        ("nonexistent path", [str(tmp / "nope.txt")], "nope.txt: no such file or directory"),
        ("nonexistent prefix", [str(tmp / "nope" / "*.txt")], "the pattern matches no file"),
        ("empty corpus (zero-byte files)", [str(tmp / "empty")], "every file is empty"),
        ("duplicate shard URIs", [str(tmp / "c.txt"), str(tmp / "c.txt")], "c.txt is given twice"),
        ("duplicate through a directory", [str(tmp / "c.txt"), str(tmp)], "c.txt is given twice"),
        ("output holds an artifact", [str(tmp / "c.txt"), "--out", str(tmp / "art")], "already holds an artifact"),
        ("vector size", [str(tmp / "c.txt"), "--vector-size", "100000"], "vector_size=100000"),
        ("negative epochs", [str(tmp / "c.txt"), "--epochs", "-3"], "epochs=-3"),
        ("no training objective", [str(tmp / "c.txt"), "--negative", "0"], "negative=0 and hs=false"),
        ("learning rates", [str(tmp / "c.txt"), "--min-alpha", "0.5"], "min_alpha=0.5"),
        ("checkpoint interval", [str(tmp / "c.txt"), "--checkpoint-interval", "-1"], "checkpoint_interval=-1.0"),
        ("max restarts", [str(tmp / "c.txt"), "--max-restarts", "-1"], "max_restarts=-1"),
        ("waiting for nodes without a count", [str(tmp / "c.txt"), "--wait-for-nodes", "60"],
         "wait_for_nodes=60.0: needs actors"),
        ("resume without a checkpoint", [str(tmp / "c.txt"), "--resume"], "--resume: there is no checkpoint"),
    ]


def test_every_bad_input_is_one_named_error_before_ray_starts(tmp_path, capsys, ray_cannot_start):
    """The bad-input list of issue 7 (the rest needs Ray: see the accounting test): exit 2, one line."""
    seen = []
    for name, argv, message in _bad_inputs(tmp_path):
        if "--out" not in argv:
            argv = argv + ["--out", str(tmp_path / "out")]
        assert main(["train", *argv]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith("w2v: error: ") and err.count("\n") == 1 and message in err, (name, err)
        seen.append(f"{name}: {err.strip()[len('w2v: error: '):][:90]}")
    assert not (tmp_path / "out").exists()
    print("\n".join(seen))


# ---------------------------------------------------------------------- exact accounting (Ray)


def _direct_count(path: Path, policy: str) -> dict:
    """Per file, counted without w2v: words, sentences and lines holding bytes that are not UTF-8."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    words, sentences, bad = Counter(), 0, 0
    for raw in data.split(b"\n"):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            bad += 1
            if policy == "skip":
                continue
            raise
        tokens = line.split()
        words.update(tokens)
        sentences += bool(tokens)
    return {"words": words, "sentences": sentences, "bad_lines": bad}


@pytest.mark.slow
def test_manifest_counts_equal_a_direct_count_with_dirty_shards(ray_cluster, tmp_path):
    """CRLF, non-UTF-8 lines (skipped), a truncated .gz (skipped), a zero-byte file, clean files."""
    root = tmp_path / "dirty"
    write_planted_corpus(root, files=3, sentences_per_file=600, compress=("", ".gz"))
    crlf = root / "part-000.txt"
    crlf.write_bytes(crlf.read_bytes().replace(b"\n", b"\r\n"))
    (root / "latin1.txt").write_bytes(b"g0w1 g0w2 caf\xe9 the\n" * 7 + b"g1w1 g1w2 of the\r\n" * 50 + b"\xff\xfe\n")
    good_gz = (root / "part-001.txt.gz").read_bytes()
    (root / "truncated.txt.gz").write_bytes(good_gz[: len(good_gz) // 2])
    (root / "zero.txt").write_bytes(b"")
    (root / "zero.txt.gz").write_bytes(b"")  # not even a gzip header: left out, and listed as left out
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), vector_size=16, epochs=1, eval=False,
                         unicode_errors="skip", on_bad_shard="skip", checkpoint_interval=0)
    manifest = run(config).manifest.to_json()
    c = manifest["corpus"]
    by_name = {s["uri"].rsplit("/", 1)[1]: s for s in c["shards"]}
    assert set(by_name) == {"part-000.txt", "part-001.txt.gz", "part-002.txt", "latin1.txt", "truncated.txt.gz",
                            "zero.txt", "zero.txt.gz"}
    assert c["skipped_shards"] == [str(root / n) for n in ("truncated.txt.gz", "zero.txt", "zero.txt.gz")]
    truncated = by_name.pop("truncated.txt.gz")
    assert truncated["words"] == truncated["sentences"] == 0 and "corrupt or truncated" in truncated["skipped"]
    assert all(by_name[n]["skipped"] == "empty file" and by_name[n]["bytes"] == 0 for n in ("zero.txt", "zero.txt.gz"))
    direct = {name: _direct_count(root / name, "skip") for name in by_name}
    total = sum((d["words"] for d in direct.values()), Counter())
    kept = {w for w, n in total.items() if n >= config.min_count}
    for name, shard in by_name.items():
        d = direct[name]
        assert shard["words"] == sum(d["words"].values()), name
        assert shard["sentences"] == d["sentences"], name
        assert shard["bad_lines"] == d["bad_lines"], name
        assert shard["kept_words"] == sum(n for w, n in d["words"].items() if w in kept), name
        assert shard["bytes"] == (root / name).stat().st_size
    assert by_name["latin1.txt"]["bad_lines"] == 8
    assert c["words"] == sum(total.values()) == sum(s["words"] for s in c["shards"])
    assert c["kept_words"] == sum(s["kept_words"] for s in c["shards"]) == manifest["vocabulary"]["retained_words"]
    assert c["sentences"] == sum(s["sentences"] for s in c["shards"])
    assert c["bad_lines"] == sum(s["bad_lines"] for s in c["shards"]) == 8
    assert c["bytes"] == sum(s["bytes"] for s in c["shards"])
    training = manifest["training"]
    assert sum(a["spool_words"] for a in training["actors"]) == c["words"]  # every word trained once per epoch
    assert sum(a["spool_bad_lines"] for a in training["actors"]) == 8
    assert training["words"] == c["words"] * config.epochs
    print(f"\naccounting: {c['words']} words, {c['kept_words']} kept, {c['sentences']} sentences, "
          f"{c['bad_lines']} bad lines skipped, {len(c['skipped_shards'])} shard skipped, {c['bytes']} bytes")


@pytest.mark.slow
def test_a_corrupt_shard_fails_the_job_by_default_naming_it(ray_cluster, tmp_path):
    root = tmp_path / "c"
    write_planted_corpus(root, files=2, sentences_per_file=300, compress=(".gz",))
    data = (root / "part-001.txt.gz").read_bytes()
    (root / "part-001.txt.gz").write_bytes(data[: len(data) // 2])
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), eval=False)
    with pytest.raises(w2v.CorpusError, match="part-001.txt.gz is a corrupt or truncated archive"):
        run(config)
    assert not (tmp_path / "art").exists()


# ---------------------------------------------------------------------- faults (Ray)


@pytest.mark.slow
@pytest.mark.parametrize("actors, where, after, epochs, transport", [
    (2, "epoch", 20, 30, "auto"), (2, "exchange", 20, 30, "auto"), (1, "epoch", 40, 50, "auto"),
    (2, "epoch", 28.5, 30, "auto"),
    (2, "exchange", 20, 30, "object-store")])  # auto: the collective (torch is in the test environment)
def test_an_actor_process_that_dies_is_restarted_and_the_job_finishes(ray_cluster, planted_corpus, tmp_path,
                                                                     monkeypatch, capfd, actors, where, after,
                                                                     epochs, transport):
    """Actor 0's process exits (os._exit) after epoch 20 of 30 (alone: 40 of 50; or in the middle of epoch 29,
    the last but one), while training or in the middle of the next exchange; Ray restarts it, and it trains
    again from exactly the weights the driver sent it (its digest, as the new process computed it after loading
    them), at the learning rate of the global schedule at its restart round: with an exchange, the round the
    next exchange takes (at most the chunks it had trained past it are trained again); alone, its last snapshot.

    An epoch of this corpus takes about 0.04 s on an idle machine: the fault comes late enough for
    checkpoints (every 0.1 s) to be taken before it, however fast the machine is. Alone, the actor restarts
    from the driver's last snapshot, which the driver takes when it looks (every 0.5 s): 40 epochs (1.6 s)
    make several; with an exchange it restarts from the global weights, 20 epochs (0.8 s) before the fault.
    Ten epochs follow it (the middle-of-epoch case: one and a half), for the checkpoints after a restart."""
    from w2v import sync
    from w2v.trainer import TrainerActor

    root, counts = planted_corpus
    monkeypatch.setenv(FAULT_ENV, f"0:{after}:{where}")
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), actors=actors, vector_size=32,
                         epochs=epochs, seed=3, eval=False, checkpoint_interval=0.1, spool_dir=str(tmp_path / "spool"),
                         transport=transport)
    manifest = run(config).manifest.to_json()
    assert manifest["training"]["transport"] == ("none" if actors == 1 else
                                                 "collective" if transport == "auto" else transport)
    # Ray warns (in C++, on stderr) when a restartable actor's constructor needs object-store arguments that
    # could be gone at restart; ours takes small ones only, the vocabulary comes through `spool`.
    assert "constructor arguments in the object store" not in capfd.readouterr().err
    faults = manifest["training"]["faults"]
    assert faults["restarts"] == 1 and faults["replacements"] == 0 and faults["notices"] == 0, faults
    event = faults["events"][0]
    assert event["actor"] == 0 and event["node"] == event["old_node"]  # Ray restarted it on its node
    assert not event["noticed"]
    chunks = event["chunks_per_epoch"]
    # It restarts from a position taken before it died, not from scratch, and not after what it had done.
    assert 1 <= event["restart_epoch"] <= event["epochs_done_before"], event
    assert event["restart_round"] <= event["rounds_done_before"], event
    if where == "epoch":  # it died right after the planned chunk; in an exchange, a poll may have seen more
        assert event["rounds_done_before"] <= round(after * chunks), event
    else:
        assert event["cause"].startswith("died during an exchange"), event
    if actors == 2:  # the round the next exchange takes: it had trained at most LAG chunks past it
        assert event["rounds_done_before"] - event["restart_round"] <= TrainerActor.LAG, event
    # From exactly the weights sent (the global weights; alone, its last snapshot), not its seeded ones ...
    assert event["start_digest"] == event["sent_digest"] != "", event
    actors_out = manifest["training"]["actors"]
    assert actors_out[0]["start_digest"] == event["start_digest"] and actors_out[0]["start_round"] == \
        event["restart_round"]
    if actors == 2:
        assert actors_out[1]["start_round"] == 0 and actors_out[1]["start_digest"] != event["start_digest"]
    # ... at the global schedule's learning rate for that round, not alpha again.
    assert event["start_alpha"] == sync.chunk_alphas(config.alpha, config.min_alpha, config.epochs * chunks,
                                                     event["restart_round"])[0] < config.alpha
    words_0 = actors_out[0]["spool_words"]
    # Exact to a chunk: the chunks it had trained since the round it restarts at, and the one in flight.
    assert faults["words_retrained"] == round((event["rounds_done_before"] + 1 - event["restart_round"]) * words_0
                                              / chunks), event
    # Lost: at most every chunk it trained before the round it restarts at (each row's share of a chunk's words,
    # for the chunks since that row was last exchanged); alone, nothing (the restart is from its own snapshot).
    most = round(event["restart_round"] * words_0 / chunks) if actors == 2 else 0
    assert faults["words_lost"] == event["words_lost"] and 0 <= event["words_lost"] <= most, event
    assert actors_out[0]["restarted"] is True
    # Restarted on its node, it took over its dead predecessor's finished spool instead of reading its shards again.
    assert event["spool_reused"] and actors_out[0]["spool_reused"], event
    precision = precision_of(config.out)
    print(f"\n{actors} actor(s), actor 0 killed after epoch {after} ({where}): restarted at round "
          f"{event['restart_round']} (epoch {event['restart_epoch']}) in {event['seconds']} s, "
          f"{faults['words_retrained']} words retrained, about {event['words_lost']} lost, "
          f"planted precision@5 {precision:.2f}")
    assert precision >= 0.9
    assert not Path(config.checkpoint_location).exists()  # the job finished: its checkpoints are gone
    # The actors made the spool directory; the dead process could not remove its spool, its successor on that
    # host did.
    assert not list((tmp_path / "spool").iterdir())


def _wait_for_checkpoint(location: str, epoch: int, timeout: float = 60.0) -> dict:
    """The position of the first checkpoint at `epoch` or later (polls the checkpoint directory)."""
    from w2v import checkpoint

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = checkpoint.latest(location)
        if found is not None and found.epoch >= epoch:
            return found.state["position"]
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint at epoch {epoch} in {location} within {timeout} s")


@pytest.mark.slow
def test_a_node_that_leaves_gets_its_shards_reassigned_and_the_job_finishes(ray_cluster, planted_corpus, tmp_path):
    """Three actors on three nodes; the third node is removed from the cluster mid-training: a replacement
    actor on a remaining node takes its shards from the last full exchange, and the vectors are still good."""
    root, _ = planted_corpus
    third = ray_cluster.add_node(num_cpus=1, object_store_memory=256 * 2**20)
    ray_cluster.wait_for_nodes()
    (tmp_path / "spool").mkdir()
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), actors=3, vector_size=32, epochs=60,
                         seed=3, eval=False, checkpoint_interval=0.2, spool_dir=str(tmp_path / "spool"))

    def remove_third_node(removed: dict) -> None:
        ray_cluster.remove_node(third)
        removed["at"] = time.monotonic()

    try:
        manifest, removed = _run_with_a_fault_after_epoch_3(config, remove_third_node)
    finally:
        if third in ray_cluster.worker_nodes:
            ray_cluster.remove_node(third)
    faults = manifest["training"]["faults"]
    assert faults["replacements"] == 1, faults
    event = faults["events"][0]
    assert event["kind"] == "replaced" and event["old_node"] == third.node_id and event["node"] != third.node_id
    assert event["restart_epoch"] >= 3
    # From the global weights the driver sent, at the round the next exchange takes (its spool may be taken over:
    # the simulated nodes are one host, with one disk).
    assert event["start_digest"] == event["sent_digest"] and not event["noticed"]
    assert 0 <= event["rounds_done_before"] - event["restart_round"] <= 2, event
    actors = manifest["training"]["actors"]
    assert third.node_id not in {a["node_id"] for a in actors}
    assert sum(a["spool_words"] for a in actors) == manifest["corpus"]["words"]  # every shard still trained
    precision = precision_of(config.out)
    print(f"\nnode removed at checkpoint epoch {removed['position']['epoch']}: actor {event['actor']} replaced on "
          f"node {event['node'][:8]} in {event['seconds']} s, from epoch {event['restart_epoch']}, "
          f"{event['words_retrained']} words retrained, planted precision@5 {precision:.2f}")
    assert precision >= 0.9
    # Every actor that finished removed its spool; the lost node's actor may still have been exiting when its
    # replacement looked (a later actor on that host removes it then).
    left = [p.name for p in (tmp_path / "spool").iterdir()]
    assert len(left) <= 1 and not any(f"-{a['pid']}-" in name for a in actors for name in left), (left, actors)


def _run_beside(config: TrainConfig, fault, seconds: float = 60.0) -> dict:
    """Run the job while `fault()` runs on a thread (given `seconds` to end after the job); the manifest."""
    thread = threading.Thread(target=fault, daemon=True)
    thread.start()
    try:
        return run(config).manifest.to_json()
    finally:
        thread.join(timeout=seconds)


def _run_with_a_fault_after_epoch_3(config: TrainConfig, fault) -> tuple[dict, dict]:
    """Run the job; once it has a checkpoint at epoch 3 (its `position` noted), `fault(noted)` runs on a thread
    while training goes on. Returns the manifest and what was noted."""
    noted: dict = {}

    def wait_then_fault():
        noted["position"] = _wait_for_checkpoint(config.checkpoint_location, epoch=3)
        fault(noted)

    return _run_beside(config, wait_then_fault), noted


def _trainer_pids(cluster) -> list[int]:
    """Processes Ray titled as a trainer actor ("ray::TrainerActor...") whose parent is a raylet of `cluster`
    (the test session's, not a benchmark's running beside it), read from /proc."""
    from ray._private import ray_constants

    raylets = {info.process.pid for node in [cluster.head_node, *cluster.worker_nodes]
               for info in node.all_processes.get(ray_constants.PROCESS_TYPE_RAYLET, [])}
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or not (entry / "cmdline").read_bytes().startswith(b"ray::TrainerActor"):
                continue
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # gone meanwhile
            continue
        if parent in raylets:
            pids.append(int(entry.name))
    return sorted(pids)


def _check_noticed(manifest: dict, kind: str, cause: str) -> dict:
    """A preemption notice's one event: the actor moved after an exchange of every row, so nothing was lost
    and at most the chunks it trained past that exchange (LAG, and the one in flight) are trained again."""
    from w2v.trainer import TrainerActor

    faults = manifest["training"]["faults"]
    assert faults["notices"] == 1 and len(faults["events"]) == 1, faults
    event = faults["events"][0]
    assert event["noticed"] and event["kind"] == kind and cause in event["cause"], event
    assert event["words_lost"] == faults["words_lost"] == 0, event
    assert event["rounds_done_before"] - event["restart_round"] <= TrainerActor.LAG, event
    assert event["start_digest"] == event["sent_digest"], event
    return event


@pytest.mark.slow
def test_a_draining_node_is_a_notice_its_actor_moves_after_a_full_exchange_and_loses_nothing(
        ray_cluster, planted_corpus, tmp_path):
    """Ray drains the third node (what the autoscaler does on a spot node's preemption notice, and
    `ray drain-node` by hand) mid-training: the driver makes the next exchange move every row, then
    replaces that node's actor on another node before the node goes."""
    import ray
    from ray.core.generated import autoscaler_pb2

    root, _ = planted_corpus
    third = ray_cluster.add_node(num_cpus=1, object_store_memory=256 * 2**20)
    ray_cluster.wait_for_nodes()
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), actors=3, vector_size=32, epochs=60,
                         seed=3, eval=False, checkpoint_interval=0.2, spool_dir=str(tmp_path / "spool"))

    def drain_third_node(drained: dict) -> None:
        gcs = ray._raylet.GcsClient(address=ray_cluster.address)
        deadline_ms = int((time.time() + 120) * 1000)  # a spot node's two minutes
        drained["accepted"] = gcs.drain_node(third.node_id, autoscaler_pb2.DrainNodeReason.Value(
            "DRAIN_NODE_REASON_PREEMPTION"), "spot preemption (test)", deadline_ms)

    try:
        manifest, drained = _run_with_a_fault_after_epoch_3(config, drain_third_node)
    finally:
        ray_cluster.remove_node(third)
    assert drained["accepted"][0], drained
    event = _check_noticed(manifest, "replaced", "is draining (a preemption notice")
    assert event["old_node"] == third.node_id != event["node"]
    assert manifest["training"]["faults"]["restarts"] == 0  # a notice is no crash: --max-restarts is untouched
    assert third.node_id not in {a["node_id"] for a in manifest["training"]["actors"]}
    precision = precision_of(config.out)
    print(f"\nnode drained after checkpoint epoch {drained['position']['epoch']}: actor {event['actor']} moved to "
          f"node {event['node'][:8]} in {event['seconds']} s at round {event['restart_round']}, "
          f"{event['words_retrained']} words retrained, {event['words_lost']} lost, planted precision@5 {precision:.2f}")
    assert precision >= 0.9


@pytest.mark.slow
def test_sigterm_to_a_trainer_is_a_notice_it_is_restarted_after_a_full_exchange_and_loses_nothing(
        ray_cluster, planted_corpus, tmp_path):
    """SIGTERM to one trainer actor's process (a node shutting down, an operator's kill): instead of exiting
    with its un-exchanged changes, it reports the notice; the driver exchanges every row, then starts its
    successor on the same node."""
    import signal as signals

    root, _ = planted_corpus
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), actors=2, vector_size=32, epochs=60,
                         seed=3, eval=False, checkpoint_interval=0.2, spool_dir=str(tmp_path / "spool"))

    def terminate_a_trainer(sent: dict) -> None:
        sent["pid"] = _trainer_pids(ray_cluster)[0]
        os.kill(sent["pid"], signals.SIGTERM)

    manifest, sent = _run_with_a_fault_after_epoch_3(config, terminate_a_trainer)
    event = _check_noticed(manifest, "restarted", "SIGTERM (a preemption notice)")
    assert event["node"] == event["old_node"]  # its node is healthy: the successor runs there
    assert sent["pid"] not in _trainer_pids(ray_cluster)  # it is gone
    assert sent["pid"] not in {a["pid"] for a in manifest["training"]["actors"]}
    print(f"\nSIGTERM to pid {sent['pid']} after checkpoint epoch {sent['position']['epoch']}: actor "
          f"{event['actor']} restarted in {event['seconds']} s at round {event['restart_round']}, "
          f"{event['words_retrained']} words retrained, {event['words_lost']} lost")
    assert precision_of(config.out) >= 0.9


@pytest.mark.slow
def test_a_killed_driver_resumes_from_its_checkpoint(ray_cluster, planted_corpus, tmp_path, capsys):
    """The driver runs as its own process on the cluster and is SIGKILLed after a checkpoint; `--resume`
    refuses other parameters or a changed corpus, then continues from the checkpoint on one actor instead
    of two (cluster settings may change) and finishes."""
    import shutil

    from w2v import checkpoint

    root = tmp_path / "corpus"
    shutil.copytree(planted_corpus[0], root)
    out = tmp_path / "art"
    argv = ["train", str(root), "--out", str(out), "--address", ray_cluster.address, "--vector-size", "32",
            "--epochs", "60", "--seed", "3", "--checkpoint-interval", "0.3", "--no-eval"]
    log = open(tmp_path / "driver.log", "w")
    driver = subprocess.Popen([sys.executable, "-m", "w2v.cli", *argv], stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
    try:
        position = _wait_for_checkpoint(f"{out}.checkpoint", epoch=5, timeout=120)
    finally:
        driver.kill()
        driver.wait(timeout=30)
    assert driver.returncode == -9, (tmp_path / "driver.log").read_text()[-2000:]
    assert not (out / "manifest.json").exists()  # no artifact from the killed driver
    killed_at = checkpoint.latest(f"{out}.checkpoint")

    assert main([*argv, "--resume", "--epochs", "61"]) == 2
    assert "epochs: 60 in the checkpoint, 61 now" in capsys.readouterr().err
    touched = root / "part-002.txt"
    stat = touched.stat()
    os.utime(touched, (stat.st_atime, stat.st_mtime + 10))
    assert main([*argv, "--resume"]) == 2
    assert "the corpus changed since the checkpoint" in capsys.readouterr().err
    os.utime(touched, (stat.st_atime, stat.st_mtime))
    assert main([*argv]) == 2  # a fresh start would throw the checkpoint away: it needs --overwrite
    assert "holds a checkpoint of an unfinished job: pass --resume" in capsys.readouterr().err

    assert main([*argv, "--resume", "--actors", "1", "-q"]) == 0  # the cluster may change: one actor now
    manifest = json.loads((out / "manifest.json").read_text())
    training = manifest["training"]
    assert len(training["actors"]) == 1
    assert training["resumed_from"]["checkpoint"] == killed_at.number
    assert training["resumed_from"]["corpus_counted_again"] is False  # the killed job's counts (`counted`)
    assert training["start_epoch"] == killed_at.epoch >= position["epoch"] >= 5
    # The resumed actor started from exactly the checkpoint's weights, read here from its npz, at the schedule's
    # learning rate for the checkpoint's round.
    from w2v import sync
    from w2v.recovery import weights_digest

    resumed = training["actors"][0]
    assert resumed["start_digest"] == weights_digest(killed_at.weights)
    assert resumed["start_round"] == training["start_round"] > 0
    assert resumed["start_alpha"] == sync.chunk_alphas(0.025, 0.0001, 60 * training["chunks_per_epoch"],
                                                       training["start_round"])[0]
    per_epoch = manifest["corpus"]["words"]
    assert training["words_trained_this_run"] == per_epoch * (60 - killed_at.epoch)
    assert not Path(f"{out}.checkpoint").exists()
    precision = precision_of(str(out))
    print(f"\ndriver killed after checkpoint {killed_at.number} (epoch {killed_at.epoch} of 60); resumed: "
          f"{training['words_trained_this_run']} words trained by the second driver, "
          f"planted precision@5 {precision:.2f}")
    assert precision >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("signame, actors", [("SIGINT", 2), ("SIGTERM", 1)])
def test_a_stopped_driver_writes_a_checkpoint_and_prints_the_command_that_continues(
        ray_cluster, planted_corpus, tmp_path, capsys, signame, actors):
    """Ctrl-C (SIGINT) or SIGTERM to the driver mid-training: it finishes the round with a full exchange,
    writes a checkpoint whatever the interval, removes its actors' spools, exits 128 + the signal's
    number and prints the command that continues; that command finishes from the checkpoint."""
    import signal as signals

    from w2v import checkpoint

    out = tmp_path / "art"
    (tmp_path / "spool").mkdir()
    argv = ["train", str(planted_corpus[0]), "--out", str(out), "--address", ray_cluster.address,
            "--vector-size", "32", "--epochs", "60", "--seed", "3", "--actors", str(actors),
            "--checkpoint-interval", "3600", "--no-eval", "--spool-dir", str(tmp_path / "spool")]
    log_path = tmp_path / "driver.log"
    with open(log_path, "w") as log:
        driver = subprocess.Popen([sys.executable, "-m", "w2v.cli", *argv], stdout=log, stderr=subprocess.STDOUT,
                                  env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 180
            while "epoch 3/60 done" not in log_path.read_text() and driver.poll() is None:
                assert time.monotonic() < deadline, log_path.read_text()[-2000:]
                time.sleep(0.05)
            driver.send_signal(getattr(signals, signame))
            driver.wait(timeout=120)
        finally:
            driver.kill()
    text = log_path.read_text()
    signum = getattr(signals, signame).value
    assert driver.returncode == 128 + signum, text[-2000:]
    assert not (out / "manifest.json").exists()  # no artifact
    stopped = checkpoint.latest(f"{out}.checkpoint")  # the interval never came: this is the stop's own
    # the exchange lags the fastest actor by up to two chunks: the position is at least the epoch before
    assert stopped is not None and stopped.number == 1 and stopped.epoch >= 2, text[-2000:]
    error_lines = [line for line in text.splitlines() if line.startswith("w2v: ")]
    assert error_lines[0].startswith(f"w2v: error: stopped by {signame}: checkpoint 1 at epoch {stopped.epoch} "
                                     f"of 60"), error_lines
    assert error_lines[1] == f"w2v: continue with: w2v {' '.join(argv)} --resume", error_lines
    assert "Traceback" not in text
    assert not list((tmp_path / "spool").iterdir())  # the actors removed their spools

    assert main([*argv, "--resume", "-q"]) == 0
    training = json.loads((out / "manifest.json").read_text())["training"]
    assert training["resumed_from"]["checkpoint"] == 1
    assert training["start_round"] == stopped.round(training["chunks_per_epoch"]) > 0
    from w2v.recovery import weights_digest

    assert {a["start_digest"] for a in training["actors"]} == {weights_digest(stopped.weights)}
    # What the stopped actors had trained past the checkpoint is trained again, counted to a chunk: at most the
    # chunks each trained past the stop's exchange (LAG) and the one in flight.
    from w2v.trainer import TrainerActor

    chunk_words = [a["spool_words"] / training["chunks_per_epoch"] for a in training["actors"]]
    assert 0 < training["resumed_from"]["words_retrained"] <= (TrainerActor.LAG + 1) * sum(chunk_words) + actors
    assert precision_of(str(out)) >= 0.9


@pytest.mark.slow
def test_an_actor_that_dies_beyond_max_restarts_fails_the_job_with_a_checkpoint_to_resume(
        ray_cluster, planted_corpus, tmp_path, monkeypatch, capsys):
    """--max-restarts 0 and actor 0 dies after epoch 20: one line naming the actor, exit code 4, a checkpoint
    of the global weights although the interval never came, and the command that continues; it does."""
    from w2v import checkpoint

    out = tmp_path / "art"
    argv = ["train", str(planted_corpus[0]), "--out", str(out), "--address", ray_cluster.address,
            "--vector-size", "32", "--epochs", "30", "--seed", "3", "--actors", "2", "--max-restarts", "0",
            "--checkpoint-interval", "3600", "--no-eval", "-q"]
    monkeypatch.setenv(FAULT_ENV, "0:20")  # the checkpoint is the failure's own: nothing waits for an interval
    assert main(argv) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2].startswith("w2v: error: training failed: trainer actor 0 died more often than --max-restarts 0 "
                              "allows: "), err
    assert "checkpoint 1 at epoch " in err[-2] and f"written to {out}.checkpoint" in err[-2], err
    assert err[-1] == f"w2v: continue with: w2v {' '.join(argv)} --resume", err
    saved = checkpoint.latest(f"{out}.checkpoint")
    assert saved is not None and 1 <= saved.epoch <= 21
    monkeypatch.delenv(FAULT_ENV)
    assert main([*argv, "--resume"]) == 0
    assert json.loads((out / "manifest.json").read_text())["training"]["resumed_from"]["checkpoint"] == 1
    assert precision_of(str(out)) >= 0.9


# ---------------------------------------------------------------------- faults before and after training (Ray)
# Issue 26: every stage, not only mid-training. A trainer killed while the driver places, spools or starts
# the actors is brought back and recorded (`training.faults.events[].stage`); a counting, merging or
# evaluation task whose worker dies is run again by Ray and recorded (`faults.tasks`).

_STAGES = {"info": "placing", "spool": "spooling", "start": "starting"}


def _start_up_config(root: Path, tmp_path: Path, actors: int = 2, epochs: int = 5) -> TrainConfig:
    return TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), actors=actors, vector_size=32, epochs=epochs,
                       seed=3, eval=False, checkpoint_interval=0, spool_dir=str(tmp_path / "spool"))


def _check_start_up_event(manifest: dict, stage: str, kind: str = "restarted") -> dict:
    """One trainer fault before training, recorded as such: nothing retrained or lost, every actor's pid the
    process that trained, every word of the corpus trained."""
    faults = manifest["training"]["faults"]
    assert faults[kind + "s" if kind == "restart" else {"restarted": "restarts", "replaced": "replacements"}[kind]] \
        == 1, faults
    assert len(faults["events"]) == 1, faults
    event = faults["events"][0]
    assert event["stage"] == stage and event["kind"] == kind, event
    assert event["words_retrained"] == event["words_lost"] == faults["words_retrained"] == 0, event
    actors = manifest["training"]["actors"]
    assert sum(a["spool_words"] for a in actors) == manifest["corpus"]["words"]  # every shard trained, once
    return event


@pytest.mark.slow
@pytest.mark.parametrize("where", ["info", "spool", "start"])
def test_a_trainer_that_dies_while_the_job_starts_is_restarted_and_recorded(
        ray_cluster, planted_corpus, tmp_path, monkeypatch, where):
    """Actor 0's first process exits (os._exit) as the driver's first call of a start-up stage arrives: Ray
    restarts it, the driver does that stage again for it, and the manifest counts the restart with its stage."""
    root, _ = planted_corpus
    monkeypatch.setenv(FAULT_ENV, f"0:0:{where}")
    config = _start_up_config(root, tmp_path)
    manifest = run(config).manifest.to_json()
    event = _check_start_up_event(manifest, _STAGES[where])
    assert event["actor"] == 0 and event["node"] == event["old_node"]
    actor = manifest["training"]["actors"][0]
    assert actor["restarted"] is True and actor["start_round"] == 0
    assert precision_of(config.out) >= 0.9
    assert not list((tmp_path / "spool").iterdir())  # the successor removed what the dead process spooled


@pytest.mark.slow
def test_a_trainer_that_dies_in_the_first_exchange_is_restarted_from_the_initial_weights(
        ray_cluster, planted_corpus, tmp_path, monkeypatch):
    root, _ = planted_corpus
    monkeypatch.setenv(FAULT_ENV, "0:0:exchange")
    config = _start_up_config(root, tmp_path)
    manifest = run(config).manifest.to_json()
    faults = manifest["training"]["faults"]
    assert faults["restarts"] == 1 and len(faults["events"]) == 1, faults
    event = faults["events"][0]
    assert event["stage"] == "training" and event["cause"].startswith("died during an exchange"), event
    assert event["restart_round"] == 0 and event["start_digest"] == event["sent_digest"], event
    assert precision_of(config.out) >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_a_trainer_killed_as_soon_as_it_exists_is_survived_and_counted(ray_cluster, planted_corpus, tmp_path,
                                                                       attempt):
    """The operator's bad luck of issue 26, three times: SIGKILL to the first trainer process as soon as it
    exists (placing or spooling, whichever it is in). The job finishes, and the manifest counts one restart
    (before: 1 try in 3 failed with ActorUnavailableError, and the others recorded none)."""
    import signal

    root, _ = planted_corpus
    config = _start_up_config(root, tmp_path)
    before = set(_trainer_pids(ray_cluster))
    killed: list[int] = []

    def kill_the_first_trainer():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            fresh = [pid for pid in _trainer_pids(ray_cluster) if pid not in before]
            if fresh:
                os.kill(fresh[0], signal.SIGKILL)
                killed.append(fresh[0])
            time.sleep(0.005)

    manifest = _run_beside(config, kill_the_first_trainer)
    assert killed, "no trainer process appeared"
    faults = manifest["training"]["faults"]
    assert faults["restarts"] + faults["replacements"] == 1, faults
    event = faults["events"][0]
    print(f"\ntry {attempt}: trainer {killed[0]} killed; recorded while {event['stage']}: {event['cause']}")
    assert event["stage"] in ("placing", "spooling", "starting", "training"), event
    assert killed[0] not in {a["pid"] for a in manifest["training"]["actors"]}
    assert precision_of(config.out) >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["info", "spool", "start"])
def test_a_node_removed_while_the_job_starts_gets_its_actor_replaced(ray_cluster, planted_corpus, tmp_path,
                                                                      monkeypatch, stage):
    """Three actors on three nodes; the third node is removed while every actor is inside the start-up stage
    (the actors wait there, `PAUSE_ENV`): its actor is replaced on a remaining node, which spools its shards,
    and the manifest records the replacement and the stage."""
    from w2v.trainer import PAUSE_ENV

    root, _ = planted_corpus
    third = ray_cluster.add_node(num_cpus=1, object_store_memory=256 * 2**20)
    ray_cluster.wait_for_nodes()
    pause = tmp_path / "pause"
    pause.mkdir()
    monkeypatch.setenv(PAUSE_ENV, f"{stage}:{pause}")
    config = _start_up_config(root, tmp_path, actors=3)

    def remove_third_node_once_its_actor_waits():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (pause / f"{third.node_id}.ready").exists():
            time.sleep(0.05)
        ray_cluster.remove_node(third)
        (pause / "release").touch()

    try:
        manifest = _run_beside(config, remove_third_node_once_its_actor_waits, seconds=130)
    finally:
        if third in ray_cluster.worker_nodes:
            ray_cluster.remove_node(third)
    event = _check_start_up_event(manifest, _STAGES[stage], kind="replaced")
    assert event["old_node"] == third.node_id and event["node"] != third.node_id
    assert third.node_id not in {a["node_id"] for a in manifest["training"]["actors"]}
    assert precision_of(config.out) >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["counting words", "merging counts", "kept words"])
def test_a_counting_task_whose_worker_dies_is_run_again_and_recorded(ray_cluster, tmp_path, monkeypatch, stage):
    """The first attempt of the stage's first task exits its worker: Ray runs it again, every word is still
    counted exactly once, and the manifest's `faults.tasks` names the stage, the task and its two attempts."""
    from w2v.retries import TASK_EXIT_ENV

    root = tmp_path / "corpus"
    counts = write_planted_corpus(root, files=3, sentences_per_file=400)
    monkeypatch.setenv(TASK_EXIT_ENV, f"{stage}:0")
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), vector_size=16, epochs=1, eval=False,
                         checkpoint_interval=0)
    manifest = run(config).manifest.to_json()
    retried = manifest["faults"]["tasks"]
    assert [(t["stage"], t["task"], t["attempts"]) for t in retried] == [(stage, 0, 2)], retried
    assert manifest["corpus"]["words"] == sum(counts.values())
    assert manifest["corpus"]["kept_words"] == manifest["vocabulary"]["retained_words"] == \
        sum(n for n in counts.values() if n >= config.min_count)


@pytest.mark.slow
def test_an_undisturbed_job_records_no_fault(trained_job):
    manifest = trained_job[0].manifest.to_json()
    assert manifest["faults"] == {"tasks": []}
    assert manifest["training"]["faults"]["events"] == []


@pytest.mark.slow
def test_a_node_removed_while_it_counts_has_its_task_run_again_elsewhere_and_recorded(ray_cluster, tmp_path,
                                                                                      monkeypatch):
    """Six 2.5 MB files, a counting task each, over three nodes; the first attempt of every counting task waits
    (`TASK_PAUSE_ENV`) until the test has removed the third node while one of its tasks ran there. Ray runs
    that task again on a remaining node: every word is counted once, and `faults.tasks` names it."""
    from w2v.retries import TASK_PAUSE_ENV

    root = tmp_path / "corpus"
    counts = write_planted_corpus(root, files=6, sentences_per_file=40_000, compress=("",))
    assert all(2_000_000 < p.stat().st_size < 4_000_000 for p in root.iterdir())  # one counting task per file
    third = ray_cluster.add_node(num_cpus=1, object_store_memory=256 * 2**20)
    ray_cluster.wait_for_nodes()
    pause = tmp_path / "pause"
    pause.mkdir()
    monkeypatch.setenv(TASK_PAUSE_ENV, f"counting words:{pause}")
    removed: dict = {}

    def remove_the_third_node_under_a_task():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(pause.glob(f"{third.node_id}-*.ready")):
            time.sleep(0.05)
        removed["tasks"] = [int(p.stem.rsplit("-", 1)[1]) for p in pause.glob(f"{third.node_id}-*.ready")]
        ray_cluster.remove_node(third)
        (pause / "release").touch()

    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), actors=2, vector_size=16, epochs=1,
                         eval=False, checkpoint_interval=0)
    try:
        manifest = _run_beside(config, remove_the_third_node_under_a_task, seconds=130)
    finally:
        if third in ray_cluster.worker_nodes:
            ray_cluster.remove_node(third)
    assert removed["tasks"], "no counting task ran on the third node"
    retried = [t for t in manifest["faults"]["tasks"] if t["stage"] == "counting words"]
    assert {t["task"] for t in retried} == set(removed["tasks"]), (retried, removed)
    assert all(t["attempts"] == 2 and third.node_id in t["nodes"] for t in retried), retried
    assert manifest["corpus"]["words"] == sum(counts.values())  # counted exactly once
