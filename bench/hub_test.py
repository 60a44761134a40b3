"""How long ``hub test`` takes: each run, and each case, over the sample workflows.

    .venv/bin/python bench/hub_test.py [--path workflows] [--repeat 3]

Runs :func:`hub.testing.suite.run_tests` ``--repeat`` times in this process on one
throwaway Redis (as ``hub test`` does, without the process start and imports) and prints
per run its wall and CPU seconds, and the wall milliseconds per case: the mean, and the
median (a file's first case also loads its test file, and a run's first case of each
connector starts that sandbox). The CPU time says more than the wall time on a busy
machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.testing import run_tests, session_redis


def _one_run(path: Path, redis_client: redis.Redis) -> tuple[float, float, list[float], str]:
    """(wall s, CPU s, wall s of each case, the closing line) of one run."""
    marks: list[float] = []
    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)
        if line.startswith(("PASS  ", "FAIL  ")):
            marks.append(time.perf_counter())

    cpu, start = time.process_time(), time.perf_counter()
    run_tests(path, redis_client, echo=echo)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    cases = [b - a for a, b in zip([start, *marks], marks, strict=False)]
    return wall, cpu, cases, lines[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=Path("workflows"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with session_redis() as redis_client:
        for number in range(1, args.repeat + 1):
            wall, cpu, cases, closing = _one_run(args.path, redis_client)
            per_case = f"{1000 * statistics.mean(cases):.1f} ms mean" if cases else "no cases"
            median = f", {1000 * statistics.median(cases):.1f} ms median" if cases else ""
            print(
                f"run {number}: {wall:.2f} s wall, {cpu:.2f} s CPU, {len(cases)} cases, "
                f"{per_case}{median} per case ({closing})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
