"""One exception family per kind of failure, each with its exit code, and the CLI's one line for each."""

import ast
from pathlib import Path

import pytest

import w2v
from w2v import cli
from w2v.errors import EXIT_BAD_INPUT, EXIT_CLUSTER, EXIT_CODES, EXIT_EVALUATION, EXIT_TRAINING, EXIT_UNAVAILABLE

PACKAGE = Path(__file__).resolve().parent.parent / "w2v"

FAMILIES = [(w2v.ConfigError, EXIT_BAD_INPUT), (w2v.CorpusError, EXIT_BAD_INPUT), (w2v.StorageError, EXIT_BAD_INPUT),
            (w2v.ArtifactError, EXIT_BAD_INPUT), (w2v.EvaluationError, EXIT_BAD_INPUT),
            (w2v.ClusterError, EXIT_CLUSTER), (w2v.TrainingError, EXIT_TRAINING),
            (w2v.EvaluationFailedError, EXIT_EVALUATION), (w2v.StorageUnavailableError, EXIT_UNAVAILABLE)]


@pytest.mark.parametrize("family, code", FAMILIES)
def test_the_cli_turns_each_family_into_one_line_and_its_exit_code(family, code, monkeypatch, capsys):
    def fails(args):
        raise family("what went wrong, naming the key\x1b[2J")

    monkeypatch.setattr(cli, "cmd_info", fails)  # build_parser binds the command at each call of main
    assert cli.main(["info", "some-artifact"]) == code
    assert capsys.readouterr().err == "w2v: error: what went wrong, naming the key\\x1b[2J\n"  # escaped, one line


def test_every_exit_code_is_listed_and_training_errors_stay_runtime_errors():
    # 128 + SIGINT, 128 + SIGTERM: the shell's codes for a stopped driver
    assert sorted(EXIT_CODES) == [EXIT_BAD_INPUT, EXIT_CLUSTER, EXIT_TRAINING, EXIT_EVALUATION, EXIT_UNAVAILABLE, 130,
                                  143] == [2, 3, 4, 5, 6, 128 + 2, 128 + 15]
    assert issubclass(w2v.TrainingError, RuntimeError)  # jobs/benchmark.py catches RuntimeError


def raised_names(path: Path) -> list[tuple[str, int]]:
    """(name of the exception class raised, line) of every `raise Name(...)` / `raise Name` in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
            if name:
                found.append((name, node.lineno))
    return found


def test_no_module_raises_the_bare_base_class():
    bare = [f"{path.name}:{line}" for path in sorted(PACKAGE.glob("*.py"))
            for name, line in raised_names(path) if name == "W2VError"]
    assert bare == []


def test_the_bare_base_class_would_be_found(tmp_path):
    (tmp_path / "m.py").write_text("from .errors import W2VError\n\ndef f():\n    raise W2VError('x')\n")
    assert raised_names(tmp_path / "m.py") == [("W2VError", 4)]


def test_a_cluster_without_a_trainer_node_is_a_cluster_error():
    from w2v.placement import place_actors

    config = w2v.TrainConfig(corpus=("c",), out="o")
    with pytest.raises(w2v.ClusterError, match="the Ray cluster has no alive node with a CPU") as caught:
        place_actors(config, [], shards=3)
    assert caught.value.exit_code == EXIT_CLUSTER


def test_submit_without_training_arguments_is_bad_input(capsys):
    assert cli.main(["submit", "--address", "http://127.0.0.1:9"]) == EXIT_BAD_INPUT
    assert capsys.readouterr().err == ("w2v: error: give the training arguments after --, e.g. w2v submit -- "
                                       "--config jobs/sample.yaml\n")


def test_training_failures_become_training_errors_and_everything_else_keeps_its_kind():
    import ray.exceptions

    from w2v.errors import training_failures

    for failure, shown in ((RuntimeError("trainer actor 0 died 4 times (max_restarts=3)\ntraceback"),
                            "RuntimeError: trainer actor 0 died 4 times (max_restarts=3)"),
                           (FloatingPointError("the summed 'vectors' deltas are not finite"),
                            "FloatingPointError: the summed 'vectors' deltas are not finite"),
                           (ray.exceptions.ActorDiedError(),
                            "ActorDiedError: The actor died unexpectedly before finishing this task.")):
        with pytest.raises(w2v.TrainingError) as caught:
            with training_failures():
                raise failure
        assert str(caught.value) == f"training failed: {shown}" and caught.value.__cause__ is failure
        assert caught.value.exit_code == EXIT_TRAINING
    for kept in (w2v.StorageError("--spool-dir /x: not a directory"), w2v.ClusterError("no node"), KeyError("bug")):
        with pytest.raises(type(kept)) as caught:
            with training_failures():
                raise kept
        assert caught.value is kept  # bad input and the cluster keep their codes; a bug keeps its traceback


def test_only_a_failure_that_left_a_checkpoint_offers_resume():
    """The CLI prints `continue with: ... --resume` for these (`W2VError.resumable`), set by class, never patched on."""
    from w2v.errors import ResumableTrainingError, TrainingStopped

    assert issubclass(ResumableTrainingError, w2v.TrainingError) and ResumableTrainingError("x").resumable
    assert not w2v.TrainingError("x").resumable and not w2v.ConfigError("x").resumable
    assert TrainingStopped("stopped", 2).resumable
