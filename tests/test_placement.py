"""Placement (`w2v/placement.py`): which nodes train, one actor each, with how many gensim threads."""

import logging
import threading
import time

import pytest

from w2v import ClusterError, TrainConfig
from w2v.pipeline import run
from w2v.placement import place_actors


def _node(node_id, cpus=2, alive=True, **resources):
    return {"NodeID": node_id, "Alive": alive, "NodeManagerAddress": "10.0.0.1",
            "Resources": {"CPU": cpus, **resources}}


def test_trainer_nodes_are_the_ones_with_the_cluster_resource():
    from w2v.placement import NODE_RESOURCE, trainer_nodes

    nodes = [_node("head", cpus=4), _node("w1", cpus=16, **{NODE_RESOURCE: 1}),
             _node("w2", cpus=16, alive=False, **{NODE_RESOURCE: 1}), _node("w3", cpus=8, **{NODE_RESOURCE: 1})]
    picked = trainer_nodes(nodes)
    assert [n["node_id"] for n in picked] == ["w1", "w3"] and all(n["resource"] for n in picked)
    # Without the resource anywhere (a laptop, the test cluster): every alive node with a CPU.
    plain = trainer_nodes([_node("a", cpus=1), _node("b", cpus=3), _node("gpu-only", cpus=0)])
    assert [n["node_id"] for n in plain] == ["b", "a"] and not any(n["resource"] for n in plain)
    with pytest.raises(ClusterError, match=r"actors=3: .* 2 alive trainer node\(s\) \(resource w2v_node\)"):
        place_actors(TrainConfig(corpus=("c",), out="o", actors=3), picked, shards=10)




def test_workers_default_to_the_nodes_cpus_as_ray_reports_them():
    """README: `--workers N`: gensim threads per actor; the default is the node's CPUs as Ray reports them."""
    from w2v.cli import build_parser, config_from_args
    from w2v.placement import trainer_nodes

    config = config_from_args(build_parser().parse_args(["train", "c.txt", "--out", "o"]))
    assert config.workers is None  # no flag: no number of its own
    nodes = trainer_nodes([_node("small", cpus=3), _node("big", cpus=16)])
    assert [(n["node_id"], n["workers"]) for n in place_actors(config, nodes, shards=10)] == [("big", 16), ("small", 3)]
    fixed = config_from_args(build_parser().parse_args(["train", "c.txt", "--out", "o", "--workers", "2"]))
    assert [n["workers"] for n in place_actors(fixed, nodes, shards=10)] == [2, 2]


@pytest.mark.slow
def test_with_trainer_nodes_in_the_cluster_no_actor_runs_on_the_head(ray_cluster, planted_corpus, tmp_path):
    """README: nodes with `w2v_node: 1` each get one actor, none on the head (nor on another plain node),
    each with the node's CPUs as its gensim threads."""
    from w2v.placement import NODE_RESOURCE

    root, _ = planted_corpus
    added = [ray_cluster.add_node(num_cpus=2, resources={NODE_RESOURCE: 1}, object_store_memory=256 * 2**20)
             for _ in range(2)]
    try:
        ray_cluster.wait_for_nodes()
        config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), vector_size=8, epochs=1, eval=False,
                             checkpoint_interval=0, actors=2)
        actors = run(config).manifest.training.actors
    finally:
        for node in added:
            ray_cluster.remove_node(node)
    assert sorted(a["node_id"] for a in actors) == sorted(n.node_id for n in added)
    assert ray_cluster.head_node.node_id not in {a["node_id"] for a in actors}
    assert [a["workers"] for a in actors] == [2, 2]


@pytest.mark.slow
def test_more_actors_than_nodes_is_a_clear_error(ray_cluster, planted_corpus, tmp_path):
    root, _ = planted_corpus
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "x"), actors=3, eval=False)
    with pytest.raises(ClusterError, match="actors=3: one trainer actor runs per node and the cluster has 2 .*"
                                           "wait for them with --wait-for-nodes"):
        run(config)
    assert not (tmp_path / "x").exists()
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "x"), actors=3, eval=False, wait_for_nodes=1.0)
    with pytest.raises(ClusterError, match="cluster has 2 alive node.* after waiting 1 s"):
        run(config)


