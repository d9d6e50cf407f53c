"""The evaluation stage: its settings, the cluster check, the outcome and its files; on a real Ray
cluster, the task runs apart from the driver with the CPUs and GPUs it was given."""

import json
import os
import re
import shutil
import time

import pytest

import w2v
from w2v.evaluation import stage as eval_stage
from w2v.cli import main
from w2v.errors import EXIT_CLUSTER, EXIT_EVALUATION
from w2v.evaluation.stage import EvalSettings, EvaluationOutcome, evaluation_failures, fitting_nodes


def settings(**changes):
    return EvalSettings(**{"seed": 0, "cpus": 1.0, "gpus": 0.0, "projector_top": 0, **changes})


def node(node_id, alive=True, **resources):
    return {"NodeID": node_id, "Alive": alive, "Resources": resources}


def test_settings_are_checked_at_the_door_and_name_local_files_absolutely(tmp_path, monkeypatch):
    for cpus, gpus in ((0, 0), (1, -1)):
        with pytest.raises(w2v.ConfigError, match=f"--eval-cpus {cpus:g} --eval-gpus {gpus:g}: the evaluation task "
                                                  "needs CPUs > 0 and GPUs >= 0"):
            settings(cpus=cpus, gpus=gpus)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.tsv").write_text("a\tb\t1\n")
    moved = settings(pairs=("mine.tsv", "wordsim353.tsv", "s3://bucket/pairs.tsv")).for_elsewhere()
    assert moved.pairs == (str(tmp_path / "mine.tsv"), "wordsim353.tsv", "s3://bucket/pairs.tsv")
    assert moved.analogies == ("questions-words.txt",)  # gensim's bundled copy, found by name on every node
    config = w2v.TrainConfig(corpus=("c",), out="o", eval_cpus=2, eval_gpus=0.5, eval_seed=3, projector_top=7)
    assert EvalSettings.of(config) == settings(seed=3, cpus=2.0, gpus=0.5, projector_top=7)


def test_only_alive_nodes_with_enough_cpus_and_gpus_fit_the_task():
    nodes = [node("cpu", CPU=8.0), node("gpu", CPU=4.0, GPU=1.0), node("dead-gpu", alive=False, CPU=8.0, GPU=4.0)]
    assert fitting_nodes(nodes, 1, 0) == ["cpu", "gpu"]
    assert fitting_nodes(nodes, 1, 1) == ["gpu"]
    assert fitting_nodes(nodes, 6, 1) == [] and fitting_nodes(nodes, 1, 2) == []
    assert fitting_nodes(nodes, 0.5, 0.5) == ["gpu"]


def test_a_failed_outcome_is_an_error_in_the_manifest_or_one_exception_with_its_family():
    failed = EvaluationOutcome(None, failure=ValueError("no GPU\nmore detail"))
    assert failed.error == "ValueError: no GPU"
    assert failed.manifest_entry().to_json() == {"error": "ValueError: no GPU"}
    files, entry = failed.artifact_files({}, ["a"], None)
    assert files == {} and entry.to_json() == {"error": "ValueError: no GPU"}
    with pytest.raises(w2v.EvaluationFailedError, match="^the evaluation failed: ValueError: no GPU$") as caught:
        failed.raise_failure()
    assert caught.value.exit_code == EXIT_EVALUATION
    for family in (w2v.EvaluationError, w2v.ClusterError):  # bad files, a cluster without the GPU: as they are
        with pytest.raises(family):
            EvaluationOutcome(None, failure=family("pairs.tsv: no such file")).raise_failure()
    EvaluationOutcome({"runtime": {}}).raise_failure()  # nothing failed: nothing raised


def test_a_failed_evaluation_is_its_own_family():
    """TensorFlow's or the Ray task's own failure is exit code 5; bad evaluation input stays 2."""
    with pytest.raises(w2v.errors.EvaluationFailedError, match="^the evaluation failed: ValueError: no GPU$") as caught:
        with evaluation_failures():
            raise ValueError("no GPU\nmore detail")
    assert caught.value.exit_code == EXIT_EVALUATION == 5
    with pytest.raises(w2v.EvaluationError) as caught:
        with evaluation_failures():
            raise w2v.EvaluationError("pairs.tsv: no such file")
    assert caught.value.exit_code == 2


