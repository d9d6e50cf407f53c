"""The README works as written: its tour runs on a real artifact, CI runs its test command."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from w2v import TrainConfig
from w2v.job import run

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    """The bash blocks of the quick start, in order."""
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", quick_start, re.S)


def test_ci_runs_the_readmes_test_command():
    setup, tests = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests in ci.splitlines()
    assert "pip install -e '.[test]'" in setup and "w2v train --config jobs/sample.yaml" in setup


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


@pytest.mark.slow
def test_the_tour_runs_on_the_demo_artifact(ray_cluster, tmp_path, capsys):
    config = TrainConfig.from_yaml(ROOT / "jobs" / "sample.yaml",
                                   overrides={"out": str(tmp_path / "demo-artifact"), "eval": False})
    run(config)
    tour = README.split("<!-- tour -->", 1)[1].split("```python\n", 1)[1].split("\n```", 1)[0]
    assert 'artifact = "demo-artifact"' in tour
    code = tour.replace('artifact = "demo-artifact"', f'artifact = {str(tmp_path / "demo-artifact")!r}')
    code = code.replace("/tmp/w2v-tour.kv", str(tmp_path / "tour.kv"))
    exec(compile(code, "README.md tour", "exec"), {})
    printed = capsys.readouterr().out
    assert "war ->" in printed and "water ->" in printed
