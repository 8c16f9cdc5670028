"""The benchmarks are not run by the suite (they take minutes), so at least every name they import from
the app must still exist: a moved function breaks them silently otherwise."""

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPTS = sorted((REPO / "bench").glob("*.py"))


def app_imports(script: Path) -> list[tuple[str, str]]:
    tree = ast.parse(script.read_text(), str(script))
    return [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "app"
        for alias in node.names
    ]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_every_name_a_benchmark_imports_exists(script: Path) -> None:
    names = app_imports(script)
    assert names, f"{script.name} imports nothing from the app: is it still a benchmark of it?"
    for module, name in names:
        found = hasattr(importlib.import_module(module), name) or importlib.util.find_spec(f"{module}.{name}")
        assert found, f"{script.name}: {module} has no {name}"
