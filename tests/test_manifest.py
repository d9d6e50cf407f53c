"""The manifest's typed sections read what the job writes, old manifests too; the run section."""

import json
import os
import shutil
import subprocess

import pytest

from w2v.manifest import FORMAT_VERSION, Manifest, RunSection, git_commit, ray_job, run_section
from w2v.report import describe

# A manifest as format 1 wrote it before the `run` section existed (trimmed from a real job's).
OLD = {
    "format_version": 1, "created": "2026-01-01T00:00:00+00:00",
    "parameters": {"corpus": ["/data/a.txt"], "out": "art", "vector_size": 4, "epochs": 2, "sg": False},
    "corpus": {"shards": [{"uri": "/data/a.txt", "words": 9, "sentences": 2, "bytes": 40, "mtime": 1.0}],
               "bytes": 40, "words": 9, "kept_words": 8, "sentences": 2, "bad_lines": 0, "unicode_errors": "strict",
               "skipped_shards": []},
    "vocabulary": {"size": 3, "distinct_words": 5, "effective_min_count": 1, "retained_words": 8,
                   "max_vocab_size": None, "pruned_words": 0, "pruned_tokens": 0},
    "vector_size": 4,
    "training": {"words": 18, "seconds": 0.5, "words_per_s": 36, "spool_seconds": 0.1, "exchanges": 3,
                 "stale_words": 12, "sync_share": 0.25, "faults": {"restarts": 0},
                 "actors": [{"node_id": "n1", "shards": 1}],
                 "epochs": [{"epoch": 1, "words_per_s": 30, "loss": 1.5}, {"epoch": 2, "words_per_s": 40, "loss": 1.0}],
                 "resumed_from": {"checkpoint": 2, "epoch": 1, "words_done": 9}},
    "evaluation": {"file": "eval.json", "seconds": 1.0, "analogies": {"q.txt": {"3CosAdd": 0.5, "oov_ratio": 1.0}},
                   "pairs": {}},
    "versions": {"w2v": "0.1.0"}, "gensim_fast_version": 1, "plan": {"shards": 1},
    "timings": {"train": 0.5}, "files": {"vectors.npy": {"bytes": 10, "sha256": "x"}},
}


def test_an_old_manifest_reads_and_writes_back_unchanged():
    m = Manifest.from_json(json.loads(json.dumps(OLD)))
    assert m.run is None and m.lineage is None  # the sections it lacks
    assert m.training.words == 18 and m.training.stale_words == 12 and m.training.extra == {}  # every counter typed
    assert m.training.transport is None and not m.training.recorded("transport")  # what it lacks: not written back
    assert m.training.resumed_from.checkpoint == 2
    assert m.vocabulary.extra == {"max_vocab_size": None, "pruned_words": 0, "pruned_tokens": 0}
    assert m.evaluation.analogies["q.txt"]["3CosAdd"] == 0.5
    written = m.to_json()
    assert written.pop("run") is None
    assert written == OLD


def test_keys_a_newer_writer_added_are_kept():
    newer = {**OLD, "corpus": {**OLD["corpus"], "etags": 2}, "evaluation": {**OLD["evaluation"], "restrict_vocab": 9}}
    written = Manifest.from_json(newer).to_json()
    assert written["corpus"]["etags"] == 2 and written["evaluation"]["restrict_vocab"] == 9


def test_a_partial_manifest_reads_with_defaults():
    m = Manifest.from_json({"parameters": {"note": "x"}})
    assert (m.corpus, m.training, m.evaluation, m.run) == (None, None, None, None)
    assert m.format_version == FORMAT_VERSION and m.files == {}


def test_lineage_is_written_only_when_set():
    m = Manifest.from_json(OLD)
    assert "lineage" not in m.to_json()
    m.lineage = {"parent": "s3://b/parent-artifact"}
    assert Manifest.from_json(m.to_json()).lineage == {"parent": "s3://b/parent-artifact"}


def test_an_evaluation_error_is_the_whole_section():
    m = Manifest.from_json({**OLD, "evaluation": {"error": "boom"}})
    assert m.evaluation.error == "boom" and m.to_json()["evaluation"] == {"error": "boom"}


