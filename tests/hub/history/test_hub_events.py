"""The hub's own events through the real flow on a real Redis: emitted when a run fails,
a dead letter is made or a quota runs out; grouped per window; never about an alert
workflow's own failure."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import redis

from hub.core.errors import FatalError, QuotaWait
from hub.history.hub_events import AlertGroups, HubEvents, budget_backlog, emit_hub_event
from hub.http.quota import Budget, RedisQuota
from hub.http.quota_claim import QuotaClaim
from hub.workflow.model import Workflow
from hub.workflow.revisions import WorkflowStore
from tests.hub.worker.fakes import LocalHub
from tests.support.processes import wait_for

SYNC = """
name: sync
trigger: { webhook: { source: src } }
steps:
  - id: push
    uses: t.do
    with: { key: push, value: "{{ event.n }}" }
"""

ALERT = """
name: alert
trigger: { webhook: { source: hub, event: "{{TYPE}}" } }
steps:
  - id: note
    uses: t.do
    with: { key: alert, value: "{{ event }}" }
"""

FAILING_ALERT = """
name: alert-broken
trigger: { webhook: { source: hub, event: run.failed } }
steps:
  - id: boom
    uses: core.fail
    with: { message: "the alert endpoint is gone" }
"""


@pytest.fixture
def hub(redis_client: redis.Redis) -> LocalHub:
    redis_client.flushdb()
    return LocalHub(redis_client)


def _wire(hub: LocalHub, *texts: str, window: float = 60.0) -> list[Workflow]:
    """Load ``texts``, make them current, and give the flow a hub event sink."""
    workflows = [hub.load(text) for text in texts]
    store = WorkflowStore(hub.redis)
    store.publish(workflows)
    hub.flow.hub_events = HubEvents(
        hub.redis, hub.app, store, window_seconds=window, send=hub.queue.send
    )
    return workflows


def _alerts(hub: LocalHub) -> list[dict[str, Any]]:
    return [value for key, value in hub.api.calls if key == "alert"]


def test_a_failed_run_emits_run_failed_and_dead_letter_created(hub: LocalHub) -> None:
    sync, _, _ = _wire(
        hub,
        SYNC,
        ALERT.replace("{{TYPE}}", "run.failed"),
        ALERT.replace("{{TYPE}}", "dead_letter.created").replace("name: alert", "name: dl"),
    )
    hub.api.script["push"].append(FatalError("refused: email is not valid", status=422))
    run_id, record = hub.run(sync, {"n": 1})
    assert record.status == "failed"
    alerts = sorted(_alerts(hub), key=lambda a: a["type"])
    assert [a["type"] for a in alerts] == ["dead_letter.created", "run.failed"]
    for alert in alerts:
        assert alert["workflow"] == "sync" and alert["run_id"] == run_id
        assert (alert["error_class"], alert["status"], alert["count"]) == ("FatalError", 422, 1)
    # kept as the ingress keeps accepted events: /events and hub_events_total
    kept = [json.loads(raw) for raw in hub.redis.lrange("hub:ingress:recent", 0, -1)]
    assert sorted((e["source"], e["event_type"]) for e in kept) == [
        ("hub", "dead_letter.created"),
        ("hub", "run.failed"),
    ]
    assert {len(e["runs"]) for e in kept} == {1}
    assert hub.redis.hget("hub:ingress:counts", "hub:accepted") == b"2"


def test_failures_in_one_window_are_one_event_and_the_next_carries_the_count(
    hub: LocalHub,
) -> None:
    sync, _ = _wire(hub, SYNC, ALERT.replace("{{TYPE}}", "run.failed"), window=0.5)
    for n in range(5):
        hub.api.script["push"].append(FatalError("refused", status=400))
        hub.run(sync, {"n": n})
    assert [a["count"] for a in _alerts(hub)] == [1]  # four held back
    # another error class is another group
    hub.api.script["push"].append(RuntimeError("bug"))
    hub.run(sync, {"n": 9})
    assert [(a["error_class"], a["count"]) for a in _alerts(hub)] == [
        ("FatalError", 1),
        ("RuntimeError", 1),
    ]
    wait_for(lambda: not hub.redis.exists("hub:events:group:run.failed:sync:FatalError"), 10, "")
    hub.api.script["push"].append(FatalError("refused", status=400))
    hub.run(sync, {"n": 10})
    assert [a["count"] for a in _alerts(hub)] == [1, 1, 5]  # itself and the four


def test_a_failing_alert_workflow_does_not_alert_about_itself(hub: LocalHub) -> None:
    sync, _ = _wire(hub, SYNC, FAILING_ALERT)
    hub.api.script["push"].append(FatalError("refused", status=400))
    hub.run(sync, {"n": 1})
    runs = [hub.runs.get(run_id) for run_id in hub.runs.recent()]
    by_workflow = sorted((r.workflow, r.status) for r in runs if r is not None)
    assert by_workflow == [("alert-broken", "failed"), ("sync", "failed")]
    assert hub.flow.dead_letters.get(next(iter(hub.finished))) is not None
    assert hub.redis.exists("hub:events:group:run.failed:alert-broken:FatalError") == 0


def test_a_quota_wait_emits_quota_exhausted_once_per_window(hub: LocalHub) -> None:
    sync, _ = _wire(hub, SYNC, ALERT.replace("{{TYPE}}", "quota.exhausted"))
    for _ in range(3):
        hub.api.script["push"].append(QuotaWait("plutio", 2.0))
    _, record = hub.run(sync, {"n": 1})
    assert record.status == "succeeded"  # it waited three times, then went on
    (alert,) = _alerts(hub)
    assert (alert["type"], alert["budget"], alert["count"]) == ("quota.exhausted", "plutio", 1)


def test_no_listener_no_run_and_a_broken_redis_never_fails_the_caller(hub: LocalHub) -> None:
    store = WorkflowStore(hub.redis)
    events = HubEvents(hub.redis, hub.app, store, window_seconds=60, send=hub.queue.send)
    assert events.emit("breaker.opened", {"client": "x"}) == []
    gone = redis.Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2)
    broken = HubEvents(gone, hub.app, WorkflowStore(gone), window_seconds=60)
    assert broken.emit("run.failed", {"workflow": "w"}, group="g") == []


def test_the_seam_for_operator_controls_emits_through_the_settings(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis
) -> None:
    from hub.core.settings import get_settings
    from hub.history import hub_events

    alert = hub.load(ALERT.replace("{{TYPE}}", "breaker.*").replace("t.do", "core.echo"))
    WorkflowStore(redis_client).publish([alert])
    where = redis_client.connection_pool.connection_kwargs
    monkeypatch.setenv("HUB_REDIS_URL", f"redis://{where['host']}:{where['port']}/{where['db']}")
    get_settings.cache_clear()
    hub_events._default_sink.cache_clear()
    try:
        (run_id,) = emit_hub_event("breaker.opened", {"client": "plutio"}, group="breaker:plutio")
        assert emit_hub_event("breaker.opened", {"client": "plutio"}, group="breaker:plutio") == []
    finally:
        get_settings.cache_clear()
        hub_events._default_sink.cache_clear()
    (message,) = redis_client.lrange("hub", 0, -1)  # sent to the broker as any run
    args, kwargs, _ = json.loads(base64.b64decode(json.loads(message)["body"]))
    assert kwargs["workflow"] == "alert" and kwargs["run_id"] == run_id
    assert args[0]["source"] == "hub" and args[0]["event"]["client"] == "plutio"
    assert args[0]["event"]["count"] == 1


def test_alert_groups_count_what_they_hold_back(redis_client: redis.Redis) -> None:
    redis_client.flushdb()
    groups = AlertGroups(redis_client, window_seconds=30)
    assert [groups.admit("g") for _ in range(4)] == [1, 0, 0, 0]
    assert groups.admit("other") == 1
    redis_client.delete("hub:events:group:g")  # the window ends
    assert groups.admit("g") == 4
    assert groups.admit("g") == 0


def test_the_backlog_of_a_budget_is_what_hub_quota_shows(redis_client: redis.Redis) -> None:
    redis_client.flushdb()
    quota = RedisQuota(redis_client, Budget("chat", 1, 60))
    quota.acquire(QuotaClaim(owner="first"))
    with pytest.raises(QuotaWait):
        quota.acquire(QuotaClaim(owner="second"))
    backlog = budget_backlog(redis_client, "chat")
    assert backlog["waiting"] == 1 and backlog["eta_seconds"] > 0
    assert budget_backlog(redis_client, "unknown") == {}
