"""MLflow tracking against a real local store (sqlite under tmp_path), read back with MlflowClient."""

import sys

import pytest

from w2v import ConfigError
from w2v.manifest import EvaluationSummary, RunSection, TrainingSection
from w2v.tracking import MlflowTracker, NullTracker, require_mlflow, tracker_for

EPOCHS = [{"epoch": 1, "words_per_s": 1000, "epoch_loss": 50.0}, {"epoch": 2, "words_per_s": 1500, "epoch_loss": 40.0}]
RUN = RunSection(name="exp-1", tags=["news", "v2"], ray_job_id="02000000", git_commit="abc123", host="h")


# A new sqlite store runs MLflow's schema migrations: about 13 s each here.
store_test = pytest.mark.slow


@pytest.fixture
def store(tmp_path):
    pytest.importorskip("mlflow")  # the [mlflow] extra; [test] installs it
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def _runs(uri):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("w2v")
    return client, client.search_runs([experiment.experiment_id])


@store_test
def test_one_run_holds_parameters_curves_evaluation_and_the_artifact(store):
    tracker = tracker_for(store, {"corpus": ["a.txt", "b.txt"], "epochs": 2, "sg": False}, RUN)
    tracker.log_training(TrainingSection(words=20, seconds=2.0, words_per_s=10, exchanges=3, sync_share=0.2,
                                         epochs=EPOCHS))
    tracker.log_evaluation(EvaluationSummary(seconds=1.5, analogies={"q.txt": {"3CosAdd": 0.4, "oov_ratio": 5.0}},
                                             pairs={"p.tsv": {"spearman": None, "oov_ratio": 100.0}}))
    tracker.finish(artifact="/data/art", manifest_sha256="f" * 64)
    client, runs = _runs(store)
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED" and run.info.run_name == "exp-1"
    assert run.data.params == {"corpus": "a.txt,b.txt", "epochs": "2", "sg": "False"}
    history = client.get_metric_history(run.info.run_id, "train/words_per_s")
    assert sorted((m.step, m.value) for m in history) == [(1, 1000), (2, 1500)]
    assert sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "train/epoch_loss")) == [
        (1, 50.0), (2, 40.0)]
    assert [m.value for m in client.get_metric_history(run.info.run_id, "train/sync_share")] == [0.2, 0.2]
    assert run.data.metrics["eval/q.txt/3CosAdd"] == 0.4 and "eval/p.tsv/spearman" not in run.data.metrics
    tags = run.data.tags
    assert tags["w2v.artifact"] == "/data/art" and tags["w2v.manifest_sha256"] == "f" * 64
    assert tags["mlflow.source.git.commit"] == "abc123" and tags["w2v.ray_job_id"] == "02000000"
    assert tags["news"] == "true" and tags["w2v.tags"] == "news,v2"


@store_test
def test_a_failed_job_is_a_failed_run(store):
    tracker = MlflowTracker(store, {}, RunSection(name="broken"))
    tracker.log_evaluation(EvaluationSummary(error="TF went away"))
    tracker.finish(failed=True)
    _, (run,) = _runs(store)
    assert run.info.status == "FAILED" and run.data.tags["w2v.evaluation_error"] == "TF went away"


@store_test
def test_a_store_that_cannot_open_fails_before_training(tmp_path):
    pytest.importorskip("mlflow")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigError, match="--mlflow-uri .*: cannot start a run"):
        MlflowTracker(f"sqlite:///{tmp_path / 'a-file' / 'm.db'}", {}, RunSection())  # a file is no directory


def test_without_a_uri_the_tracker_does_nothing():
    tracker = tracker_for(None, {"epochs": 1}, RunSection())
    assert isinstance(tracker, NullTracker)
    tracker.log_training(TrainingSection())
    tracker.finish(artifact="x")


def test_mlflow_missing_is_one_line_before_ray_starts(tmp_path, monkeypatch, capsys):
    from w2v import cli, cluster

    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(ConfigError, match=r"mlflow is not installed; pip install 'w2v\[mlflow\]'"):
        require_mlflow("sqlite:///m.db")

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray was started")

    monkeypatch.setattr(cluster, "init_ray", no_ray)
    (tmp_path / "c.txt").write_text("a b c\n")
    code = cli.main(["train", str(tmp_path / "c.txt"), "--out", str(tmp_path / "out"),
                     "--mlflow-uri", "sqlite:///m.db"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["w2v: error: --mlflow-uri sqlite:///m.db: mlflow is not installed; "
                                 "pip install 'w2v[mlflow]'"]


@pytest.mark.slow
def test_a_job_is_one_run_and_its_artifact_has_its_identity_card_and_curves(ray_cluster, planted_corpus, tmp_path):
    import shutil
    import subprocess

    import ray
    from mlflow.tracking import MlflowClient

    import w2v
    from w2v import TrainConfig
    from w2v.pipeline import run
    from w2v.model_card import parse_front_matter

    from .test_scalars import _scalars

    root, _ = planted_corpus
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), actors=2, vector_size=16, epochs=2, eval=False,
                         name="planted-1", tags=("planted", "ci"), license="mit", mlflow_uri=uri)
    result = run(config)
    run_section = result.manifest.run
    assert (run_section.name, run_section.tags) == ("planted-1", ["planted", "ci"])
    assert run_section.ray_job_id == ray.get_runtime_context().get_job_id()
    if shutil.which("git"):
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or None
        assert run_section.git_commit == head
    w2v.verify(config.out)  # README.md and the event file are checksummed like the rest
    card = (tmp_path / "art" / "README.md").read_text()
    front = parse_front_matter(card)
    assert front["license"] == "mit" and {"planted", "ci", "gensim"} <= set(front["tags"])
    assert str(root) not in card and "not evaluated" in card
    scalars = _scalars(tmp_path / "art")
    assert [s for s, _, _ in scalars["train/words_per_s"]] == [1, 2]
    assert "train/sync_share" in scalars  # two actors exchanged

    client = MlflowClient(tracking_uri=uri)
    (tracked,) = client.search_runs([client.get_experiment_by_name("w2v").experiment_id])
    assert tracked.info.status == "FINISHED" and tracked.info.run_name == "planted-1"
    assert tracked.data.tags["w2v.artifact"] == str(tmp_path / "art")
    assert tracked.data.tags["w2v.manifest_sha256"] == w2v.export.manifest_sha256(config.out)
    assert tracked.data.params["epochs"] == "2" and tracked.data.params["tags"] == "planted,ci"
    epochs = result.manifest.training.epochs
    assert sorted((m.step, m.value) for m in client.get_metric_history(tracked.info.run_id, "train/words_per_s")) == [
        (e["epoch"], e["words_per_s"]) for e in epochs]