def test_info_shows_the_run_and_still_reads_old_manifests():
    run = {"name": "baseline", "tags": ["news", "v2"], "ray_job_id": "02000000", "ray_submission_id": None,
           "git_commit": "0123456789abcdef", "git_dirty": True, "host": "h"}
    text = "\n".join(describe({**OLD, "run": run}))
    assert "run: baseline, tags news, v2, git 0123456789ab+changes, Ray job 02000000" in text
    assert not any(line.startswith("run:") for line in describe(OLD))


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_commit_of_a_repository_and_of_a_plain_directory(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e"}
    for args in (["init", "-q"], ["add", "f.txt"], ["commit", "-q", "-m", "one"]):
        if args[0] == "add":
            (repo / "f.txt").write_text("a\n")
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True).stdout
    assert git_commit(str(repo)) == (head.strip(), False)
    (repo / "f.txt").write_text("b\n")
    assert git_commit(str(repo)) == (head.strip(), True)
    plain = tmp_path / "plain"
    plain.mkdir()
    assert git_commit(str(plain)) == (None, None)


def test_no_git_at_all_is_no_commit(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable anywhere
    assert git_commit(str(tmp_path)) == (None, None)


def test_the_submission_id_comes_from_the_job_supervisors_environment(monkeypatch):
    monkeypatch.delenv("RAY_JOB_SUBMISSION_ID", raising=False)
    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR", raising=False)
    assert ray_job()[1] is None
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR",
                       json.dumps({"runtime_env": {}, "metadata": {"job_submission_id": "raysubmit_abc"}}))
    assert ray_job()[1] == "raysubmit_abc"
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", "not json")
    assert ray_job()[1] is None


def test_the_run_section_holds_the_users_name_and_tags():
    run = run_section("exp-1", ("a", "b"))
    assert isinstance(run, RunSection) and run.name == "exp-1" and run.tags == ["a", "b"] and run.host


def test_the_manifest_names_the_versions_that_shape_the_vectors():
    import platform

    import gensim

    import w2v
    from w2v.manifest import versions

    found = versions()
    assert set(found) == {"w2v", "python", "gensim", "numpy", "ray", "smart_open"}
    assert (found["w2v"], found["python"], found["gensim"]) == (w2v.__version__, platform.python_version(),
                                                                gensim.__version__)


def test_a_new_runs_training_section_writes_the_keys_it_always_wrote_in_their_order():
    """The driver's counters are typed fields now (`training_stats.TrainingStats`); the JSON is key for key what
    the driver's dict of them was, with the lists last."""
    from w2v.manifest import ResumedFrom, TrainingSection
    from w2v.training_stats import TrainingStats

    stats = TrainingStats(words=100, exchanges=4, transport="collective", faults={"restarts": 0})
    section = TrainingSection.of(stats, actors=[{"pid": 1}], epochs=[{"epoch": 1}],
                                 resumed_from=ResumedFrom(checkpoint=1, epoch=2, words_done=50))
    written = section.to_json()
    assert list(written) == [
        "words", "seconds", "words_per_s", "exchanges", "sync_share", "spool_seconds", "sync_words",
        "chunks_per_epoch", "words_per_exchange", "stale_words", "stale_share", "transport", "wire", "exchange_seconds",
        "driver_cpu_seconds_per_exchange", "wait_seconds", "sync_tiers", "sync_combine", "sync_seconds",
        "bytes_exchanged", "bytes_per_word", "busiest_link_bytes", "slice_bytes_per_exchange", "train_cpu_seconds",
        "exchange_cpu_seconds", "raylet_cpu_seconds", "words_per_core_second", "exchange_cpu_seconds_per_exchange",
        "exchange_cpu_seconds_per_mb", "round_cpu_seconds_per_exchange", "loop_cpu_seconds_per_round",
        "background_cores", "start_epoch", "start_round", "words_trained_this_run", "checkpoints",
        "faults", "actors", "epochs", "resumed_from"]
    assert written["resumed_from"] == {"checkpoint": 1, "epoch": 2, "words_done": 50}
    again = TrainingSection.from_json(json.loads(json.dumps(written)))
    assert again == section and again.to_json() == written and again.transport == "collective"
