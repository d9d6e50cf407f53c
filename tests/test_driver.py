"""The driver (`w2v/driver.py`) on a real two-node Ray cluster: actors, exchanges, pacing, progress.

What a whole job writes (the artifact, its manifest) is tested in `tests/test_pipeline.py`, which nodes
train in `tests/test_placement.py`. Tests that start Ray are marked slow one by one: the pure ones
run with `-m "not slow"`.
"""

import json
import logging
import re

import numpy as np
import pytest

import w2v
from w2v import TrainConfig
from w2v.pipeline import run

from w2v.corpus import list_shards
from w2v.exchange import ActorStatus
from w2v.corpus import ReadOptions
from w2v.trainer import TrainerActor
from w2v.vocab import Vocabulary, count_shard, merge_counts

from .corpora import GROUPS, group_of, write_planted_corpus


@pytest.mark.slow
def test_two_actors_on_two_nodes_exchanged_their_deltas(trained_artifact):
    training = trained_artifact.manifest.to_json()["training"]
    assert len({a["node_id"] for a in training["actors"]}) == 2
    assert training["exchanges"] >= 2 and training["bytes_exchanged"] > 0
    corpus_words = trained_artifact.manifest.to_json()["corpus"]["words"]
    assert sum(a["spool_words"] for a in training["actors"]) == corpus_words  # every word spooled once
    assert sum(a["shards"] for a in training["actors"]) == len(trained_artifact.manifest.to_json()["corpus"]["shards"])
    assert training["words"] == 5 * corpus_words
    assert [e["epoch"] for e in training["epochs"]] == [1, 2, 3, 4, 5]
    shares = [e["sync_share"] for e in training["epochs"]]  # each epoch's own, for the training curves
    assert all(0 <= share <= 1 for share in shares) and any(share > 0 for share in shares), shares


def planted_precision(words, vectors, topn=5) -> float:
    """Share of each group word's nearest neighbours that belong to its group (fillers are misses)."""
    from w2v.export import keyed_vectors

    kv = keyed_vectors(words, [1] * len(words), vectors)
    group_words = [w for w in words if group_of(w) is not None]
    assert len(group_words) == GROUPS * 10
    return float(np.mean([group_of(n) == group_of(w) for w in group_words for n, _ in kv.most_similar(w, topn=topn)]))


@pytest.mark.slow
def test_neighbours_in_a_planted_cluster_corpus_come_from_the_same_group(trained_artifact):
    kv = w2v.load(trained_artifact.out)
    assert planted_precision(kv.index_to_key, kv.vectors) >= 0.9


@pytest.mark.slow
def test_tensorflow_evaluation_was_stored_and_agrees(trained_artifact):
    evaluation = json.load(open(f"{trained_artifact.out}/eval.json"))
    assert evaluation == trained_artifact.evaluation
    assert len(evaluation["neighbors"]) == 16
    kv = w2v.load(trained_artifact.out)
    for word, found in evaluation["neighbors"].items():
        assert len(found) == 8 and word not in [n["word"] for n in found]
        cosines = [n["cosine"] for n in found]
        assert cosines == sorted(cosines, reverse=True)
        for n in found:  # TensorFlow's cosines are gensim's (ties may order differently)
            assert n["cosine"] == pytest.approx(float(kv.similarity(word, n["word"])), abs=1e-3)
        assert cosines[-1] >= kv.most_similar(word, topn=8)[-1][1] - 1e-3  # none of gensim's top 8 missed


