"""Backfill: 5,000 Plutio invoices through the poll path, on a time-scaled Plutio quota.

Starts a Redis server, the Plutio sandbox, a worker and beat (real processes, as in
production), seeds the invoices, resets the poll cursor with ``hub cursors reset`` (as an
operator starts a backfill), then prints a progress line each second (rows done,
remaining, rate, ETA) and a summary: time, rows, Plutio calls, the fullest quota window
against the limit, and the quota waits the poll took. Exits 1 unless every invoice is
exactly one row and the quota held.

    .venv/bin/python bench/backfill.py                   # 5,000 invoices, 100 calls / 2 s
    .venv/bin/python bench/backfill.py --invoices 1000 --page-size 50 --quota 20/2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.core import RedisServer  # noqa: E402
from tests.support.processes import HubProcesses  # noqa: E402
from tests.workflows.invoice_export import fast_workflows, invoice  # noqa: E402

POLL_WORKFLOW = "plutio-invoice-poll-to-accounting-export"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=5000)
    parser.add_argument("--page-size", type=int, default=20, help="invoices per poll page")
    parser.add_argument("--quota", default="100/2", help="calls/seconds, e.g. 100/2")
    parser.add_argument("--concurrency", type=int, default=4, help="worker processes")
    parser.add_argument("--timeout", type=float, default=600.0)
    return parser.parse_args()


def _rows(folder: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def _count_lines(folder: Path) -> int:
    return sum(path.read_bytes().count(b"\n") for path in folder.glob("*.jsonl"))


def main() -> int:
    args = _args()
    limit, window = (float(x) for x in args.quota.split("/"))
    base = Path(tempfile.mkdtemp(prefix="hub-backfill-"))
    exports = base / "exports"
    folder = exports / "invoices"
    redis = RedisServer(base / "redis", appendonly=False).start()
    quota_env = {
        "PLUTIO_QUOTA_LIMIT": str(int(limit)),
        "PLUTIO_QUOTA_WINDOW_SECONDS": str(window),
        "PLUTIO_SANDBOX_QUOTA_LIMIT": str(int(limit)),
        "PLUTIO_SANDBOX_QUOTA_WINDOW_SECONDS": str(window),
        "PLUTIO_SANDBOX_PAGE_LIMIT_MAX": str(args.page_size),
    }
    procs = HubProcesses(
        redis_url=redis.url,
        log_dir=base,
        workflows=fast_workflows(base / "workflows", limit=args.page_size),
        extra_env={
            "ACCOUNTING_EXPORT_DIR": str(exports),
            "HUB_DATA_DIR": str(base / "data"),
            "HUB_POLL_OVERLAP_SECONDS": "5",
            **quota_env,
        },
    )
    print(
        f"backfill of {args.invoices} invoices, pages of {args.page_size}, "
        f"quota {int(limit)} calls per {window:g} s; logs in {base}"
    )
    try:
        procs.start_sandbox()
        records = [invoice(n, second=60_000 + n / 4) for n in range(args.invoices)]
        for start in range(0, len(records), 500):
            httpx.post(
                f"{procs.sandbox_url}/_sandbox/seed",
                json={"invoices": records[start : start + 500]},
                timeout=60,
            ).raise_for_status()
        reset = subprocess.run(
            [sys.executable, "-m", "hub", "cursors", "reset", POLL_WORKFLOW],
            env=procs.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        print(reset.stdout.strip() or reset.stderr.strip())
        procs.start_worker(concurrency=args.concurrency)
        procs.start_beat()
        started = time.monotonic()
        done = 0
        while done < args.invoices:
            time.sleep(1.0)
            done = _count_lines(folder) if folder.exists() else 0
            elapsed = time.monotonic() - started
            rate = done / elapsed if elapsed else 0.0
            remaining = args.invoices - done
            eta = f"{remaining / rate:5.0f}s" if rate else "    ?"
            print(
                f"{elapsed:6.1f}s  done {done:5d}  remaining {remaining:5d}  "
                f"{rate:6.1f}/s  ETA {eta}",
                flush=True,
            )
            if elapsed > args.timeout:
                print("timed out")
                return 1
        elapsed = time.monotonic() - started
        time.sleep(2.0)  # a duplicate row would be written now
        rows = _rows(folder)
        keys = Counter(r["export_key"] for r in rows)
        calls = httpx.get(f"{procs.sandbox_url}/_sandbox/calls", timeout=30).json()
        lists = [c for c in calls["calls"] if c["path"] == "/invoices"]
        refused = sum(1 for c in calls["calls"] if c["status"] == 429)
        fullest = max((v["received"] for v in calls["max_in_window"].values()), default=0)
        worker_log = (base / "worker.log").read_text(errors="replace")
        quota_waits = worker_log.count("exhausted; next slot in")
        exact = len(rows) == args.invoices and len(keys) == args.invoices
        held = fullest <= limit and refused == 0
        print()
        print(
            f"rows            {len(rows)} ({len(keys)} distinct export keys) "
            f"for {args.invoices} invoices: {'exact' if exact else 'WRONG'}"
        )
        print(f"time            {elapsed:.1f}s, {args.invoices / elapsed:.0f} invoices/s")
        print(
            f"Plutio calls    {len(calls['calls'])} ({len(lists)} pages of invoices), "
            f"{refused} answered 429"
        )
        print(
            f"quota           fullest {window:g}s window held {fullest} calls "
            f"(limit {int(limit)}): {'held' if held else 'BROKEN'}"
        )
        print(f"quota waits     {quota_waits} poll re-schedules for a free slot")
        return 0 if exact and held else 1
    finally:
        procs.stop()
        redis.stop()


if __name__ == "__main__":
    sys.exit(main())
