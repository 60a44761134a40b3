"""A Plutio backlog of 200 bulk calls, on real workers: who goes next, and who is not held.

The budget is scaled to 5 calls per 4 s, so the backlog lasts minutes; the tests end
long before it drains and check it is still there when their own event was served.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from hub.core.redis_server import RedisServer
from hub.http.quota_report import BudgetStatus, quota_status
from tests.support.processes import HubProcesses, quota_env, wait_for

pytestmark = pytest.mark.e2e

LIMIT = 5
WINDOW = 4.0
BACKLOG = 200
BUDGET = "plutio:sandbox-client"

WORKFLOWS = {
    "bulk-people.yaml": """\
name: bulk-people
priority: bulk
trigger:
  webhook: { source: load, event: person.backfill }
steps:
  - id: person
    uses: plutio.people.create
    with:
      name: { first: "bulk-{{ event.id }}", last: "Backfill" }
""",
    "vip-lookup.yaml": """\
name: vip-lookup
priority: interactive
trigger:
  webhook: { source: load, event: person.vip }
steps:
  - id: found
    uses: plutio.people.find
    with:
      query: { name.first: "vip-{{ event.id }}" }
""",
    # no Plutio call, and bulk like the backlog: only free worker processes help it
    "ping.yaml": """\
name: ping
priority: bulk
trigger:
  webhook: { source: load, event: ping }
steps:
  - id: pong
    uses: core.log
    with:
      message: "pong {{ event.id }}"
""",
}


class Backlog:
    def __init__(self, procs: HubProcesses, client: redis.Redis) -> None:
        self.procs = procs
        self.redis = client
        self.ingress = httpx.Client(base_url=procs.ingress_url, timeout=10)

    def post(self, event_type: str, event_id: str) -> None:
        answer = self.ingress.post(
            "/hooks/load", json={"id": event_id}, headers={"X-Event-Type": event_type}
        )
        assert answer.status_code == 202, answer.text

    def status(self) -> BudgetStatus:
        (budget,) = [b for b in quota_status(self.redis) if b.key == BUDGET]
        return budget

    def calls(self, since: int | None = None) -> dict[str, Any]:
        params = {} if since is None else {"since": since}
        answer: dict[str, Any] = httpx.get(
            f"{self.procs.sandbox_url}/_sandbox/calls", params=params
        ).json()
        return answer

    def people(self) -> int:
        return len(httpx.get(f"{self.procs.sandbox_url}/_sandbox/state/people").json())


@pytest.fixture(scope="module")
def backlog(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backlog]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    root = tmp_path_factory.mktemp("priority")
    workflows = root / "workflows"
    workflows.mkdir()
    for name, text in WORKFLOWS.items():
        (workflows / name).write_text(text)
    procs = HubProcesses(
        redis_url=redis_server.url,
        log_dir=root,
        workflows=workflows,
        extra_env=quota_env(LIMIT, WINDOW),
        open_sources=("load",),
    )
    try:
        procs.start_sandbox()
        procs.start_ingress()
        procs.start_workers(["w1", "w2"], concurrency=4)
        state = Backlog(procs, client)
        for i in range(BACKLOG):
            state.post("person.backfill", f"b{i}")

        def all_waiting() -> bool:
            # every bulk step ran once and either made its call or holds a ticket (the
            # budget is registered by its first call: until then, nothing waits)
            if not any(b.key == BUDGET for b in quota_status(client)):
                return False
            return state.status().waiting["bulk"] + state.people() >= BACKLOG

        try:
            wait_for(all_waiting, 60, "the bulk backlog to queue up", interval=0.2)
        except TimeoutError:
            print(procs.logs())
            raise
        yield state
    finally:
        procs.stop()
        client.close()


def _log_text(procs: HubProcesses) -> str:
    return "".join(p.read_text(errors="replace") for p in procs.log_dir.glob("w*.log"))


def test_an_interactive_event_takes_the_next_free_slot(backlog: Backlog) -> None:
    # post at a moment when every slot is taken and the next frees in over a second,
    # so the interactive step is waiting for it before any bulk step can take it
    def budget_full() -> bool:
        s = backlog.status()
        return s.remaining == 0 and s.next_free_seconds > 1.0

    wait_for(budget_full, 30, "a full budget", interval=0.05)
    since = backlog.calls()["last_seq"]
    backlog.post("person.vip", "v1")

    def vip_call() -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = backlog.calls(since)["calls"]
        return calls

    def served() -> bool:
        return any("vip-v1" in c["query"] for c in vip_call())

    try:
        wait_for(served, 30, "the interactive call", interval=0.1)
    except TimeoutError:
        print(backlog.procs.logs())
        raise
    calls = vip_call()
    at = next(i for i, c in enumerate(calls) if "vip-v1" in c["query"])
    bulk_first = [c for c in calls[:at] if c["method"] == "POST" and c["path"] == "/people"]
    assert calls[at]["status"] == 200
    # Slots settled together free together: the interactive step is granted the first of
    # them, and the bulk steps granted the others at the same moment may reach the
    # upstream a few milliseconds before it. None may use a slot that freed later.
    first_freed = calls[0]["t"]
    late = [c for c in bulk_first if c["t"] - first_freed > 0.5]
    assert not late, f"{len(late)} bulk calls on slots freed later went before the interactive one"
    assert len(bulk_first) < LIMIT, f"{len(bulk_first)} bulk calls went before the interactive one"
    assert backlog.status().waiting["bulk"] > BACKLOG / 2, "the backlog drained: no test"


def test_a_workflow_without_plutio_is_not_held_by_the_backlog(backlog: Backlog) -> None:
    backlog.post("ping", "p1")
    try:
        wait_for(lambda: "pong p1" in _log_text(backlog.procs), 30, "the ping workflow")
    except TimeoutError:
        print(backlog.procs.logs())
        raise
    # the Plutio backlog is still there: the ping did not wait for it to drain
    assert backlog.status().waiting["bulk"] > BACKLOG / 2
    assert backlog.people() < BACKLOG / 2
    assert not backlog.calls()["max_in_window"]["sandbox-client"]["received"] > LIMIT
    assert "raised unexpected" not in _log_text(backlog.procs)
