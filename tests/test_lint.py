"""The tree stays clean: ruff check, ruff format, mypy (strict) on app/ and hadolint on the
Dockerfile."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SOURCES = ["app", "tests", "migrations", "bench"]


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", *SOURCES],
        ["ruff", "format", "--check", *SOURCES],
        ["hadolint", "Dockerfile"],
        ["mypy"],  # strict on app/, as pyproject.toml's [tool.mypy] says
    ],
    ids=["ruff-check", "ruff-format", "hadolint", "mypy"],
)
def test_clean(command: list[str]) -> None:
    executable = BIN / command[0]
    assert executable.exists(), f"{command[0]} is not installed in the project's environment"
    result = subprocess.run(
        [str(executable), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in tests/helpers.py (or a package's helpers.py, or conftest): a test
    module imported by another would run its own tests' module-level code there too, and ties
    unrelated tests together. (A line scan: `ast.parse` in Python 3.11.7 can fail inside pytest
    with "AST constructor recursion depth mismatch", a CPython bug.)"""
    statement = re.compile(r"^\s*(?:from|import)\s+(tests(?:\.\w+)*\.test_\w+)", re.M)
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for name in statement.findall(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
