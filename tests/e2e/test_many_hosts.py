"""Three separately named worker nodes on one Redis hold one Plutio quota between them.

The short variant of ``bench/many_hosts.py``: the sandbox's call log is the judge.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.many_hosts import HOSTS, per_node_tasks, post_events
from hub.core.redis_server import RedisServer
from hub.sandbox.calllog import max_calls_in_window
from tests.support.processes import HubProcesses, quota_env, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LIMIT = 10
WINDOW = 1.0
EVENTS = 40


@pytest.fixture
def hub(redis_server: RedisServer, redis_client: object, tmp_path: Path) -> Iterator[HubProcesses]:
    procs = HubProcesses(
        redis_url=redis_server.url, log_dir=tmp_path, extra_env=quota_env(LIMIT, WINDOW)
    )
    try:
        procs.start_sandbox()
        procs.start_ingress()
        procs.start_workers(HOSTS, concurrency=1)
        yield procs
    finally:
        procs.stop()


def test_three_named_nodes_share_one_budget(hub: HubProcesses, redis_server: RedisServer) -> None:
    post_events(hub.ingress_url, EVENTS)

    def people() -> int:
        return len(httpx.get(f"{hub.sandbox_url}/_sandbox/state/people").json())

    try:
        wait_for(lambda: people() >= EVENTS, 180, f"{EVENTS} people", interval=0.5)
    except TimeoutError:
        print(hub.logs())
        raise
    calls = httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()["calls"]
    assert people() == EVENTS
    assert not [c for c in calls if c["status"] == 429], "the upstream refused calls for quota"
    # never over the limit, and the backlog did fill a window
    assert max_calls_in_window(calls, WINDOW) == LIMIT
    nodes = per_node_tasks(redis_server.url)
    assert sorted(node.split("@")[0] for node in nodes) == HOSTS
    assert all(total > 0 for total in nodes.values()), nodes
