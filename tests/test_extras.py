"""The core install: artifacts load and answer queries with Ray, TensorFlow, Keras and matplotlib absent.

One venv holds every extra (the test environment), so a fresh process is given an import blocker
first (`sys.meta_path`): to it those packages are not installed, and every attempt to import
one is recorded. It then runs `w2v.cli.main` and the library calls a consumer makes.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from w2v.errors import MissingExtraError
from w2v.export import write_artifact
from w2v.extras import EXTRAS, check, install_hint, require

ROOT = Path(__file__).resolve().parent.parent
BLOCKED = ("ray", "tensorflow", "keras", "matplotlib")

# Runs in the fresh process: the blocker, then each step of sys.argv[1] (JSON), each step's output captured.
CORE_ONLY = '''
import contextlib, io, json, sys

BLOCKED = {blocked!r}
attempts = []  # every import of a blocked package that something tried

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            attempts.append(name)
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
import w2v
from w2v.cli import main

results = []
for step in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        if step[0] == "python":
            try:
                exec(step[1], {{"w2v": w2v}})
                code = 0
            except Exception as exc:
                code, _ = 1, print(f"{{type(exc).__name__}}: {{exc}}", file=sys.stderr)
        else:
            code = main(step)
    results.append({{"step": step, "code": code, "out": out.getvalue(), "err": err.getvalue(),
                     "attempts": list(attempts)}})
    attempts.clear()
print(json.dumps(results))
'''.format(blocked=BLOCKED)


def core_only(*steps) -> list[dict]:
    """Run each step (w2v argv, or ("python", code)) in one fresh process without the extras."""
    done = subprocess.run([sys.executable, "-c", CORE_ONLY, json.dumps(steps)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def core_run(tmp_path_factory) -> dict:
    """One fresh process without the extras runs every step on an artifact built here: {name: result}."""
    root = tmp_path_factory.mktemp("core")
    words = ["the", "paris", "france", "berlin", "germany", "war", "peace", "march"]
    vectors = np.random.default_rng(0).standard_normal((len(words), 8)).astype(np.float32)
    art = str(root / "art")
    write_artifact(art, words, list(range(len(words), 0, -1)), vectors, {"parameters": {"lowercase": True}}, None,
                   False)
    (root / "corpus.txt").write_text("a b c\n" * 10)
    train = ["train", str(root / "corpus.txt"), "--out", str(root / "out")]
    library = (f"kv = w2v.load({art!r})\n"
               "import numpy as np\n"
               "assert isinstance(kv.vectors, np.memmap)\n"
               "print(w2v.to_indices('The war began'.split(), kv, length=5).tolist())\n"
               "print(w2v.embedding_matrix(kv).shape)\n"
               "w2v.keras_embedding(kv)\n")
    steps = {"neighbors": ["neighbors", art, "Paris", "war", "-k", "3"],
             "similarity": ["similarity", art, "paris", "france"],
             "analogy": ["analogy", art, "paris", "france", "berlin", "-k", "2"],
             "doesnt-match": ["doesnt-match", art, "paris", "france", "war"],
             "info": ["info", art], "verify": ["verify", art], "publish": ["publish", art, "--out", str(root / "again")],
             "library": ("python", library),
             "train": train, "print-config": [*train, "--print-config"],
             "submit": ["submit", "--", "--config", "jobs/sample.yaml", "--out", str(root / "out")],
             "eval": ["eval", art]}
    results = core_only(*steps.values())
    assert not (root / "out").exists()
    return dict(zip(steps, results))


def test_queries_info_verify_and_the_library_work_without_any_extra(core_run):
    for name in ("neighbors", "similarity", "analogy", "doesnt-match", "info", "verify", "publish"):
        assert core_run[name]["code"] == 0, core_run[name]
        assert core_run[name]["attempts"] == [], core_run[name]  # not even tried
    neighbors = core_run["neighbors"]["out"].splitlines()
    assert neighbors[0].startswith("paris: ") and neighbors[1].startswith("war: ") and len(neighbors) == 2
    assert "'Paris' looked up as 'paris'" in core_run["neighbors"]["err"]
    assert -1 <= float(core_run["similarity"]["out"]) <= 1
    assert core_run["analogy"]["out"].startswith("paris : france :: berlin : ")
    assert "every sha256 matches manifest.json" in core_run["verify"]["out"]
    assert "files (4, " in core_run["info"]["out"]  # vectors.npy, vocab.tsv, vectors.bin and the model card
    library = core_run["library"]
    assert library["out"].splitlines() == ["[1, 6, 0, 0, 0]", "(9, 8)"]  # the, war; "began" is not a word of it
    assert library["code"] == 1  # keras_embedding: the one line that names the extra
    assert library["err"].strip() == "MissingExtraError: w2v.keras_embedding needs Keras: pip install 'w2v[keras]'"


def test_train_submit_and_eval_without_their_extras_say_which_to_install(core_run):
    assert core_run["train"]["code"] == 2
    assert core_run["train"]["err"] == "w2v: error: w2v train needs Ray: pip install 'w2v[train]'\n"
    assert core_run["print-config"]["code"] == 0 and "corpus:" in core_run["print-config"]["out"]  # no Ray needed
    assert core_run["submit"]["err"] == "w2v: error: w2v submit needs Ray: pip install 'w2v[train]'\n"
    assert core_run["eval"]["err"] == "w2v: error: w2v eval needs matplotlib: pip install 'w2v[eval]'\n"
    assert core_run["submit"]["code"] == core_run["eval"]["code"] == 2


def test_a_training_that_would_evaluate_without_tensorflow_is_refused_before_it_starts(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # what Python does for a package that is not there
    with pytest.raises(MissingExtraError, match=r"^w2v train's evaluation needs TensorFlow: pip install "
                                                r"'w2v\[eval\]' \(or pass --no-eval\)$"):
        check("tensorflow", "w2v train's evaluation", otherwise="--no-eval")
    with pytest.raises(ImportError, match="needs TensorFlow"):  # an ImportError too, for callers that catch that
        require("tensorflow", "w2v's evaluation")
    check("numpy", "anything")  # installed: nothing to say


def test_every_extra_named_in_a_message_exists_in_pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for module, (_, extra) in EXTRAS.items():
        assert extra in extras, module
        assert install_hint(module) == f"pip install 'w2v[{extra}]'"
    assert set(extras["all"][0].split("[")[1].rstrip("]").split(",")) == {"train", "eval", "keras", "mlflow"}
    assert "w2v[all]" in extras["test"]  # .ci/run and the README install [test]: the whole environment
