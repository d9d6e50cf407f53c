"""The one-line examples in the library's docstrings are true."""

import doctest
import importlib
import pkgutil

import pytest

import w2v

MODULES = sorted(m.name for m in pkgutil.iter_modules(w2v.__path__, "w2v."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"
