"""Twenty worker processes starting at once make one token request between them.

Each process builds its own connector (its own HTTP client, Redis connection and token
cache object) against one sandbox running as its own uvicorn server process; they share
only Redis, as workers on different hosts would. A process the single-flight wait defers
does what its task would (waits ``Deferred.wait`` and tries again) and says so.
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from connectors.plutio.api import build_api
from hub.core.errors import Deferred
from hub.core.redis_server import RedisServer
from hub.core.settings import Settings
from tests.connectors.plutio.conftest import plutio_settings
from tests.support.processes import HubProcesses

pytestmark = pytest.mark.e2e

WORKERS = 20

#: the hub settings the connector is built with
HUB = Settings()


def _call(api: Any) -> tuple[str, int]:
    deferred = 0
    for _ in range(20):
        try:
            api.find("people", limit=1)
            return "ok", deferred
        except Deferred as wait:
            deferred += 1
            time.sleep(wait.wait)
    return "still deferred", deferred


def _worker(url: str, redis_url: str, start: Any, again: Any, results: Any) -> None:
    try:
        api = build_api(plutio_settings(url), HUB, redis.Redis.from_url(redis_url))
        start.wait(30)
        results.put(("first", *_call(api)))
        again.wait(30)
        results.put(("after-expiry", *_call(api)))
    except Exception as exc:  # reported to the test, which fails on it
        results.put(("error", repr(exc), 0))


def test_twenty_processes_one_token_request(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    hub = HubProcesses(redis_url=redis_server.url, log_dir=tmp_path)
    ctx = multiprocessing.get_context("fork")
    start, again = ctx.Barrier(WORKERS), ctx.Barrier(WORKERS + 1)
    results: Any = ctx.Queue()
    procs: list[Any] = []
    try:
        hub.start_sandbox()
        args = (hub.sandbox_url, redis_server.url, start, again, results)
        procs = [ctx.Process(target=_worker, args=args) for _ in range(WORKERS)]
        for proc in procs:
            proc.start()
        first = [results.get(timeout=60) for _ in range(WORKERS)]
        calls_before = httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()["calls"]
        expired = httpx.post(f"{hub.sandbox_url}/_sandbox/expire-tokens").json()["expired"]
        again.wait(30)
        second = [results.get(timeout=60) for _ in range(WORKERS)]
        calls = httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()["calls"]
        for proc in procs:
            proc.join(30)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        hub.stop()

    assert [r[:2] for r in first] == [("first", "ok")] * WORKERS, first
    tokens = [c for c in calls_before if c["path"] == "/oauth/token"]
    people = [c for c in calls_before if c["path"] == "/people"]
    assert [c["status"] for c in tokens] == [200], tokens
    assert [c["status"] for c in people] == [200] * WORKERS

    # every token was expired at once: the twenty get 401s, and one of them refreshes
    assert expired == 1
    assert [r[:2] for r in second] == [("after-expiry", "ok")] * WORKERS, second
    later = calls[len(calls_before) :]
    assert [c["status"] for c in later if c["path"] == "/oauth/token"] == [200], later
    statuses = [c["status"] for c in later if c["path"] == "/people"]
    assert statuses.count(200) == WORKERS and set(statuses) <= {200, 401}
    deferrals = sum(r[2] for r in first + second)
    print(
        f"{WORKERS} processes, 2 token requests, {statuses.count(401)} 401s, {deferrals} deferrals"
    )