@pytest.mark.slow
def test_exchanges_are_paced_by_words_trained_and_move_the_rows_their_sync_tiers_name(ray_cluster, planted_corpus,
                                                                                     tmp_path):
    """--sync-words N: each actor's share of an epoch is cut into round(words / K / N) chunks, one exchange
    after each, whatever the node's speed: the exchange count follows words / N. --sync-tiers reaches the
    exchange: the bytes each exchange combined are the rows its tiers name; one tier moves every row at every
    exchange, and the default (7) follows the tier schedule. Two jobs: N=4,000 with one tier, N=12,000 with 7."""
    from w2v.sync import chunks_per_epoch, tier_ranges

    root, counts = planted_corpus
    words = sum(counts.values())
    moved = {}
    assert TrainConfig.sync_tiers == 7  # the default
    for sync_words, tiers in ((4_000, 1), (12_000, 7)):
        config = TrainConfig(corpus=(str(root),), out=str(tmp_path / f"paced-{sync_words}"), actors=2, vector_size=16,
                             epochs=2, eval=False, checkpoint_interval=0, sync_words=sync_words, sync_tiers=tiers)
        result = run(config)
        training = result.manifest.to_json()["training"]
        chunks = chunks_per_epoch(words, 2, sync_words)
        assert training["chunks_per_epoch"] == chunks and training["sync_words"] == sync_words
        assert training["exchanges"] == 2 * chunks  # one per round, the last one moving every row
        assert abs(training["words_per_exchange"] - sync_words) <= sync_words / (2 * chunks) + 1
        assert training["stale_words"] == training["words_per_exchange"]  # K=2: the other actor's chunk
        assert training["stale_share"] == pytest.approx(training["stale_words"] / words, rel=1e-3)
        assert all(a["spool_chunks"] == chunks for a in training["actors"])
        # What the scaling model reads (README "Scaling model"): rates in CPU time, the raylets' included
        assert 0 < training["train_cpu_seconds"] <= max(a["train_seconds"] for a in training["actors"]) + 0.05
        assert training["words_per_core_second"] > 0 and training["exchange_cpu_seconds_per_mb"] > 0
        assert training["raylet_cpu_seconds"] is not None  # read (objects this small travel inside Ray's replies)
        # The tiers: the rows each exchange moved, as the tier schedule names them.
        rows = result.manifest.to_json()["vocabulary"]["size"]
        row_bytes = 2 * 16 * 4  # vectors and syn1neg (negative sampling), float32
        exchanges = training["exchanges"]
        assert training["sync_tiers"] == tiers and exchanges >= 4
        expected = [sum(b - a for a, b in tier_ranges(rows, n, tiers=tiers, final=n == exchanges - 1)) * row_bytes
                    for n in range(exchanges)]
        assert training["slice_bytes_per_exchange"] == round(sum(expected) / exchanges)
        moved[tiers] = training["slice_bytes_per_exchange"]
    assert moved[1] == rows * row_bytes and moved[7] < moved[1] / 2


@pytest.mark.slow
def test_three_nodes_combined_model_beats_each_actors_local_model(ray_cluster, tmp_path):
    """File k teaches only groups k and k+3: an actor alone never learns the other groups."""
    root = tmp_path / "by-file"
    write_planted_corpus(root, files=3, sentences_per_file=3000, compress=("",), groups_by_file=True)
    third = ray_cluster.add_node(num_cpus=1, object_store_memory=256 * 2**20)
    ray_cluster.wait_for_nodes()
    try:
        config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), actors=3, vector_size=32, epochs=5,
                             seed=3, eval=False)
        result = run(config)
    finally:
        ray_cluster.remove_node(third)
    assert len({a["node_id"] for a in result.manifest.training.actors}) == 3
    kv = w2v.load(config.out)
    combined = planted_precision(kv.index_to_key, kv.vectors)

    shards = list_shards(config.corpus)
    options = ReadOptions.of(config)
    counted = [count_shard(s, options) for s in shards]
    vocab = Vocabulary.from_counts(merge_counts(c.counts for c in counted), config.min_count)
    assert list(vocab.words) == kv.index_to_key  # the same vocabulary, deterministically
    local = []
    for shard, count in zip(shards, counted):  # each actor's model, trained alone on its shard (no exchange)
        actor = TrainerActor(config, workers=1)
        actor.spool(vocab, [shard], 1, count.words)
        actor.start(None, exchange=False)
        actor.thread.join()
        local.append(planted_precision(list(vocab.words), actor.weights()["vectors"]))
        actor.close()
    print(f"planted precision@5: combined {combined:.2f}, local-only {[round(p, 2) for p in local]}")
    assert combined >= 0.9, combined
    assert all(p < combined - 0.3 for p in local), (combined, local)


