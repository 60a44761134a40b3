"""Every call counts: upserts under quota pressure on real worker processes.

Each upsert is a find then a create. Its operation declares both calls, so a step takes
both slots together or waits before making either: no find is made twice, however
often steps wait. The sandbox's call log is the judge (each contact's find and create
made once, one token request, no window over the limit, no 429, and the windows kept
at least 98% full while the backlog lasted), and the hub's own count of calls made
again is 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from hub.core.redis_server import RedisServer
from hub.http import quota_status
from hub.sandbox.calllog import max_calls_in_window, window_use
from tests.support.processes import HubProcesses, wait_for
from tests.support.quota_load import LOAD_CONTACTS, load_hub, people_made, post_load

# it measures how fully the hub uses the quota: with no other test's processes beside it
pytestmark = [pytest.mark.e2e, pytest.mark.alone]

LIMIT = 20
WINDOW = 2.0
CONTACTS = 60


@pytest.fixture
def hub(redis_server: RedisServer, redis_client: object, tmp_path: Path) -> Iterator[HubProcesses]:
    workflows = {"load-contacts.yaml": LOAD_CONTACTS}
    with load_hub(
        redis_server.url, tmp_path, workflows, limit=LIMIT, window=WINDOW, concurrency=4
    ) as procs:
        yield procs


def test_upserts_under_quota_pressure_make_each_call_once(
    hub: HubProcesses, redis_client: redis.Redis
) -> None:
    post_load(hub, CONTACTS)

    def people() -> int:
        return people_made(hub)

    try:
        wait_for(lambda: people() >= CONTACTS, 180, f"{CONTACTS} people", interval=0.5)
    except TimeoutError:
        print(hub.logs())
        raise
    calls = httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()["calls"]
    finds = Counter(c["query"] for c in calls if c["method"] == "GET" and c["path"] == "/people")
    creates = [c for c in calls if c["method"] == "POST" and c["path"] == "/people"]
    tokens = [c for c in calls if c["path"].endswith("/token")]
    assert len(finds) == CONTACTS and set(finds.values()) == {1}, "a find was made twice"
    assert len(creates) == CONTACTS and all(c["status"] == 200 for c in creates)
    assert len(tokens) == 1
    assert len(calls) == 2 * CONTACTS + 1  # nothing but the useful calls
    assert not [c for c in calls if c["status"] == 429], "the upstream refused calls for quota"
    assert max_calls_in_window(calls, WINDOW) <= LIMIT
    # the backlog really pressed on the budget: some window was full, steps waited
    assert max_calls_in_window(calls, WINDOW) == LIMIT
    # and used it whole: each slot taken again as it freed (bench/quota.py has the figure
    # at three sizes, with 16 worker processes)
    use = window_use(calls, WINDOW, LIMIT)
    figures = [redis_client.hgetall(key) for key in redis_client.scan_iter("hub:quota:*:stats")]
    assert use >= 0.98, (
        f"use of the quota while the backlog lasted: {use:.2%}; {_slot_losses(calls)}; "
        f"the hub's figures: {figures}"
    )
    logs = "".join(p.read_text(errors="replace") for p in hub.log_dir.glob("w*.log"))
    assert "exhausted; next slot" in logs
    (budget,) = quota_status(redis_client)
    assert budget.repeated == 0


def _slot_losses(calls: list[dict[str, object]]) -> str:
    """How long each slot stayed free before its next call (ms), for a failure's message:
    the call ``LIMIT`` calls later took the slot one window after the earlier one freed it."""
    times = sorted(float(c["t"]) for c in calls)  # type: ignore[arg-type]
    lost = sorted((b - a - WINDOW) * 1000 for a, b in zip(times, times[LIMIT:], strict=False))
    if not lost:
        return "no slot taken twice"
    return (
        f"slot free before its next call: median {lost[len(lost) // 2]:.0f} ms, "
        f"largest {', '.join(f'{x:.0f}' for x in lost[-5:])} ms"
    )
