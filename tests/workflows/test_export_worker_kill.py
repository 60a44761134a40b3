"""Exactly once through worker crashes: SIGKILL the worker (and its pool) at random points
while the poll path exports a batch of invoices; every invoice ends as exactly one row.

The broker gives a killed worker's tasks back after HUB_VISIBILITY_TIMEOUT_SECONDS (10 s
here, an hour in production), so the test also shows nothing is lost, only late.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from hub.core.redis_server import RedisServer
from tests.support.processes import HubProcesses, wait_for
from tests.workflows.invoice_export import Hub, fast_workflows, invoice

pytestmark = pytest.mark.e2e


@pytest.fixture
def hub(redis_server: RedisServer, tmp_path: Path) -> Iterator[Hub]:
    redis.Redis.from_url(redis_server.url).flushdb()
    exports = tmp_path / "exports"
    procs = HubProcesses(
        redis_url=redis_server.url,
        log_dir=tmp_path,
        workflows=fast_workflows(tmp_path / "workflows"),
        extra_env={
            "ACCOUNTING_EXPORT_DIR": str(exports),
            "HUB_DATA_DIR": str(tmp_path / "data"),
            "HUB_VISIBILITY_TIMEOUT_SECONDS": "10",
            "HUB_POLL_LOCK_SECONDS": "5",
            "HUB_POLL_OVERLAP_SECONDS": "5",
            "HUB_RETRY_BASE_SECONDS": "0.2",
        },
    )
    try:
        procs.start_sandbox()
        procs.start_worker(concurrency=2)
        procs.start_beat()
        yield Hub(procs, exports)
    finally:
        procs.stop()


def _broker_idle(client: redis.Redis) -> bool:
    """Nothing queued (in any hub queue), reserved or waiting on a countdown."""
    queues = [k for k in client.scan_iter(match="hub*") if client.type(k) == b"list"]
    return sum(client.llen(k) for k in queues) == 0 and client.hlen("unacked") == 0


def _export_through_kills(hub: Hub, count: int, kills: int, seed: int) -> None:
    print(f"kill schedule seed {seed}")
    rng = random.Random(seed)
    # groups of seven invoices share an updatedAt: page boundaries fall inside ties
    records = [invoice(n, second=50_000 + n // 7) for n in range(count)]
    started = time.monotonic()
    hub.seed(records)
    wait_for(lambda: bool(hub.rows()), 30, "the first row")  # the kills land mid-export
    done = 0
    for _ in range(kills):
        time.sleep(rng.uniform(2.0, 4.0))
        done = len({r["export_key"] for r in hub.rows()})
        print(f"kill at {time.monotonic() - started:5.1f}s with {done}/{count} rows")
        hub.procs.kill("worker")
        hub.procs.start_worker(concurrency=2)
    client = redis.Redis.from_url(hub.procs.redis_url)
    try:
        wait_for(lambda: len({r["export_key"] for r in hub.rows()}) >= count, 120, "every row")
        wait_for(lambda: _broker_idle(client), 60, "the broker to drain", interval=0.5)
    except TimeoutError:
        print(hub.procs.logs())
        raise
    time.sleep(1.5)  # a straggler would write now
    elapsed = time.monotonic() - started
    for fmt in ("jsonl", "csv"):
        rows = hub.rows(fmt)
        keys = Counter(r["export_key"] for r in rows)
        assert len(rows) == count, f"{fmt}: {len(rows)} rows for {count} invoices"
        assert len(keys) == count and max(keys.values()) == 1
        assert {r["invoice_id"] for r in rows} == {r["_id"] for r in records}
    worker_log = hub.logs("worker")
    skipped = worker_log.count("is already exported")
    recovered = worker_log.count("indexed") + worker_log.count("partial row")
    print(
        f"{count} invoices, {kills} SIGKILLs: {count} rows in {elapsed:.1f}s; "
        f"{skipped} duplicate deliveries skipped, {recovered} index catch-up(s)"
    )


def test_worker_killed_during_a_1000_invoice_export_ends_with_1000_rows(hub: Hub) -> None:
    _export_through_kills(hub, count=1000, kills=3, seed=int(time.time()))