def test_a_report_that_fails_to_draw_keeps_the_evaluation_and_says_why(monkeypatch):
    def broken(*args):
        raise RuntimeError("no fonts\ndetail")

    monkeypatch.setattr(w2v.report, "render", broken)
    evaluation = {"runtime": {"seconds": 1.5}, "analogies": [], "pairs": []}
    files, entry = EvaluationOutcome(evaluation, {"metadata.tsv": b"a\n"}).artifact_files({}, ["a"], None)
    assert files == {"metadata.tsv": b"a\n"}  # the projector files still go out
    assert entry.to_json() == {"file": "eval.json", "seconds": 1.5, "analogies": {}, "pairs": {},
                               "report_error": "RuntimeError: no fonts"}


# ---------------------------------------------------------------- on a real Ray cluster


@pytest.mark.slow
def test_a_jobs_evaluation_ran_in_its_own_ray_task_with_its_cpus(trained_artifact):
    runtime = trained_artifact.evaluation["runtime"]
    assert runtime["pid"] != os.getpid()  # a Ray worker, not the driver
    assert runtime["resources"] == {"CPU": w2v.TrainConfig.eval_cpus}  # --eval-cpus' default, as Ray gave it
    assert trained_artifact.manifest.evaluation == EvaluationOutcome(trained_artifact.evaluation).manifest_entry()


