"""The tree stays clean: ruff check, ruff format and hadolint on the Dockerfile."""

from __future__ import annotations

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
    ],
    ids=["ruff-check", "ruff-format", "hadolint"],
)
def test_clean(command: list[str]) -> None:
    executable = BIN / command[0]
    assert executable.exists(), f"{command[0]} is not installed in the project's environment"
    result = subprocess.run(
        [str(executable), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
