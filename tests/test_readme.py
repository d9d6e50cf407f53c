"""The README works as written: its tour runs on a real artifact, CI runs its test command."""

import os
import re
import shlex
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import w2v

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    """The bash blocks of the quick start, in order."""
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", quick_start, re.S)


def test_ci_runs_the_readmes_test_command():
    setup, tests = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    install, run_tests = tests.split(" && ")
    assert run_tests in ci.splitlines() and install == ".venv/bin/pip install -e '.[test]'"
    assert "pip install -e '.[train,eval]'" in setup and "w2v train --config jobs/sample.yaml" in setup


def test_the_install_table_lists_every_extra_a_user_installs():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    table = README.split("### Install: the core and its extras", 1)[1].split("\n\n| install |", 1)[1]
    listed = set(re.findall(r"pip install 'w2v\[(\w+)\]'", table.split("\n\n", 1)[0]))
    assert listed == set(extras) - {"test", "bench"}  # those two are the project's own, said elsewhere


def test_the_exit_code_table_is_w2vs():
    from w2v.errors import EXIT_CODES

    rows = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", README.split("| exit code | meaning |", 1)[1].split("\n\n", 1)[0],
                           re.M))
    assert set(rows) == {"0", "1", *map(str, EXIT_CODES)}
    for code, meaning in EXIT_CODES.items():
        assert rows[str(code)].startswith(meaning), (code, rows[str(code)], meaning)


def test_jobs_train_takes_the_cli_arguments():
    done = subprocess.run([sys.executable, "-m", "jobs.train", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0
    assert "--vector-size" in done.stdout and "--sync-words" in done.stdout and "--sync-tiers" in done.stdout


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """The README's first command, run once as a user runs it: (the finished process, the artifact it wrote).

    In a fresh process from the repository root, with no cluster to join ($RAY_ADDRESS unset) and no Ray token
    or test S3 settings in its environment. Its artifact is the tour's "demo-artifact"."""
    setup, _ = readme_commands()
    train = setup.split(" && ")[-1]
    assert train == ".venv/bin/w2v train --config jobs/sample.yaml --out demo-artifact"  # the rest installs
    artifact = tmp_path_factory.mktemp("quick-start") / "demo-artifact"
    argv = shlex.split(train)
    argv[argv.index("demo-artifact")] = str(artifact)
    # `.venv/bin/w2v` is pip's console script for this entry point: run it with the Python running these
    # tests, from this checkout (an installed script may belong to another checkout's editable install).
    [script] = [e for e in entry_points(group="console_scripts") if e.name == "w2v"]
    assert argv[0] == ".venv/bin/w2v" and script.value == "w2v.cli:main"
    argv[0:1] = [sys.executable, "-c", "import sys; from w2v.cli import main; sys.exit(main())"]
    gone = {"RAY_ADDRESS", "RAY_API_SERVER_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH",
            "PYTHONPATH", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}  # a user has none
    env = {k: v for k, v in os.environ.items() if k not in gone}
    done = subprocess.run(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=1500)
    return done, artifact


@pytest.mark.slow
def test_the_tour_runs_on_the_demo_artifact(quick_start, capsys, tmp_path):
    """The tour on what the quick start wrote (its `demo-artifact`), as a user follows the README."""
    done, artifact = quick_start
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    tour = README.split("<!-- tour -->", 1)[1].split("```python\n", 1)[1].split("\n```", 1)[0]
    assert 'artifact = "demo-artifact"' in tour
    code = tour.replace('artifact = "demo-artifact"', f'artifact = {str(artifact)!r}')
    code = code.replace("/tmp/w2v-tour.kv", str(tmp_path / "tour.kv"))
    exec(compile(code, "README.md tour", "exec"), {})
    printed = capsys.readouterr().out
    assert "war ->" in printed and "water ->" in printed


@pytest.mark.slow
def test_the_quick_start_runs_as_a_user_runs_it_with_an_embedded_ray(quick_start):
    """The README's first command (`quick_start`): Ray starts embedded, its start shown but not its "Token
    authentication is enabled ... Set RAY_AUTH_MODE=disabled to opt out" notice (nothing a user of an embedded
    run can act on: `w2v.cluster` drops it), and the demo prints its summary and the 8 nearest words of 16
    frequent words."""
    done, artifact = quick_start
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "Started a local Ray instance" in done.stderr, done.stderr[-4000:]  # embedded, not a cluster's
    assert "Token authentication" not in done.stderr, done.stderr[-4000:]  # $RAY_AUTH_MODE unset, as a user's
    out = done.stdout
    assert "vocabulary: " in out and "timings:" in out and f"artifact: {artifact}" in out, out
    shown = out.split("nearest neighbours (cosine):\n", 1)[1].splitlines()[:16]
    assert len(shown) == 16 and all(re.fullmatch(r"  \S+: (\S+ \(-?\d\.\d\d\), ){7}\S+ \(-?\d\.\d\d\)", line)
                                    for line in shown), out
    manifest = w2v.verify(str(artifact))
    assert manifest["evaluation"]["file"] == "eval.json" and "report.md" in manifest["files"]
