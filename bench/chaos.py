"""The chaos run at any size: events through the ingress while workers are SIGKILLed,
Redis restarts and the upstream answers 500s, 429 bursts and slowly; then, per event,
exactly one person upstream or a dead letter, and a replay after the fault is fixed.

    .venv/bin/python bench/chaos.py [--events 10000] [--rate 25] [--kill-every 3]

Prints the counts (lost, duplicated, dead-lettered against those designed to fail) and a
``RESULT {json}`` line; exits 1 when the hub lost or duplicated anything. CI runs a short
version (tests/chaos). Loopback only; logs stay in ``--workdir`` (a temporary folder,
removed afterwards unless ``--keep``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.chaos import ChaosConfig, run_chaos


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=25.0, help="events offered per second")
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between kills")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--error-rate", type=float, default=0.3)
    parser.add_argument("--refused-every", type=int, default=20)
    parser.add_argument("--settle", type=float, default=600.0, help="seconds to wait at most")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-replay", action="store_true")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the workdir and its logs")
    args = parser.parse_args()
    config = ChaosConfig(
        events=args.events,
        send_rate=args.rate,
        kill_every=args.kill_every,
        workers=args.workers,
        concurrency=args.concurrency,
        error_rate=args.error_rate,
        refused_every=args.refused_every,
        settle_seconds=args.settle,
        replay=not args.no_replay,
        seed=args.seed,
    )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hub-chaos-"))
    print(
        f"{config.events} events at {config.send_rate:g}/s; {config.workers} workers x "
        f"{config.concurrency}, one SIGKILLed every {config.kill_every:g} s; Redis restarted "
        f"once; sandbox {config.error_rate:.0%} 500s, 429 bursts, latency "
        f"{config.latency_ms[0]:g}-{config.latency_ms[1]:g} ms; every "
        f"{config.refused_every}th event refused (designed to fail)",
        flush=True,
    )
    started = time.monotonic()
    try:
        report = run_chaos(config, workdir)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    for line in report.lines():
        print(line)
    for kind, examples in report.examples.items():
        print(f"  {kind}: {', '.join(examples)}")
    kept = f"; logs in {workdir / 'logs'}" if args.keep or args.workdir else ""
    print(f"total {time.monotonic() - started:.1f} s{kept}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
