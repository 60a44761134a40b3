"""`hub quota` on a real Redis: the figures of every budget a worker has used."""

from __future__ import annotations

import json

import pytest
import redis
from typer.testing import CliRunner

from hub.cli.app import cli
from hub.cli.quota import format_duration
from hub.core.errors import QuotaWait
from hub.core.redis_server import RedisServer
from hub.core.settings import get_settings
from hub.http.quota import Budget, RedisQuota
from hub.http.quota_claim import QuotaClaim


@pytest.fixture
def busy_budget(redis_client: redis.Redis) -> RedisQuota:
    quota = RedisQuota(redis_client, Budget("plutio:acme", 4, 60, reserve_percent=50))
    for _ in range(2):
        quota.settle(quota.acquire(QuotaClaim()))
    for priority in ("bulk", "bulk", "bulk", "interactive"):
        with pytest.raises(QuotaWait):
            quota.acquire(QuotaClaim(priority=priority))
    redis_client.lpush("hub.bulk", "m1", "m2")
    return quota


def _run(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("HUB_REDIS_URL", redis_server.url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["quota", *args])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


def test_quota_json(
    busy_budget: RedisQuota, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = json.loads(_run(redis_server, monkeypatch, "--json"))
    (budget,) = out["budgets"]
    assert budget["key"] == "plutio:acme"
    assert (budget["limit"], budget["effective_limit"]) == (4, 2)
    assert (budget["used"], budget["remaining"]) == (2, 0)
    assert budget["waiting"] == {"interactive": 1, "default": 0, "bulk": 3}
    assert 59 < budget["next_free_seconds"] <= 60.01
    # four waiting, two slots a window: the last is served in the second window
    assert 119 < budget["drain_seconds"] <= 120.01
    assert out["broker_queues"]["hub.bulk"] == 2


def test_quota_table(
    busy_budget: RedisQuota, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _run(redis_server, monkeypatch)
    header, row = out.splitlines()[:2]
    assert "next free slot" in header and "waiting i/d/b" in header
    assert row.split()[:5] == ["plutio:acme", "2/4", "1m", "0s", "2"]
    assert "1/0/3" in row
    assert "hub.bulk 2" in out


def test_durations_read_at_a_glance() -> None:
    assert format_duration(0) == "now"
    assert format_duration(4.24) == "4.2s"
    assert format_duration(725) == "12m 5s"
    assert format_duration(3 * 3600 + 125) == "3h 2m"