@pytest.mark.slow
def test_eval_cpus_reach_the_task_of_w2v_eval(trained_artifact, ray_cluster, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(trained_artifact.out, copy)
    assert main(["eval", str(copy), "--address", ray_cluster.address, "--eval-cpus", "0.5", "--pairs",
                 "wordsim353.tsv", "--projector-top", "0"]) == 0
    assert re.search(r"^evaluated in a Ray task on .*; 0.5 CPU\) in ", capsys.readouterr().out, re.M)
    runtime = json.loads((copy / "eval.json").read_text())["runtime"]
    assert runtime["pid"] != os.getpid() and runtime["resources"] == {"CPU": 0.5}


@pytest.mark.slow
def test_eval_gpus_on_a_cluster_without_gpus_is_one_line_not_a_hang(trained_artifact, ray_cluster, planted_corpus,
                                                                     tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(trained_artifact.out, copy)
    before = (copy / "manifest.json").read_bytes()
    started = time.monotonic()
    assert main(["eval", str(copy), "--address", ray_cluster.address, "--eval-gpus", "1"]) == EXIT_CLUSTER
    err = capsys.readouterr().err
    assert err == ("w2v: error: --eval-cpus 1 --eval-gpus 1: no alive node of the Ray cluster has that many (the most "
                   "on one node: 1 CPU(s), 0 GPU(s)), so the evaluation task would wait forever; lower them, or start "
                   "a node that has them\n")
    assert (copy / "manifest.json").read_bytes() == before  # nothing published
    # A training job is refused before it counts a word, not after hours of training.
    root, _ = planted_corpus
    assert main(["train", str(root), "--out", str(tmp_path / "art"), "--address", ray_cluster.address,
                 "--eval-gpus", "2", "-q"]) == EXIT_CLUSTER
    assert "--eval-gpus 2: no alive node of the Ray cluster has that many" in capsys.readouterr().err
    assert not (tmp_path / "art").exists()
    assert time.monotonic() - started < 120


@pytest.mark.slow
def test_eval_gpus_reach_the_task_on_a_cluster_that_has_one(trained_artifact, ray_cluster, tmp_path, capsys):
    """A node that declares one GPU joins the session's cluster for this test: `w2v eval --eval-gpus 1`
    passes the cluster check, and its task runs there holding the GPU."""
    copy = tmp_path / "copy"
    shutil.copytree(trained_artifact.out, copy)
    gpu_node = ray_cluster.add_node(num_cpus=1, num_gpus=1, object_store_memory=256 * 2**20)
    ray_cluster.wait_for_nodes()
    try:
        code = main(["eval", str(copy), "--address", ray_cluster.address, "--eval-gpus", "1", "--eval-cpus", "1",
                     "--pairs", "wordsim353.tsv", "--projector-top", "0", "-q"])
    finally:
        ray_cluster.remove_node(gpu_node)
    assert code == 0, capsys.readouterr().err
    runtime = json.loads((copy / "eval.json").read_text())["runtime"]
    assert runtime["resources"] == {"CPU": 1.0, "GPU": 1.0} and runtime["pid"] != os.getpid()  # the GPU node's
    w2v.verify(str(copy))


def test_run_evaluation_never_raises_for_a_failed_evaluation(monkeypatch):
    def no_tensorflow(*args, **kwargs):
        raise ImportError("No module named 'tensorflow'")

    monkeypatch.setattr(eval_stage, "_evaluate_here", no_tensorflow)
    outcome = eval_stage.run_evaluation(None, ["a"], settings(), in_ray_task=False)
    assert outcome.evaluation is None and outcome.error == "ImportError: No module named 'tensorflow'"


@pytest.mark.slow
def test_an_evaluation_task_whose_worker_dies_is_run_again_and_recorded(trained_artifact, ray_cluster, monkeypatch):
    """The evaluation task's first attempt exits its worker (issue 26: faults at every stage): Ray runs it
    once more, the evaluation is whole, and the job's ledger lists the retry."""
    from w2v import retries

    monkeypatch.setenv(retries.TASK_EXIT_ENV, "evaluation:0")
    kv = w2v.load(trained_artifact.out)
    with retries.recording(retries.Ledger()) as ledger:
        outcome = eval_stage.run_evaluation(kv.vectors, list(kv.index_to_key), settings(), in_ray_task=True)
    assert outcome.failure is None and outcome.evaluation["runtime"]["pid"] != os.getpid()
    assert [(r.stage, r.task, r.attempts) for r in ledger.retries] == [("evaluation", 0, 2)]
    assert len(ledger.retries[0].nodes) == 2


@pytest.mark.slow
def test_a_node_removed_while_it_evaluates_has_the_task_run_again_elsewhere(trained_artifact, ray_cluster, tmp_path,
                                                                         monkeypatch):
    """The evaluation task runs on a third node (the other two nodes' CPUs are held meanwhile) and waits there
    (`TASK_PAUSE_ENV`) until the test has removed that node: Ray runs it again on another node, the evaluation
    is whole, and the ledger records the two attempts and the lost node."""
    import threading

    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from w2v import retries

    third = ray_cluster.add_node(num_cpus=1, object_store_memory=256 * 2**20)
    ray_cluster.wait_for_nodes()

    @ray.remote(num_cpus=1)
    class Holder:  # holds a node's one CPU, so that the evaluation task can only start on the third node
        def ready(self):
            return True

    others = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeID"] != third.node_id]
    holders = [Holder.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote()
               for node in others]
    ray.get([h.ready.remote() for h in holders])
    pause = tmp_path / "pause"
    pause.mkdir()
    monkeypatch.setenv(retries.TASK_PAUSE_ENV, f"evaluation:{pause}")

    def remove_the_third_node_then_free_a_cpu():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(pause.glob("*.ready")):
            time.sleep(0.05)
        ray_cluster.remove_node(third)
        for holder in holders:
            ray.kill(holder)
        (pause / "release").touch()

    thread = threading.Thread(target=remove_the_third_node_then_free_a_cpu, daemon=True)
    thread.start()
    kv = w2v.load(trained_artifact.out)
    try:
        with retries.recording(retries.Ledger()) as ledger:
            outcome = eval_stage.run_evaluation(kv.vectors, list(kv.index_to_key), settings(), in_ray_task=True)
    finally:
        thread.join(timeout=130)
        if third in ray_cluster.worker_nodes:
            ray_cluster.remove_node(third)
    assert [p.name for p in pause.glob("*.ready")] == [f"{third.node_id}-0.ready"]  # it ran there first
    assert outcome.failure is None, outcome.error
    assert [(r.stage, r.task, r.attempts) for r in ledger.retries] == [("evaluation", 0, 2)]
    assert third.node_id in ledger.retries[0].nodes
