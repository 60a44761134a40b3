"""Control transitions as hub events: breakers opening and closing, workflows paused and
resumed, through a real breaker and the real hub-event sink on a real Redis."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from hub.core import BreakerChanged, PauseChanged
from hub.history.control_alerts import ControlAlerts
from hub.history.hub_events import HubEvents
from hub.http.breaker import BreakerPolicy, RedisBreaker
from hub.workflow.revisions import WorkflowStore
from tests.hub.worker.fakes import LocalHub

ALERT = """
name: alert
trigger: { webhook: { source: hub, event: "breaker.*" } }
steps:
  - id: note
    uses: core.echo
    with: { value: "{{ event.client }}" }
"""


class Emitted:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], str | None]] = []

    def __call__(self, kind: str, payload: Any, *, group: str | None = None) -> list[str]:
        self.calls.append((kind, dict(payload), group))
        return []


def test_only_news_becomes_an_event() -> None:
    emitted = Emitted()
    alerts = ControlAlerts(emitted)
    alerts(BreakerChanged("c", "open", "closed", 1.0, calls=20, failures=15, open_seconds=30))
    alerts(BreakerChanged("c", "half_open", "open", 2.0))
    alerts(BreakerChanged("c", "open", "half_open", 3.0, open_seconds=60))  # a reopen
    alerts(BreakerChanged("c", "closed", "half_open", 4.0))
    alerts(PauseChanged("workflow", "sync", True, "ada", "mapping", 5.0))
    alerts(PauseChanged("source", "crm", True, "ada", "", 5.0))  # no event type for it
    alerts(PauseChanged("workflow", "sync", False, "bob", "mapping", 6.0, released=12))
    assert emitted.calls == [
        (
            "breaker.opened",
            {
                "client": "c",
                "state": "open",
                "previous": "closed",
                "calls": 20,
                "failures": 15,
                "open_seconds": 30,
            },
            "breaker.opened:c",
        ),
        (
            "breaker.closed",
            {
                "client": "c",
                "state": "closed",
                "previous": "half_open",
                "calls": 0,
                "failures": 0,
                "open_seconds": 0.0,
            },
            "breaker.closed:c",
        ),
        ("workflow.paused", {"workflow": "sync", "by": "ada", "reason": "mapping"}, None),
        (
            "workflow.resumed",
            {"workflow": "sync", "by": "bob", "reason": "mapping", "released": 12},
            None,
        ),
    ]


@pytest.fixture
def hub(redis_client: redis.Redis) -> LocalHub:
    return LocalHub(redis_client)


def test_a_breaker_that_opens_starts_the_alert_workflow_once_per_window(
    hub: LocalHub, redis_client: redis.Redis
) -> None:
    store = WorkflowStore(redis_client)
    store.publish([hub.load(ALERT)])
    events = HubEvents(redis_client, hub.app, store, window_seconds=60, send=hub.queue.send)
    started: list[list[str]] = []

    def emit(kind: str, payload: Any, *, group: str | None = None) -> list[str]:
        runs = events.emit(kind, payload, group=group)
        started.append(runs)
        return runs

    policy = BreakerPolicy(min_calls=2, failure_rate=1.0, open_seconds=0.05)
    breaker = RedisBreaker(redis_client, "plutio:x", policy, events=ControlAlerts(emit))
    for _ in range(2):
        breaker.record(breaker.admit(), failed=True)
    assert len(started) == 1 and len(started[0]) == 1  # breaker.opened: one alert run
    redis_client.hset("hub:breaker:plutio:x", mapping={"state": "closed", "opens": 0})
    for _ in range(2):  # opens again within the window: grouped, no second run
        breaker.record(breaker.admit(), failed=True)
    assert len(started) == 2 and started[1] == []
