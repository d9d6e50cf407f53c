"""Optional dependencies: which pip extra brings which library, and one line when it is missing.

`pip install w2v` (the core) reads and queries artifacts: numpy, gensim, smart_open, boto3 (and
pyyaml, for job configs). The rest comes with an extra (`pyproject.toml`), and the code that
needs it imports it through `require` when it is used, never at import time (`check` says a
missing one before a job starts, without importing it):

    [train]   ray, tqdm, pyarrow        w2v train (evaluating needs [eval] too), w2v submit, w2v eval --address
    [eval]    tensorflow, matplotlib    the evaluation (w2v eval, a job's evaluation task) and its pictures
    [keras]   tensorflow (Keras 3)      w2v.keras_embedding
    [all]     all of the above

A missing one is a `MissingExtraError` (an ImportError too) whose message names the command and
the install line, e.g. "w2v train needs Ray: pip install 'w2v[train]'".
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from .errors import MissingExtraError

# import name -> (what it is called in a message, the extra that installs it)
EXTRAS = {
    "ray": ("Ray", "train"),
    "tqdm": ("tqdm", "train"),
    "pyarrow": ("pyarrow", "train"),
    "tensorflow": ("TensorFlow", "eval"),
    "matplotlib": ("matplotlib", "eval"),
    "keras": ("Keras", "keras"),
}


def install_hint(module: str) -> str:
    """The pip command that brings `module`.

    >>> install_hint("ray.job_submission")
    "pip install 'w2v[train]'"
    """
    return f"pip install 'w2v[{EXTRAS[module.split('.')[0]][1]}]'"


def _missing(top: str, needed_by: str, otherwise: str) -> MissingExtraError:
    return MissingExtraError(f"{needed_by} needs {EXTRAS[top][0]}: {install_hint(top)}"
                             + (f" (or pass {otherwise})" if otherwise else ""))


def check(module: str, needed_by: str, otherwise: str = "") -> None:
    """Raise MissingExtraError unless `module` could be imported, without importing it (TensorFlow takes seconds).

    For what a job needs later: said before hours of training, not after. `otherwise` is the
    flag that avoids the need ("--no-eval").
    """
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules (blocked)
        found = False
    if not found:
        raise _missing(module.split(".")[0], needed_by, otherwise)


def require(module: str, needed_by: str) -> ModuleType:
    """Import `module` (e.g. "ray", "ray.job_submission") or raise MissingExtraError naming the extra.

    `needed_by` says who asks, as a user would name it: "w2v train", "w2v.keras_embedding".
    Only the absence of the top-level package becomes that message; an import error inside an
    installed package (a broken install) is raised as it is.
    """
    top = module.split(".")[0]
    try:
        importlib.import_module(top)
    except ImportError as exc:
        if exc.name != top:
            raise  # something the installed package itself lacks: not ours to rename
        raise _missing(top, needed_by, "") from None
    return importlib.import_module(module)
