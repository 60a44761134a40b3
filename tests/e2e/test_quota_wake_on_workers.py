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
from tests.support.processes import HubProcesses, quota_env, wait_for

pytestmark = pytest.mark.e2e

LIMIT = 4
WINDOW = 2.0
CONTACTS = 16

WORKFLOW = """\
name: load-contacts
priority: bulk
trigger:
  webhook: { source: load, event: contact.created }
steps:
  - id: person
    uses: plutio.people.upsert
    with:
      match: { contactEmails.address: "{{ event.data.email }}" }
      data:
        name: { first: "{{ event.data.first }}", last: "Load" }
        contactEmails: [ { address: "{{ event.data.email }}", type: work } ]
"""


@pytest.fixture
def hub(redis_server: RedisServer, redis_client: object, tmp_path: Path) -> Iterator[HubProcesses]:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "load-contacts.yaml").write_text(WORKFLOW)
    procs = HubProcesses(
        redis_url=redis_server.url,
        log_dir=tmp_path,
        workflows=workflows,
        extra_env=quota_env(LIMIT, WINDOW),
        open_sources=("load",),
    )
    try:
        procs.start_sandbox()
        procs.start_ingress()
        procs.start_workers(["w1", "w2"], concurrency=2)
        yield procs
    finally:
        procs.stop()


def _parked(client: redis.Redis) -> int:
    """Steps parked and not woken yet (a woken step's message may sit unacknowledged in a
    killed worker until the broker's visibility timeout: not counted)."""
    parked = sum(int(client.hlen(key)) for key in client.scan_iter("hub:quota:*:parked"))
    woken = sum(int(client.zcard(key)) for key in client.scan_iter("hub:quota:*:woken"))
    return parked - woken


def test_parked_steps_survive_every_worker_and_are_woken_by_a_new_one(
    hub: HubProcesses, redis_client: redis.Redis
) -> None:
    with httpx.Client(base_url=hub.ingress_url, timeout=10) as ingress:
        for i in range(CONTACTS):
            answer = ingress.post(
                "/hooks/load",
                json={"id": f"e{i}", "data": {"first": f"p{i}", "email": f"p{i}@example.com"}},
                headers={"X-Event-Type": "contact.created"},
            )
            assert answer.status_code == 202, answer.text

    def people() -> int:
        return len(httpx.get(f"{hub.sandbox_url}/_sandbox/state/people").json())

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
