"""The code stays as clean as the project's standards say: ruff, and strict mypy on the
code, the benches and the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_lint_and_format_find_nothing() -> None:
    lint = _run("ruff", "check", "--no-cache", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run("ruff", "format", "--check", "--no-cache", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.parametrize("paths", [("hub", "connectors", "bench"), ("tests",)])
def test_mypy_strict_finds_nothing(paths: tuple[str, ...]) -> None:
    # two runs: the tests import the benches as `bench.*`, the first run reads them as files
    result = _run("mypy", *paths)
    assert result.returncode == 0, result.stdout + result.stderr
