"""The one-line examples in the library's docstrings are true, and every module that has some runs them."""

import doctest
import importlib
import pkgutil

import pytest

import w2v

MODULES = sorted(m.name for m in pkgutil.walk_packages(w2v.__path__, "w2v."))
# Modules without an example doctest runs (none, or only `+SKIP` ones that need an artifact). A
# module that gains one leaves this set (the last test says so); any other module without one
# fails the first test.
NO_EXAMPLES = {"w2v.evaluation.analogies", "w2v.pipeline", "w2v.memory", "w2v.owners", "w2v.version", "w2v.storage.local",
               "w2v.evaluation"}


def run_examples(name: str) -> doctest.TestResults:
    return doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)


@pytest.mark.parametrize("name", [m for m in MODULES if m not in NO_EXAMPLES])
def test_docstring_examples(name):
    result = run_examples(name)
    assert result.attempted > 0, f"{name} has no docstring example: add one, or list it in NO_EXAMPLES"
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"


def test_the_modules_listed_without_examples_have_none():
    assert NO_EXAMPLES <= set(MODULES), f"not modules of w2v: {sorted(NO_EXAMPLES - set(MODULES))}"
    assert [name for name in sorted(NO_EXAMPLES) if run_examples(name).attempted] == [], \
        "these have examples now: take them out of NO_EXAMPLES"