def test_progress_logs_each_epoch_at_its_own_rate_even_when_several_ended_between_looks(caplog):
    from w2v.driver import _Progress

    def status(ends):
        return ActorStatus(epochs_done=len(ends), seconds=ends[-1], epoch_ends=ends, epoch_loss=[0.0] * len(ends))

    progress = _Progress(epochs=4)
    with caplog.at_level(logging.INFO, logger="w2v.driver"):
        # 1000 words per epoch; the slower actor ends its epochs at 1 s, 1.5 s, 3.5 s.
        progress.update([status([1.0, 1.5, 3.5]), status([0.5, 1.0, 2.0, 2.5])], 1000, 0.1)
    progress.close()
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" done: ")[0] for line in lines] == ["epoch 1/4", "epoch 2/4", "epoch 3/4"]
    assert [line.split(": ")[1].split(" words/s")[0] for line in lines] == ["1,000", "2,000", "500"]


def test_each_epoch_has_its_own_sync_share_when_actors_exchange():
    """The actors' mean sync seconds during the epoch over its seconds: the run's share, epoch by epoch."""
    from w2v.training_stats import epoch_stats

    def status(ends, synced):
        return ActorStatus(epoch_ends=ends, epoch_loss=[0.0] * len(ends), epoch_sync=synced)

    # Started at t=100; epochs end at 102 (2 s) and 106 (4 s, the slower actor's end). Sync seconds so far at
    # each epoch's end: actor 0 0.2 then 1.4, actor 1 0.6 then 1.0: 0.4 s then 0.8 s on average.
    statuses = [status([102.0, 106.0], [0.2, 1.4]), status([101.5, 105.0], [0.6, 1.0])]
    stats = epoch_stats(statuses, 1000, 100.0, exchange=True)
    assert [(e["epoch"], e["sync_share"]) for e in stats] == [(1, 0.2), (2, 0.2)]
    assert all("sync_share" not in e for e in epoch_stats(statuses, 1000, 100.0))  # one actor: nothing exchanged
    # A restarted actor (no times for epochs 1-2) counts from its new process's start: epoch 4 only (103.5 to 104),
    # 0.5 s and 0.2 s of sync, 0.35 s on average of 0.5 s.
    statuses = [status([101.0, 102.0, 103.0, 104.0], [0.1, 0.2, 0.3, 0.8]),
                status([None, None, 103.5, 103.9], [None, None, 0.4, 0.6])]
    assert [(e["epoch"], e["sync_share"]) for e in epoch_stats(statuses, 1000, 100.0, exchange=True)] == [(4, 0.7)]


def test_epoch_rates_after_a_restart_or_resume_use_one_clock():
    from w2v.training_stats import epoch_stats

    def status(ends):
        return ActorStatus(epoch_ends=ends, epoch_loss=[0.0] * len(ends))

    # Started at t=100. Actor 1 died in epoch 3 and its new process trained epochs 2.. again (epochs 0-1: no times).
    stats = epoch_stats([status([101.0, 102.0, 103.0, 104.0]), status([None, None, 103.5, 105.0])], 1000, 100.0)
    assert [(e["epoch"], e["words_per_s"]) for e in stats] == [(4, 667)]  # epoch 3's start is unknown: no rate
    # Resumed at epoch 2: no actor has times before it; the first epoch of this run starts at the run's start.
    stats = epoch_stats([status([None, None, 102.0]), status([None, None, 101.0])], 1000, 100.0)
    assert [(e["epoch"], e["words_per_s"]) for e in stats] == [(3, 500)]


def test_node_costs_weigh_each_process_by_the_exchanges_it_took_part_in():
    """A restarted actor's process lived through fewer exchanges: CPU per exchange is the sum of the processes'
    CPU over the sum of their exchanges, not a mean over the run's exchange count."""
    from w2v.training_stats import node_costs

    whole = ActorStatus(words_trained=900, train_cpu_seconds=3.0, exchange_cpu_seconds=1.0, raylet_cpu_seconds=1.0,
                        exchanges=100, exchanged_bytes=200_000_000)
    restarted = ActorStatus(words_trained=300, train_cpu_seconds=1.0, exchange_cpu_seconds=0.4,
                            raylet_cpu_seconds=0.6, exchanges=50, exchanged_bytes=100_000_000)
    costs = node_costs([whole, restarted])
    assert costs.exchange_cpu_seconds_per_exchange == 3.0 / 150  # 20 ms, where 3.0 / 2 / 100 would say 15
    assert costs.exchange_cpu_seconds_per_mb == 3.0 / 300
    assert costs.words_per_core_second == 300 and costs.raylet_cpu_seconds == 0.8
    alone = node_costs([ActorStatus(words_trained=10, train_cpu_seconds=1.0)])
    assert alone.exchange_cpu_seconds_per_exchange is None and alone.raylet_cpu_seconds is None


