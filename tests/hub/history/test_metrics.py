"""The Prometheus collector on a real Redis: quota, runs, steps and queues as series."""

from __future__ import annotations

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from hub.cli.app import cli
from hub.core import KeySlots, key_id
from hub.core.errors import QuotaWait
from hub.core.redis_server import RedisServer
from hub.core.settings import get_settings
from hub.history.metrics import exposition
from hub.history.runs import RunStore
from hub.http.quota import Budget, RedisQuota
from hub.http.quota_claim import QuotaClaim


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, keyed by name and labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found[(name, frozenset(labels.items()))]


@pytest.fixture
def busy(redis_client: redis.Redis) -> None:
    """A budget in use with calls waiting, three runs and two queued messages."""
    quota = RedisQuota(redis_client, Budget("plutio:acme", 4, 60, reserve_percent=50))
    for _ in range(2):
        quota.settle(quota.acquire(QuotaClaim()))
    for priority in ("bulk", "bulk", "interactive"):
        with pytest.raises(QuotaWait):
            quota.acquire(QuotaClaim(priority=priority))
    redis_client.lpush("hub.bulk", "m1", "m2")

    now = [1000.0]
    store = RunStore(redis_client, clock=lambda: now[0])
    for n, (status, seconds, attempts, waits) in enumerate(
        [("succeeded", 2.0, 1, 0), ("succeeded", 4.0, 3, 1), ("failed", 0.5, 2, 0)]
    ):
        run = f"run-{n}"
        store.step_started(
            run,
            "push",
            workflow="sync",
            revision="r1",
            event_id=f"e{n}",
            attempt=attempts,
            quota_waits=waits,
        )
        now[0] += seconds
        store.step_finished(run, "push", "succeeded" if status == "succeeded" else "failed")
        store.finish(run, status)  # type: ignore[arg-type]
    store.start("run-3", event_id="e3", workflow="other", revision="r9")


def test_the_collector_reports_quota_runs_steps_and_queues(
    busy: None, redis_client: redis.Redis
) -> None:
    found = samples(exposition(redis_client).decode())
    budget = {"budget": "plutio:acme"}
    assert value(found, "hub_quota_limit", **budget) == 4
    assert value(found, "hub_quota_effective_limit", **budget) == 2
    assert value(found, "hub_quota_used", **budget) == 2
    assert value(found, "hub_quota_remaining", **budget) == 0
    assert value(found, "hub_quota_waiting", priority="bulk", **budget) == 2
    assert value(found, "hub_quota_waiting", priority="interactive", **budget) == 1
    assert 59 < value(found, "hub_quota_drain_seconds", **budget) <= 120.01
    assert value(found, "hub_runs", workflow="sync", status="succeeded") == 2
    assert value(found, "hub_runs", workflow="sync", status="failed") == 1
    assert value(found, "hub_runs", workflow="other", status="running") == 1
    step = {"workflow": "sync", "step": "push"}
    assert value(found, "hub_step_duration_seconds_count", **step) == 3
    assert value(found, "hub_step_duration_seconds_sum", **step) == pytest.approx(6.5)
    assert value(found, "hub_step_retries", **step) == 2 + 1
    assert value(found, "hub_step_quota_waits", **step) == 1
    assert value(found, "hub_queue_length", queue="hub.bulk") == 2
    assert value(found, "hub_queue_length", queue="hub.interactive") == 0
    assert not [key for key in found if key[0].startswith("hub_dead_letters")]


def test_hub_metrics_prints_the_exposition(
    busy: None, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_REDIS_URL", redis_server.url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["metrics"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    found = samples(result.output)
    assert value(found, "hub_quota_used", budget="plutio:acme") == 2
    assert value(found, "hub_runs", workflow="sync", status="succeeded") == 2


def test_dead_letters_by_workflow_until_replayed(redis_client: redis.Redis) -> None:
    from hub.history.dead_letters import DeadLetterStore
    from hub.history.metrics import dead_letter_counts

    store = DeadLetterStore(redis_client)
    for run_id, workflow in (("r1", "crm"), ("r2", "crm"), ("r3", "invoices")):
        store.add(
            run_id=run_id,
            workflow=workflow,
            revision="abc",
            step="person",
            index=None,
            context={"event_id": f"e-{run_id}", "source": "crm", "event_type": "x"},
            error={"message": "refused"},
            attempts=[{"attempt": 1, "message": "refused"}],
            secrets={},
        )
    assert dead_letter_counts(redis_client) == {"crm": 2, "invoices": 1}
    store.mark_replayed("r1", "r9", keep_seconds=60)
    assert dead_letter_counts(redis_client) == {"crm": 1, "invoices": 1}
    assert b'hub_dead_letters{workflow="crm"} 1.0' in exposition(redis_client)


def test_metrics_count_the_parked_steps_and_the_keys_they_wait_on(
    redis_client: redis.Redis,
) -> None:
    slots = KeySlots(redis_client, lease_seconds=60, ttl_seconds=3600)
    one, two = key_id("one"), key_id("two")
    for name in ("a", "b", "c"):
        slots.enter(one, name, 1, f"p{name}")
    for name in ("d", "e"):
        slots.enter(two, name, 1, f"p{name}")
    assert KeySlots.waiting_per_key(redis_client) == {one: 2, two: 1}
    text = exposition(redis_client).decode()
    assert "hub_concurrency_waiting 3.0" in text
    assert "hub_concurrency_keys_waited_on 2.0" in text
    slots.leave(two, "d")
    assert KeySlots.waiting_per_key(redis_client) == {one: 2}
