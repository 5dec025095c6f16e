"""Every ``Example`` in a public docstring runs (doctest)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import latentinfer

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(latentinfer.__path__, prefix="latentinfer.")
    if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    for test in finder.find(module, name):
        if test.examples:
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
