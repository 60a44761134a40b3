"""`hub status`: processes, queues, the last hour's runs, dead letters, quota, one screen."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis
from typer.testing import CliRunner

from hub.cli.app import cli
from hub.cli.status import gather, render, runs_by_outcome
from hub.core.presence import Presence
from hub.core.redis_server import RedisServer
from hub.core.settings import get_settings
from hub.history.dead_letters import DeadLetterStore
from hub.history.runs import RunStore
from hub.http.quota import Budget, RedisQuota

NOW = 1_800_000_000.0


def _fill(client: redis.Redis) -> None:
    size = {"concurrency": 4}
    worker = Presence(client, "worker", "celery@hostA", detail=size, clock=lambda: NOW)
    worker.announce()
    Presence(client, "ingress", detail={"port": 8000}, clock=lambda: NOW - 3).announce()
    for index, status in enumerate(["succeeded", "succeeded", "failed", "running"]):
        runs = RunStore(client, clock=lambda: NOW - 60)
        run_id = f"{index:032x}"
        runs.start(run_id, workflow="crm", revision="abc", event_id=f"e{index}")
        if status != "running":
            runs.finish(run_id, status)  # type: ignore[arg-type]
    old = RunStore(client, clock=lambda: NOW - 7200)
    old.start("old", workflow="crm", revision="a", event_id="e")
    DeadLetterStore(client).add(
        run_id=f"{2:032x}",
        workflow="crm",
        revision="abc",
        step="person",
        index=None,
        context={"event_id": "e2", "source": "crm"},
        error={"message": "refused"},
        attempts=[],
        secrets={},
    )
    client.lpush("hub.bulk", "m1", "m2")
    RedisQuota(client, Budget("plutio:client-1", 1000, 3600.0, 5.0))


def test_the_last_hour_s_runs_by_outcome(redis_client: redis.Redis) -> None:
    _fill(redis_client)
    assert runs_by_outcome(redis_client, NOW - 3600) == {
        "succeeded": 2,
        "failed": 1,
        "skipped": 0,
        "running": 1,
    }


def test_one_screen_says_what_runs_and_how_it_goes(redis_client: redis.Redis) -> None:
    _fill(redis_client)
    text = render(gather(redis_client, "redis://:pw@127.0.0.1:6399/0", now=NOW))
    assert "Redis redis://127.0.0.1:6399/0" in text and "pw" not in text
    assert "celery@hostA (4 processes)  (seen 0s ago)" in text
    assert "  beat     none seen (start `hub beat`)" in text
    assert "on port 8000  (seen 3s ago)" in text
    assert "queues (not started yet): hub.interactive 0, hub.deferred 0, hub 0, hub.bulk 2" in text
    assert "runs in the last hour: 2 succeeded, 1 failed, 0 skipped, 1 running" in text
    assert "dead letters not replayed: 1 (crm 1; `hub dlq list`)" in text
    assert "plutio:client-1  0/950 used in 1h 0m, 950 left; nothing waiting" in text


@pytest.fixture(autouse=True)
def _logging_kept() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    root.handlers[:], root.level = saved


def test_hub_status_prints_it(
    redis_server: RedisServer, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_REDIS_URL", redis_server.url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["status"])
        assert result.exit_code == 0, result.output
        assert "runs in the last hour: 0 succeeded" in result.output
        assert "  worker   none seen (start `hub worker`)" in result.output
        as_json = CliRunner().invoke(cli, ["status", "--json"])
        assert as_json.exit_code == 0 and '"queues"' in as_json.output
    finally:
        get_settings.cache_clear()
