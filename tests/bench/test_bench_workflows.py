"""The workflow benchmark runs and prints its figures (the timing itself is not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_loads_validates_and_compiles_generated_workflows() -> None:
    result = subprocess.run(
        [sys.executable, "bench/workflows.py", "--count", "30", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "30 workflows, 1 cold run(s)"
    assert any("ms per workflow" in line for line in lines)
