"""`w2v` as a user types it: one clear line and exit code 2 on bad input, a summary on success."""

import pytest

from w2v.cli import main


def test_missing_corpus_path_is_named_before_ray_starts(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("w2v: error: corpus path ") and "nope: no such file or directory" in err
    assert not (tmp_path / "out").exists()


def test_occupied_output_is_refused(tmp_path, capsys):
    (tmp_path / "c.txt").write_text("a b c\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("precious")
    assert main(["train", str(tmp_path / "c.txt"), "--out", str(tmp_path / "out")]) == 2
    assert "already holds 1 file(s); pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "out" / "keep.txt").read_text() == "precious"


def test_bad_parameters_and_config_keys_are_named(tmp_path, capsys):
    assert main(["train", "c.txt", "--out", "o", "--window", "0"]) == 2
    assert "window=0" in capsys.readouterr().err
    config = tmp_path / "job.yaml"
    config.write_text("corpus: [c.txt]\nout: o\nepochz: 3\n")
    assert main(["train", "--config", str(config)]) == 2
    assert "unknown key(s) epochz" in capsys.readouterr().err


@pytest.mark.slow
def test_train_from_yaml_with_flag_overrides(ray_cluster, planted_corpus, tmp_path, capsys):
    root, _ = planted_corpus
    config = tmp_path / "job.yaml"
    config.write_text(f"corpus: ['{root}/*.gz']\nvector_size: 8\nepochs: 9\n")
    out = tmp_path / "art"
    assert main(["train", "--config", str(config), "--out", str(out), "--epochs", "1", "--no-eval", "-q"]) == 0
    printed = capsys.readouterr().out
    assert f"artifact: {out} (on " in printed and "x 8 dims" in printed and "in 2 shard(s)" in printed
    # Per-stage timings, and a total that is their sum.
    stages = {line.split()[0]: float(line.split()[1]) for line in printed.split("timings:\n", 1)[1].splitlines()
              if line.startswith("  ") and line.split()[0] in ("list", "vocabulary", "plan", "train", "export", "total")}
    assert set(stages) == {"list", "vocabulary", "plan", "train", "export", "total"}
    assert abs(sum(v for k, v in stages.items() if k != "total") - stages["total"]) < 0.35  # rounding of 5 stages
    assert (out / "manifest.json").exists() and not (out / "eval.json").exists()


@pytest.mark.slow
def test_neighbors_command(trained_artifact, capsys):
    assert main(["neighbors", trained_artifact.out, "g0w1", "g5w5", "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["g0w1", "g5w5"]
    assert lines[0].count("(") == 3
    assert main(["neighbors", trained_artifact.out, "g0w1", "zzz"]) == 2
    err = capsys.readouterr().err
    assert "not in the vocabulary" in err and "zzz" in err


def test_output_under_a_file_is_refused_before_ray_starts(tmp_path, capsys):
    (tmp_path / "c.txt").write_text("a b c\n")
    (tmp_path / "blocker").write_text("a file, not a directory")
    assert main(["train", str(tmp_path / "c.txt"), "--out", str(tmp_path / "blocker" / "art")]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err


@pytest.mark.slow
def test_dry_run_prints_the_plan_and_writes_nothing(ray_cluster, planted_corpus, tmp_path, capsys):
    root, counts = planted_corpus
    out = tmp_path / "art"
    assert main(["train", str(root), "--out", str(out), "--min-count", "5", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    vocab = sum(1 for c in counts.values() if c >= 5)
    assert "plan: 4 shard(s)" in printed and "on 2 actor(s)" in printed
    assert f"vocabulary: {vocab:,} words x 100 dims" in printed and f"{sum(counts.values()):,} words per epoch" in printed
    assert "memory (estimate):" in printed and "time (estimate):" in printed
    assert "dry run: the config is valid, 4 corpus file(s) were read" in printed
    assert not out.exists()


@pytest.mark.slow
def test_dry_run_rejects_a_min_count_beyond_every_count(ray_cluster, planted_corpus, tmp_path, capsys):
    root, counts = planted_corpus
    too_high = max(counts.values()) + 1
    assert main(["train", str(root), "--out", str(tmp_path / "art"), "--min-count", str(too_high), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"min_count={too_high}: no word of the corpus is that frequent" in err
    assert f"appears {max(counts.values())} times" in err
