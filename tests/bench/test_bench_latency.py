"""The pickup-latency benchmark runs and prints its figures (the timing is not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(400)
def test_the_benchmark_measures_both_sides_and_prints_the_three_figures() -> None:
    result = subprocess.run(
        [sys.executable, "bench/latency.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=360,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for side in ("hub", "bare"):
        assert re.search(rf"^{side} +e2e at .* p50 +[\d.]+ ms +p99 +[\d.]+ ms", out, re.M)
        assert re.search(rf"^{side} +e2e at 5 contacts/s: p50 +[\d.]+ ms", out, re.M)
        assert re.search(rf"^{side} +5-step chain, idle worker: p50 +[\d.]+ ms", out, re.M)
        assert re.search(rf"^{side} +drain: +\d+ runs/s", out, re.M)
    assert re.search(r"drain [\d.]+x the bare app's \(goal >= 0.8x\)", out), out