@pytest.mark.slow
def test_a_job_waits_for_the_trainer_nodes_it_asks_for(ray_cluster, planted_corpus, tmp_path, caplog):
    """Trainer nodes of an autoscaling cluster come up after the job starts: with --wait-for-nodes it waits."""
    root, _ = planted_corpus
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), actors=3, vector_size=16, epochs=2,
                         eval=False, wait_for_nodes=120.0)
    done: dict = {}

    def job():
        try:
            done["manifest"] = run(config).manifest.to_json()
        except BaseException as exc:  # re-raised below, in the test's thread
            done["error"] = exc

    with caplog.at_level(logging.INFO, logger="w2v.placement"):
        runner = threading.Thread(target=job, daemon=True)  # Ray adds nodes from the main thread only
        runner.start()
        deadline = time.monotonic() + 120
        while not any("waiting up to" in r.getMessage() for r in caplog.records) and runner.is_alive():
            assert time.monotonic() < deadline, "the job never started waiting for nodes"
            time.sleep(0.2)
        time.sleep(1.0)  # it waits: the node joins later
        added = [ray_cluster.add_node(num_cpus=1, object_store_memory=256 * 2**20)]
        try:
            runner.join(timeout=300)
        finally:
            ray_cluster.remove_node(added[0])
    if "error" in done:
        raise done["error"]
    manifest = done["manifest"]
    assert len({a["node_id"] for a in manifest["training"]["actors"]}) == 3
    assert added[0].node_id in {a["node_id"] for a in manifest["training"]["actors"]}
    messages = [r.getMessage() for r in caplog.records]
    assert "waiting up to 120 s for 3 trainer node(s); 2 alive" in messages
    assert "trainer nodes alive: 3 of 3" in messages


@pytest.mark.slow
def test_actors_auto_trains_on_fewer_nodes_when_the_forecast_says_so(ray_cluster, tmp_path, caplog):
    """README "What a job will get": with no --actors, a small corpus (gensim's Lee corpus, ~60k words) is
    forecast below 0.97 at K=2, so one of the two nodes trains it, and the plan says why; an explicit
    --actors 2 is obeyed with the one-line warning naming what would reach 0.97."""
    from gensim.test.utils import datapath

    from w2v import collective, forecast

    corpus = datapath("lee_background.cor")
    caplog.set_level(logging.INFO, logger="w2v")
    auto = run(TrainConfig(corpus=(corpus,), out=str(tmp_path / "auto"), epochs=1, eval=False,
                           checkpoint_interval=0))
    plan = auto.manifest.plan["forecast"]
    words, rows = auto.manifest.corpus.words, auto.manifest.vocabulary.size
    assert forecast.forecast(words, rows, 2).ratio < forecast.TARGET_RATIO  # what the choice rests on
    assert len(auto.manifest.training.actors) == 1 and plan["actors"] == 1
    assert plan["predicted_analogy_ratio"] == 1.0
    projected = collective.torch_missing() is None  # the speed is projected for the collective's rounds
    assert "actors: auto: 1 of 2 node(s), the " + ("fastest (projected)" if projected else "most") in caplog.text
    if projected:
        assert auto.manifest.plan["speed"]["projected_speedup"] == 1.0  # one actor: one node's speed
    caplog.clear()
    forced = run(TrainConfig(corpus=(corpus,), out=str(tmp_path / "two"), epochs=1, eval=False,
                             checkpoint_interval=0, actors=2))
    assert len(forced.manifest.training.actors) == 2
    assert forced.manifest.plan["forecast"]["predicted_analogy_ratio"] < forecast.TARGET_RATIO
    warned = [r.getMessage() for r in caplog.records if r.getMessage().startswith("forecast: 2 actors get about")]
    assert len(warned) == 1 and "--actors 1" in warned[0]
    if projected:  # the projection for two 1-CPU nodes, from the driver's calibration
        speed = forced.manifest.plan["speed"]
        assert speed["actors"] == 2 and 0 < speed["projected_speedup"] <= 2 and speed["exchange_seconds"] > 0