def test_a_second_stop_signal_stops_at_once_with_the_signals_exit_code(capsys, monkeypatch):
    """The first SIGTERM is noted (the loop checkpoints at its next round); the second stops where it is: one
    line and exit code 143 from the CLI, not a KeyboardInterrupt traceback."""
    import os
    import signal

    import w2v.cli
    from w2v.driver import _StopSignals
    from w2v.errors import StoppedAtOnce

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(StoppedAtOnce) as raised:
        with _StopSignals() as stop:
            os.kill(os.getpid(), signal.SIGTERM)
            assert stop.signum == signal.SIGTERM  # noted, not raised
            os.kill(os.getpid(), signal.SIGTERM)
            pytest.fail("the second SIGTERM did not stop at once")
    assert raised.value.exit_code == 143 and signal.getsignal(signal.SIGTERM) is before

    def stopped(args):
        raise raised.value

    monkeypatch.setattr(w2v.cli, "cmd_info", stopped)  # where a job would be when the signal came
    assert w2v.cli.main(["info", "x"]) == 143
    assert capsys.readouterr().err == ("w2v: error: stopped at once by SIGTERM (sent twice): no new checkpoint; the "
                                       "checkpoints written so far are kept for --resume\n")


def test_a_member_in_its_generations_first_seconds_gets_time_to_answer_before_it_is_taken_for_hung(monkeypatch):
    """A status that does not come within STATUS_TIMEOUT_SECONDS kills the member (Ray restarts it), except in
    the grace after its generation formed (JOIN_GRACE_SECONDS, at most --exchange-timeout): a slow answer
    then is waited for; a member silent past the grace is killed, and the cause says how long it waited."""
    import time
    from types import SimpleNamespace

    import ray

    from w2v import driver

    asked, killed = [], []

    def get(ref, timeout):
        asked.append(timeout)
        if ref == "hung" or len(asked) == 1:  # "slow" answers the second time it is asked
            raise ray.exceptions.GetTimeoutError("no answer yet")
        return SimpleNamespace(pid=7, peer=object())

    monkeypatch.setattr(ray, "get", get)
    monkeypatch.setattr(ray, "kill", lambda actor, no_restart: killed.append(actor))
    training = SimpleNamespace(actors=["actor 0"], fleet=SimpleNamespace(infos=[SimpleNamespace(pid=7)]),
                               config=SimpleNamespace(exchange_timeout=120.0), joined_at=time.monotonic())
    training._grace_left = lambda: driver.Training._grace_left(training)
    assert driver.Training._peer_status(training, 0, "slow").pid == 7 and not killed  # in the grace: waited for
    assert asked[0] == driver.STATUS_TIMEOUT_SECONDS and 0 < asked[1] <= driver.JOIN_GRACE_SECONDS
    asked.clear()
    lost = driver.Training._peer_status(training, 0, "hung")  # silent through the grace too
    assert killed == ["actor 0"] and re.search(r"did not answer within (4[0-5]) s \(hung\)", str(lost)), lost
    asked.clear(), killed.clear()
    training.joined_at = time.monotonic() - driver.JOIN_GRACE_SECONDS - 1  # the grace is over
    lost = driver.Training._peer_status(training, 0, "slow")
    assert killed == ["actor 0"] and "did not answer within 15 s (hung)" in str(lost) and len(asked) == 1
    training.config.exchange_timeout, training.joined_at = 10.0, time.monotonic()
    assert 9.0 < driver.Training._grace_left(training) <= 10.0  # never past the collective's own timeout
