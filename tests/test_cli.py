"""`w2v` as a user types it: one clear line and exit code 2 on bad input, a summary on success."""

import gc
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import w2v
from w2v.errors import EXIT_UNAVAILABLE
from w2v.cli import build_parser, config_from_args, main
from w2v.errors import EXIT_TRAINING

from .corpora import write_planted_corpus
from .terminal import final_lines

ROOT = Path(__file__).resolve().parent.parent


def w2v_process(*args: str, stderr=subprocess.PIPE, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m w2v.cli ARGS` in a fresh process (its own logging, its own Ray), never $RAY_ADDRESS's."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return subprocess.run([sys.executable, "-m", "w2v.cli", *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=stderr, timeout=timeout)


def test_missing_corpus_path_is_named_before_ray_starts(tmp_path, capsys, ray_cannot_start):
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
    assert capsys.readouterr().err == f"w2v: error: unknown key 'epochz' in {config}; did you mean 'epochs'?\n"
    assert main(["train", "c.txt", "--out", "o", "--projector-top", "-1"]) == 2
    assert "projector_top=-1" in capsys.readouterr().err


@pytest.mark.slow
def test_a_corrupt_archive_found_by_a_ray_task_is_one_line_naming_it(ray_cluster, tmp_path, capsys, caplog):
    """The counting task that meets the corrupt file raises in another process: the user still reads one
    line, not Ray's traceback, and Ray does not log it again as an unhandled error of the other returns."""
    root = tmp_path / "c"
    write_planted_corpus(root, files=3, sentences_per_file=200, compress=(".gz",))
    data = (root / "part-001.txt.gz").read_bytes()
    (root / "part-001.txt.gz").write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.ERROR):
        assert main(["train", str(root), "--out", str(tmp_path / "art"), "--no-eval", "-q"]) == 2
        gc.collect()
        time.sleep(1.0)  # Ray reports unread task errors from a background thread
    err = capsys.readouterr().err.strip()
    assert err.startswith("w2v: error: corpus file ") and "part-001.txt.gz is a corrupt or truncated archive" in err
    assert "Traceback" not in err and "ray::" not in err and len(err.splitlines()) == 1, err
    assert not [r for r in caplog.records if "Unhandled error" in r.getMessage()]
    assert not (tmp_path / "art").exists()


@pytest.mark.slow
def test_a_spool_dir_the_nodes_cannot_create_is_one_line_naming_it(ray_cluster, planted_corpus, tmp_path, capsys):
    root, _ = planted_corpus
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert main(["train", str(root), "--out", str(tmp_path / "art"), "--no-eval", "-q", "--epochs", "1",
                 "--spool-dir", str(blocker / "spool")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"w2v: error: cannot create a spool directory in {blocker / 'spool'}: Not a directory (see --spool-dir)"
    assert not (tmp_path / "art").exists()


@pytest.mark.slow
def test_train_from_yaml_with_flag_overrides(ray_cluster, planted_corpus, tmp_path, capsys):
    root, _ = planted_corpus
    config = tmp_path / "job.yaml"
    config.write_text(f"corpus: ['{root}/*.gz']\nvector_size: 8\nepochs: 9\n")
    out = tmp_path / "art"
    assert main(["train", "--config", str(config), "--out", str(out), "--epochs", "1", "--no-eval", "--text-vectors",
                 "-q"]) == 0
    printed = capsys.readouterr().out
    assert f"artifact: {out} (on " in printed and "x 8 dims" in printed and "in 2 shard(s)" in printed
    # Per-stage timings, and a total that is their sum.
    stages = {line.split()[0]: float(line.split()[1]) for line in printed.split("timings:\n", 1)[1].splitlines()
              if line.startswith("  ")}
    assert list(stages) == ["preflight", "ray-start", "list", "vocabulary", "plan", "train", "export", "total"]
    assert abs(sum(v for k, v in stages.items() if k != "total") - stages["total"]) < 0.5  # rounding of 7 stages
    assert (out / "manifest.json").exists() and not (out / "eval.json").exists()
    assert (out / "vectors.txt").exists() and not (out / "report.md").exists()  # no evaluation: no report
    assert not (out / "vectors.kv").exists()  # a pickle: only with --kv-pickle
    digest = hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    assert f"manifest sha256: {digest}" in printed  # printed at publish, so consumers can pin it


@pytest.mark.slow
def test_neighbors_command(trained_artifact, capsys):
    assert main(["neighbors", trained_artifact.out, "g0w1", "g5w5", "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["g0w1", "g5w5"]
    assert lines[0].count("(") == 3
    assert main(["neighbors", trained_artifact.out, "g0w1", "zzz"]) == 2
    err = capsys.readouterr().err
    assert "not in the vocabulary" in err and "zzz" in err


def test_output_under_a_file_is_refused_before_ray_starts(tmp_path, capsys, ray_cannot_start):
    (tmp_path / "c.txt").write_text("a b c\n")
    (tmp_path / "blocker").write_text("a file, not a directory")
    assert main(["train", str(tmp_path / "c.txt"), "--out", str(tmp_path / "blocker" / "art")]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err


@pytest.mark.slow
def test_dry_run_prints_the_plan_and_writes_nothing(ray_cluster, planted_corpus, tmp_path, capsys):
    root, counts = planted_corpus
    out = tmp_path / "art"
    assert main(["train", str(root), "--out", str(out), "--min-count", "5", "--actors", "2", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    vocab = sum(1 for c in counts.values() if c >= 5)
    assert "plan: 4 shard(s)" in printed and "on 2 actor(s)" in printed
    assert "quality (forecast): 2 actors: predicted analogy score" in printed
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
@pytest.mark.slow
def test_similarity_analogy_and_doesnt_match_commands(trained_artifact, capsys):
    kv = w2v.load(trained_artifact.out)
    assert main(["similarity", trained_artifact.out, "g0w1", "g0w2"]) == 0
    assert float(capsys.readouterr().out) == pytest.approx(kv.similarity("g0w1", "g0w2"), abs=1e-4)
    assert main(["doesnt-match", trained_artifact.out, "g0w1", "g0w2", "g0w3", "g4w4"]) == 0
    assert capsys.readouterr().out.strip() == "g4w4"
    assert main(["analogy", trained_artifact.out, "g0w1", "g0w2", "g3w3", "-k", "3"]) == 0
    line = capsys.readouterr().out.strip()
    expected = [w for w, _ in kv.most_similar(positive=["g0w2", "g3w3"], negative=["g0w1"], topn=3)]
    assert line.startswith("g0w1 : g0w2 :: g3w3 : ") and [p.split(" (")[0] for p in line.split(" : ")[-1].split(", ")] == expected
    assert main(["similarity", trained_artifact.out, "g0w1", "nope"]) == 2
    assert "not in the vocabulary" in capsys.readouterr().err


@pytest.mark.slow
def test_info_and_verify_commands(trained_artifact, tmp_path, capsys):
    assert main(["info", trained_artifact.out]) == 0
    info = capsys.readouterr().out
    assert "vocabulary: " in info and "on 2 actor(s)" in info and "questions-words.txt 3CosAdd" in info
    copy = tmp_path / "copy"
    shutil.copytree(trained_artifact.out, copy)
    assert main(["verify", str(copy)]) == 0
    assert "every sha256 matches manifest.json" in capsys.readouterr().out
    (copy / "vocab.tsv").write_text("g0w1\t1\n")
    assert main(["verify", str(copy)]) == 2
    assert "vocab.tsv: sha256 does not match" in capsys.readouterr().err
    assert main(["info", str(tmp_path)]) == 2
    assert "no manifest.json" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_command_publishes_report_into_the_artifact(trained_artifact, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(trained_artifact.out, copy)
    pairs = tmp_path / "pairs.tsv"
    rows = [f"g{g}w{i}\tg{g}w{i + 1}\t9" for g in range(6) for i in range(4)]
    rows += [f"g{g}w{i}\tg{(g + 1) % 6}w{i}\t1" for g in range(6) for i in range(4)] + ["g0w1\tunknownword\t5"]
    pairs.write_text("# planted groups\n" + "\n".join(rows) + "\n")
    analogies = tmp_path / "analogies.txt"
    analogies.write_text(": planted\ng0w1 g0w2 g1w1 g1w2\ng0w1 g0w2 g1w1 unknownword\n")
    assert main(["eval", str(copy), "--pairs", str(pairs), "--analogies", str(analogies), "--projector-top", "20"]) == 0
    printed = capsys.readouterr().out
    assert "analogies analogies.txt:" in printed and "on 1 of 2 questions (50.0% OOV)" in printed
    assert "pairs pairs.tsv: Spearman" in printed and "48 of 49 pairs" in printed
    manifest = w2v.verify(str(copy))
    assert manifest["evaluation"]["pairs"]["pairs.tsv"]["spearman"] > 0.6  # same-group pairs are closer
    assert {"report.md", "words_pca.png", "training_curves.png", "metadata.tsv"} <= set(manifest["files"])
    assert len((copy / "metadata.tsv").read_text().splitlines()) == 20
    assert "| planted | 2 | 1 |" in (copy / "report.md").read_text()
    assert "| word pairs `pairs.tsv` |" in (copy / "README.md").read_text()  # the model card follows the evaluation
    assert main(["eval", str(copy), "--pairs", str(tmp_path / "missing.tsv")]) == 2
    assert "missing.tsv: no such file" in capsys.readouterr().err
    assert json.loads((copy / "eval.json").read_text())["runtime"]["pid"] == os.getpid()  # no cluster: here


@pytest.mark.slow
def test_eval_command_on_a_cluster_runs_as_a_ray_task(trained_artifact, ray_cluster, tmp_path, capsys, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(trained_artifact.out, copy)
    (tmp_path / "pairs.tsv").write_text("g0w1\tg0w2\t9\ng0w1\tg3w3\t1\ng1w1\tg1w2\t9\ng1w1\tg4w4\t1\n")
    monkeypatch.chdir(tmp_path)  # a relative path is the caller's, not the Ray worker's
    assert main(["eval", str(copy), "--address", ray_cluster.address, "--cpus", "1", "--pairs", "pairs.tsv"]) == 0
    assert "evaluated in a Ray task on " in capsys.readouterr().out
    evaluation = json.loads((copy / "eval.json").read_text())
    assert evaluation["runtime"]["pid"] != os.getpid()  # a Ray worker did it
    assert evaluation["neighbors"] == trained_artifact.evaluation["neighbors"]  # same vectors, same seed: same result
    assert [p["file"] for p in evaluation["pairs"]] == ["pairs.tsv"] and evaluation["pairs"][0]["evaluated"] == 4
    w2v.verify(str(copy))
    assert main(["eval", str(copy), "--address", ray_cluster.address, "--cpus", "0"]) == 2
    assert "--eval-cpus 0 --eval-gpus 0: the evaluation task needs CPUs > 0" in capsys.readouterr().err


ESCAPED_WORD = "esc\x1b[31mred"


def test_query_commands_escape_terminal_control_characters_in_words(tmp_path, capsys):
    import numpy as np

    from w2v.export import write_artifact

    words = [ESCAPED_WORD, "bell\x07", "plain", "other", "fifth"]
    vectors = np.random.default_rng(0).standard_normal((len(words), 4)).astype(np.float32)
    write_artifact(str(tmp_path / "art"), words, [5, 4, 3, 2, 1], vectors, {}, None, False)
    art = str(tmp_path / "art")
    for argv in (["neighbors", art, "plain", "-k", "4"], ["analogy", art, "plain", "other", "fifth", "-k", "4"],
                 ["doesnt-match", art, ESCAPED_WORD, "bell\x07", "plain"], ["neighbors", art, ESCAPED_WORD]):
        assert main(argv) == 0, argv
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\x07" not in out, argv
    assert main(["neighbors", art, "plain", "-k", "4"]) == 0
    assert "esc\\x1b[31mred" in capsys.readouterr().out


def test_an_output_inside_the_corpus_or_a_corpus_inside_the_output_is_refused(tmp_path, capsys, ray_cannot_start):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("a b c\n")
    cases = [([str(corpus), "--out", str(corpus / "art")], f"--out {corpus / 'art'} is inside the corpus location"),
             ([str(corpus / "*.txt"), "--out", str(corpus / "sub" / "art")], "is inside the corpus location"),
             ([str(corpus / "a.txt"), "--out", str(tmp_path)], f"corpus path {corpus / 'a.txt'} is inside --out"),
             ([str(corpus), "--out", str(tmp_path / "art"), "--checkpoint-dir", str(corpus / "ckpt")],
              "--checkpoint-dir .* is inside the corpus location")]
    for argv, message in cases:
        assert main(["train", *argv, "--overwrite"]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and re.search(message, err), (argv, err)
    assert sorted(p.name for p in corpus.iterdir()) == ["a.txt"]


@pytest.mark.slow
def test_a_full_disk_at_export_is_one_line_giving_the_rescue_and_the_command_to_publish_it(
        ray_cluster, planted_corpus, tmp_path, full_disk, monkeypatch, capsys):
    import tempfile

    root, _ = planted_corpus
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / "art"
    real_write = w2v.export.write_artifact

    def disk_fills_up_during_training(*args, **kwargs):
        full_disk(disk)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(w2v.export, "write_artifact", disk_fills_up_during_training)
    assert main(["train", str(root), "--out", str(out), "--epochs", "1", "--vector-size", "8", "--no-eval",
                 "--checkpoint-interval", "0", "-q"]) == EXIT_UNAVAILABLE  # not bad input: free space, retry
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "Traceback" not in err
    rescue = err.split("kept in ", 1)[1].split(":", 1)[0]
    assert f"w2v publish {rescue} --out {out} --overwrite" in err
    assert w2v.load(rescue).vectors.shape[1] == 8


def test_print_config_prints_yaml_that_config_reads_back(tmp_path, capsys):
    """The effective config (file + flags) as YAML, without reading the corpus or starting anything."""
    import ray

    was_initialized = ray.is_initialized()
    job = tmp_path / "job.yaml"
    job.write_text(f"corpus: [{tmp_path / 'not-there' / '*.txt'}]\nout: o\nepochs: 9\nsample: 1e-4\n")
    argv = ["train", "--config", str(job), "--epochs", "2", "--min-alpha", "1e-7", "--eval-gpus", "1", "--print-config"]
    assert main(argv) == 0
    printed = tmp_path / "printed.yaml"
    printed.write_text(capsys.readouterr().out)
    expected = config_from_args(build_parser().parse_args(argv))
    assert w2v.TrainConfig.from_yaml(printed) == expected
    assert (expected.epochs, expected.sample, expected.min_alpha, expected.eval_gpus) == (2, 1e-4, 1e-7, 1.0)
    assert ray.is_initialized() == was_initialized


def test_train_and_eval_name_the_evaluation_task_the_same():
    """Same flag names and defaults in both commands; `eval` keeps its old --cpus/--gpus/--seed."""
    parser = build_parser()
    flags = ["--eval-cpus", "2", "--eval-gpus", "0.5", "--eval-seed", "3", "--projector-top", "7"]
    train = config_from_args(parser.parse_args(["train", "c.txt", "--out", "o", *flags]))
    evaluate = parser.parse_args(["eval", "art", *flags])
    names = ("eval_cpus", "eval_gpus", "eval_seed", "projector_top")
    assert [getattr(train, n) for n in names] == [getattr(evaluate, n) for n in names] == [2.0, 0.5, 3, 7]
    old = parser.parse_args(["eval", "art", "--cpus", "2", "--gpus", "0.5", "--seed", "3"])
    assert (old.eval_cpus, old.eval_gpus, old.eval_seed) == (2.0, 0.5, 3)
    defaults = parser.parse_args(["eval", "art"])
    assert [getattr(defaults, n) for n in names] == [getattr(w2v.TrainConfig, n) for n in names]


def test_an_unreachable_cluster_has_its_own_exit_code_in_seconds(tmp_path, capsys):
    """Nothing listens on port 9: one line and exit code 3, not ray.init's minutes of retries."""
    (tmp_path / "c.txt").write_text("a b c\n")
    assert main(["train", str(tmp_path / "c.txt"), "--out", str(tmp_path / "art"), "--address", "127.0.0.1:9"]) == 3
    assert capsys.readouterr().err == ("w2v: error: cannot reach the Ray cluster at 127.0.0.1:9: Connection refused "
                                       "(see --address and $RAY_ADDRESS)\n")
    assert not (tmp_path / "art").exists()


def test_json_log_format_is_one_object_per_line():
    code = ("import logging; from w2v.cli import configure_logging; configure_logging(log_format='json'); "
            "log = logging.getLogger('w2v.driver'); log.info('epoch %d/%d done', 1, 5)\n"
            "try:\n    1 / 0\nexcept ZeroDivisionError:\n    log.exception('failed')")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = done.stderr.splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert [(e["level"], e["logger"], e["message"]) for e in entries] == [("INFO", "w2v.driver", "epoch 1/5 done"),
                                                                        ("ERROR", "w2v.driver", "failed")]
    assert "ZeroDivisionError" in entries[1]["exception"] and entries[0]["time"].endswith("+00:00")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_every_log_line_is_redacted_whoever_logs_it(log_format):
    code = ("import logging; from w2v.cli import configure_logging; configure_logging(log_format=%r); "
            "logging.getLogger('ray').warning('retrying %%s', 's3://AKIA:wJal/rX+U@bkt/x and "
            "https://h/x?X-Amz-Signature=f00d&X-Amz-Security-Token=IQo')" % log_format)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "retrying s3://***@bkt/x and https://h/x?X-Amz-Signature=***&X-Amz-Security-Token=***" in done.stderr
    assert [s for s in ("AKIA", "wJal", "rX+U", "f00d", "IQo") if s in done.stderr] == []


def test_with_json_logs_what_ray_workers_print_becomes_json_records_too():
    """Ray forwards its workers' stdout/stderr to the driver as plain prefixed lines (under load even a C++
    library's lock warning from a counting task); with --log-format json each becomes a record of
    `w2v.worker_output`, so the output stays one JSON object per line. Text logs put Ray's printing back."""
    code = ("import logging\n"
            "from ray._private.ray_logging import global_worker_stdstream_dispatcher as d\n"
            "from w2v.cli import configure_logging\n"
            "from w2v.cluster import worker_output_as_log_records\n"
            "configure_logging(log_format='json'); worker_output_as_log_records()\n"
            "d.emit({'lines': ['[mutex.cc : 452] RAW: Lock blocking', ''], 'pid': 42, 'is_err': True,"
            " 'task_name': '_kept_batch'})\n"
            "d.emit({'lines': ['epoch done'], 'pid': 7, 'is_err': False, 'actor_name': 'TrainerActor'})\n"
            "worker_output_as_log_records(False); print(sorted(name for name, _ in d.handlers))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    entries = [json.loads(line) for line in done.stderr.splitlines()]  # every line is one JSON object
    assert [(e["level"], e["logger"], e["message"]) for e in entries] == [
        ("WARNING", "w2v.worker_output", "(_kept_batch pid=42) [mutex.cc : 452] RAW: Lock blocking"),
        ("INFO", "w2v.worker_output", "(TrainerActor pid=7) epoch done")], done.stderr
    assert done.stdout.strip() == "[]"  # no handler of ours is left (Ray adds its own at its next init)


@pytest.mark.slow
def test_a_failed_training_has_its_own_exit_code(ray_cluster, planted_corpus, tmp_path, capsys, monkeypatch):
    from w2v.trainer import FAULT_ENV

    root, _ = planted_corpus
    monkeypatch.setenv(FAULT_ENV, "0:1")  # actor 0's process exits after epoch 1, and may not restart
    assert main(["train", str(root), "--out", str(tmp_path / "art"), "--no-eval", "-q", "--epochs", "3",
                 "--vector-size", "8", "--max-restarts", "0", "--checkpoint-interval", "0"]) == EXIT_TRAINING == 4
    err = capsys.readouterr().err.strip()
    assert err.startswith("w2v: error: training failed: trainer actor 0 died more often than --max-restarts 0 "
                          "allows: ")
    assert err.endswith("checkpoints are off (--checkpoint-interval 0): nothing to resume from")  # no resume hint
    assert len(err.splitlines()) == 1 and not (tmp_path / "art").exists()


def w2v_in_terminal(*args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess, str]:
    """`w2v_process` with stderr on a pseudo-terminal of 40 rows x 160 columns: its result, and the terminal's text
    (carriage returns kept: a bar redrawn in place is each of its drawings)."""
    import fcntl
    import pty
    import struct
    import termios
    import threading

    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    chunks: list[bytes] = []

    def read() -> None:  # all along: a terminal whose reader waits for the end fills up and blocks the writer
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other end is closed and drained
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        done = w2v_process(*args, stderr=terminal, timeout=timeout)
    finally:
        os.close(terminal)
    reader.join(timeout=10)
    os.close(master)
    return done, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")  # the terminal's newlines


def printed_timings(out: str) -> dict[str, float]:
    """stage -> seconds of the summary's timings, `total` last."""
    return {line.split()[0]: float(line.split()[1]) for line in out.split("timings:\n", 1)[1].splitlines()
            if line.startswith("  ")}


@pytest.mark.slow
def test_quiet_on_a_terminal_shows_no_bar_nor_rays_start_up_and_the_stages_add_up_to_the_total(
        planted_corpus, tmp_path):
    """An embedded Ray of its own: its "Started a local Ray instance" and token lines are not printed, and -q
    draws no progress bar, even on a terminal. The summary's stages run from the process's start-up to Ray's
    shutdown, in order, and add up to the total it prints (how close that total comes to the caller's wall
    time is a timing: tests do not assert timings)."""
    root, _ = planted_corpus
    done, screen = w2v_in_terminal("train", str(root / "part-000.txt"), "--out", str(tmp_path / "art"), "--no-eval",
                                   "-q", "--epochs", "1", "--vector-size", "8", "--checkpoint-interval", "0")
    out = done.stdout.decode()
    assert done.returncode == 0, screen
    assert "Started a local Ray instance" not in screen and "Token authentication" not in screen, screen
    assert "%|" not in screen and "\r" not in screen, screen  # no bar drawn, none redrawn
    stages = printed_timings(out)
    assert list(stages)[:4] == ["start-up", "preflight", "ray-start", "list"], out
    assert list(stages)[-3:] == ["export", "ray-shutdown", "total"], out
    assert abs(sum(v for k, v in stages.items() if k != "total") - stages["total"]) < 0.6, out  # 10 rounded stages
    assert stages["start-up"] > 0 and all(v >= 0 for v in stages.values()), out
    manifest = json.loads((tmp_path / "art" / "manifest.json").read_text())
    assert list(manifest["timings"])[:3] == ["start-up", "preflight", "ray-start"]  # written before Ray's shutdown


# An embedded run (not -q) shows Ray's start but not its token notice: checked on the README's quick start
# (tests/test_readme.py: the same embedded start, $RAY_AUTH_MODE unset), not on an embedded Ray of its own here.


@pytest.mark.slow
def test_log_lines_go_above_the_progress_bars_not_into_them(ray_cluster, planted_corpus, tmp_path):
    """On a terminal a bar is cleared before each log line and drawn again below it: after the
    last carriage return of a line there is either bar or log text, never both. Every long stage
    draws one (what each shows: `tests/test_pipeline.py`)."""
    root, _ = planted_corpus
    done, screen = w2v_in_terminal("train", str(root), "--out", str(tmp_path / "art"), "--no-eval", "--epochs", "4",
                                   "--vector-size", "8", "--address", ray_cluster.address,
                                   "--checkpoint-interval", "0")
    assert done.returncode == 0, screen
    assert "%|" in screen and "epoch 2/4 done" in screen, screen  # a bar was drawn, and log lines came during it
    shown = final_lines(screen)
    assert not [line for line in shown if "%|" in line and "INFO" in line], screen
    bars = [line.split(":")[0] for line in shown if "%|" in line]
    assert bars == ["counting words", "merging counts", "spooling", "training", "writing the artifact",
                    f"publishing to {tmp_path / 'art'}"], screen


@pytest.mark.slow
def test_json_logs_on_a_terminal_are_one_object_per_line_without_bars(ray_cluster, planted_corpus, tmp_path):
    root, _ = planted_corpus
    done, screen = w2v_in_terminal("train", str(root), "--out", str(tmp_path / "art"), "--no-eval", "--epochs", "2",
                                   "--vector-size", "8", "--address", ray_cluster.address,
                                   "--checkpoint-interval", "0", "--log-format", "json")
    assert done.returncode == 0, screen
    assert "\r" not in screen, screen  # no bar drawn, none redrawn
    lines = [line for line in screen.splitlines() if line]
    messages = [json.loads(line)["message"] for line in lines]  # every line is one JSON object
    assert "epoch 2/2 done" in " ".join(messages), screen


@pytest.mark.slow
def test_an_embedded_ray_that_cannot_start_is_retried_once_then_one_line(tmp_path, monkeypatch):
    """A real failing start: $RAY_TMPDIR is a file, so Ray cannot make its temp dir."""
    write_planted_corpus(tmp_path / "corpus", files=1, sentences_per_file=50)
    (tmp_path / "file").write_text("not a directory")
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path / "file"))
    done = w2v_process("train", str(tmp_path / "corpus"), "--out", str(tmp_path / "out"), "--no-eval", timeout=120)
    err = done.stderr.decode()
    assert done.returncode == 3, err
    assert "Traceback" not in err
    assert err.count("starting an embedded Ray failed (NotADirectoryError") == 1  # tried twice
    assert err.splitlines()[-1].startswith("w2v: error: cannot start an embedded Ray on this machine (twice): "
                                           "NotADirectoryError")
    assert str(tmp_path / "file") in err.splitlines()[-1]


def test_an_embedded_start_that_fails_once_is_retried(monkeypatch):
    from w2v import cluster

    class FlakyRay:  # ray.init fails the first time, as a start racing another job's might
        calls = []

        def init(self, **kwargs):
            self.calls.append(kwargs["address"])
            if len(self.calls) == 1:
                raise RuntimeError("Failed to start the GCS")

        def shutdown(self):
            pass

    monkeypatch.setattr(cluster, "EMBEDDED_RETRY_SECONDS", (0.0, 0.0))
    monkeypatch.setattr(cluster, "mark_started", lambda: None)  # no Ray session was made
    flaky = FlakyRay()
    cluster.start_embedded(flaky, {})
    assert flaky.calls == ["local", "local"]


def _help(*command: str) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    return out.getvalue()


def _flag_helps(text: str) -> dict[str, str]:
    """flag -> its help entry on one line (argparse wraps a long flag's help onto the next lines)."""
    entries: dict[str, str] = {}
    flag = None
    for line in text.splitlines():
        if line.startswith("  -"):
            flag = line.split()[0].rstrip(",")
            entries[flag] = line
        elif flag and line.startswith("    "):
            entries[flag] += " " + line.strip()
        else:
            flag = None
    return entries


def test_every_train_flag_with_a_default_says_it_once_and_out_says_it_is_required():
    text = _help("train")
    lines = _flag_helps(text)
    without = {"-h", "--out", "--config", "--dry-run", "--print-config", "-q", "--init-from-sha256", "--s3-endpoint-url",
               "--s3-region", "--s3-profile", "--name", "--tags", "--mlflow-uri"}
    assert "--checkpoint-dir" in lines and "<out>.checkpoint" in lines["--checkpoint-dir"]
    for flag, line in lines.items():
        said = len(re.findall(r"[(;] ?default\b", line))  # "(default 5)", "(default: off)", "; default: off"
        assert said == (0 if flag in without else 1), line
    assert "(default: off)" in lines["--lowercase"] and "(default: off)" in lines["--phrases"]
    assert lines["--log-format"].endswith("(default: text)")
    assert text.startswith("usage: w2v train [CORPUS ...] --out DIR ") and "required" in lines["--out"]
    assert "rare words" in lines["--sync-tiers"] and "averaged where the actors moved it" in lines["--sync-combine"]


def test_the_query_commands_explain_their_arguments_and_w2v_says_its_version(capsys):
    from importlib.metadata import version

    analogy = _help("analogy")
    for argument in ("a", "b", "c"):
        assert any(line.split()[:1] == [argument] and len(line.split()) > 1 for line in analogy.splitlines())
    assert "(default: 5)" in analogy and "(default: 3CosAdd)" in analogy
    assert "(default: 8)" in _help("neighbors")
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out == f"w2v {version('w2v')}\n"
