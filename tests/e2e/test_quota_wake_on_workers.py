"""Steps parked for quota live in Redis: they survive the death of every worker.

Upserts under a small budget on real worker processes: steps that find no slot park
their messages in Redis. Every worker is then killed (SIGKILL, pools and releasers
alike); a fresh worker started afterwards wakes each parked step at its turn, and each
makes its find and its create once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from hub.core.redis_server import RedisServer
from hub.sandbox.calllog import max_calls_in_window
from tests.support.processes import HubProcesses, wait_for
from tests.support.quota_load import LOAD_CONTACTS, load_hub, people_made, post_load

pytestmark = pytest.mark.e2e

LIMIT = 4
WINDOW = 2.0
CONTACTS = 16


@pytest.fixture
def hub(redis_server: RedisServer, redis_client: object, tmp_path: Path) -> Iterator[HubProcesses]:
    workflows = {"load-contacts.yaml": LOAD_CONTACTS}
    with load_hub(
        redis_server.url, tmp_path, workflows, limit=LIMIT, window=WINDOW, concurrency=2
    ) as procs:
        yield procs


def _parked(client: redis.Redis) -> int:
    """Steps parked and not woken yet (a woken step's message may sit unacknowledged in a
    killed worker until the broker's visibility timeout: not counted)."""
    parked = sum(int(client.hlen(key)) for key in client.scan_iter("hub:quota:*:parked"))
    woken = sum(int(client.zcard(key)) for key in client.scan_iter("hub:quota:*:woken"))
    return parked - woken


def test_parked_steps_survive_every_worker_and_are_woken_by_a_new_one(
    hub: HubProcesses, redis_client: redis.Redis
) -> None:
    post_load(hub, CONTACTS)

    def people() -> int:
        return people_made(hub)

    # the budget lets 2 upserts a window through: the others park
    wait_for(lambda: _parked(redis_client) >= CONTACTS // 2, 60, "steps parked for quota")
    hub.kill("w1")
    hub.kill("w2")
    time.sleep(0.5)  # calls the sandbox was still answering end
    parked, created = _parked(redis_client), people()
    assert parked >= CONTACTS // 2
    hub.start_worker("w3", concurrency=2)
    try:
        wait_for(
            lambda: people() >= created + parked and _parked(redis_client) == 0,
            120,
            "the parked steps' people",
            interval=0.5,
        )
    except TimeoutError:
        print(hub.logs())
        raise
    calls = httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()["calls"]
    finds = Counter(c["query"] for c in calls if c["method"] == "GET" and c["path"] == "/people")
    assert set(finds.values()) == {1}, "a find was made twice"
    assert max_calls_in_window(calls, WINDOW) <= LIMIT
    assert not [c for c in calls if c["status"] == 429]
