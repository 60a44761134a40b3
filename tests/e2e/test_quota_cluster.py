"""One Plutio budget for the whole cluster: 8 real worker processes, a time-scaled quota.

The sandbox enforces the same rolling window as the hub's budget and logs every call it
receives; its log is the judge: no window over the limit, no 429, every call made once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.core.redis_server import RedisServer
from hub.sandbox.calllog import max_calls_in_window
from tests.support.processes import HubProcesses, wait_for
from tests.support.quota_load import load_hub, people_made, post_load

pytestmark = pytest.mark.e2e

LIMIT = 60
WINDOW = 2.0
CALLS = 300

WORKFLOW = """\
name: load-people
trigger:
  webhook: { source: load, event: person.created }
steps:
  - id: person
    uses: plutio.people.create
    with:
      name: { first: "{{ event.data.first }}", last: "Load" }
  - id: done
    uses: core.log
    with:
      message: "made person {{ steps.person._id }} for {{ event.data.first }}"
"""


@pytest.fixture
def hub(redis_server: RedisServer, redis_client: object, tmp_path: Path) -> Iterator[HubProcesses]:
    workflows = {"load-people.yaml": WORKFLOW}
    with load_hub(  # 8 worker processes
        redis_server.url, tmp_path, workflows, limit=LIMIT, window=WINDOW, concurrency=4
    ) as procs:
        yield procs


def test_eight_workers_share_one_budget_strictly(hub: HubProcesses) -> None:
    post_load(hub, CALLS, "person.created")

    def people() -> int:
        return people_made(hub)

    try:
        wait_for(lambda: people() >= CALLS, 180, f"{CALLS} people", interval=0.5)
    except TimeoutError:
        print(hub.logs())
        raise
    log = httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()
    calls = log["calls"]
    creates = [c for c in calls if c["method"] == "POST" and c["path"] == "/people"]
    assert len(creates) == CALLS and all(c["status"] == 200 for c in creates)
    assert people() == CALLS
    assert not [c for c in calls if c["status"] == 429], "the upstream refused calls for quota"
    assert max_calls_in_window(calls, WINDOW) <= LIMIT
    assert log["max_in_window"]["sandbox-client"]["received"] <= LIMIT
    # the backlog really pressed on the budget: some window was full
    assert max_calls_in_window(calls, WINDOW) == LIMIT

    def worker_logs() -> str:
        return "".join(p.read_text(errors="replace") for p in hub.log_dir.glob("w*.log"))

    def runs_finished() -> int:
        return len(set(re.findall(r"made person \S+ for (p\d+)", worker_logs())))

    # each run went on to its next step after its quota waits
    wait_for(lambda: runs_finished() == CALLS, 60, "every run's last step")
    logs = worker_logs()
    assert "exhausted; next slot" in logs  # steps did wait for quota
    assert "raised unexpected" not in logs  # and none failed for it
