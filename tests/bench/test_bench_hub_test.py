"""The `hub test` benchmark runs the cases and prints its figures (timing not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_runs_the_cases_and_prints_the_time_of_each() -> None:
    spec = "workflows/plutio-invoice-removed-to-accounting-reversal.test.yaml"
    result = subprocess.run(
        [sys.executable, "bench/hub_test.py", "--path", spec, "--repeat", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    cases = (ROOT / spec).read_text().count("  - name:")
    pattern = (
        rf"run [12]: [\d.]+ s wall, [\d.]+ s CPU, {cases} cases, [\d.]+ ms mean, "
        rf"[\d.]+ ms median per case \({cases} passed, 0 failed\)"
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert all(re.fullmatch(pattern, line) for line in lines), lines
