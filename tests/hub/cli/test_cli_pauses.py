"""`hub pause`, `hub resume`, `hub paused` and what `hub quota` shows of breakers and
pauses, on a real Redis."""

from __future__ import annotations

import json

import pytest
import redis
from typer.testing import CliRunner

from hub.cli.app import cli
from hub.core import BreakerOpen, PauseStore
from hub.core.redis_server import RedisServer
from hub.core.settings import get_settings
from hub.http.breaker import BreakerPolicy, RedisBreaker


def _run(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, *args: str, code: int = 0
) -> str:
    monkeypatch.setenv("HUB_REDIS_URL", redis_server.url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, list(args))
    finally:
        get_settings.cache_clear()
    assert result.exit_code == code, result.output
    return result.output


def test_pause_list_and_resume_with_who_and_why(
    redis_server: RedisServer, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _run
    out = run(
        redis_server,
        monkeypatch,
        "pause",
        "workflow",
        "sync",
        "--reason",
        "bad data",
        "--by",
        "ada",
    )
    assert "workflow sync paused" in out
    run(redis_server, monkeypatch, "pause", "connector", "plutio", "--by", "ada")
    again = run(redis_server, monkeypatch, "pause", "workflow", "sync", "--by", "bob")
    assert "paused already by ada" in again
    redis_client.rpush("hub:held:sync", "hub\n{}", "hub\n{}")
    table = run(redis_server, monkeypatch, "paused")
    assert table.splitlines()[0].split() == [
        "kind",
        "name",
        "by",
        "since",
        "(UTC)",
        "held",
        "reason",
    ]
    assert "workflow   sync" in table and "bad data" in table
    listed = json.loads(run(redis_server, monkeypatch, "paused", "--json"))
    assert [(p["kind"], p["name"], p["by"], p["held"]) for p in listed] == [
        ("workflow", "sync", "ada", 2),
        ("connector", "plutio", "ada", 0),
    ]
    out = run(redis_server, monkeypatch, "resume", "workflow", "sync", "--by", "ada")
    assert "2 held run(s) released in arrival order" in out
    assert redis_client.llen("hub") == 2
    run(redis_server, monkeypatch, "resume", "connector", "plutio")
    assert run(redis_server, monkeypatch, "paused").strip() == "nothing is paused"


def test_the_os_user_is_who_paused_without_by(
    redis_server: RedisServer, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "operator-7")
    monkeypatch.setenv("LOGNAME", "operator-7")
    _run(redis_server, monkeypatch, "pause", "source", "crm")
    pause = PauseStore(redis_client).get("source", "crm")
    assert pause is not None and pause.by == "operator-7"


def test_bad_input_is_a_clear_error(
    redis_server: RedisServer, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _run(redis_server, monkeypatch, "pause", "queue", "x", code=2)
    assert "KIND 'queue': use workflow, source, connector" in out
    out = _run(redis_server, monkeypatch, "pause", "connector", "nosuch", code=2)
    assert "no connector 'nosuch' (installed:" in out
    out = _run(redis_server, monkeypatch, "resume", "workflow", "sync", code=1)
    assert "workflow sync is not paused" in out
    assert PauseStore(redis_client).paused() == []


def test_quota_shows_breakers_and_what_pauses_hold(
    redis_server: RedisServer, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    breaker = RedisBreaker(redis_client, "plutio:acme", BreakerPolicy(min_calls=2, failure_rate=1))
    for _ in range(2):
        breaker.record(breaker.admit(), failed=True)
    with pytest.raises(BreakerOpen):
        breaker.admit()
    pauses = PauseStore(redis_client)
    pauses.pause("workflow", "sync", by="ada")
    redis_client.rpush("hub:held:sync", "hub\n{}")
    table = _run(redis_server, monkeypatch, "quota")
    rows = {line.split()[0]: line for line in table.splitlines() if line}
    assert "open (probe in" in rows["plutio:acme"]
    assert "workflow sync: 1 held runs" in table
    out = json.loads(_run(redis_server, monkeypatch, "quota", "--json"))
    [status] = out["breakers"]
    assert (status["key"], status["state"], status["held_steps"]) == ("plutio:acme", "open", 1)
    assert [(p["name"], p["held"]) for p in out["paused"]] == [("sync", 1)]
    metrics = _run(redis_server, monkeypatch, "metrics")
    assert 'hub_breaker_state{client="plutio:acme"} 2.0' in metrics
    assert 'hub_breaker_transitions_total{client="plutio:acme",state="open"} 1.0' in metrics
    assert 'hub_paused{kind="workflow",name="sync"} 1.0' in metrics
    assert 'hub_paused_held{kind="workflow",name="sync"} 1.0' in metrics


def test_pausing_and_resuming_a_workflow_emit_hub_events(
    redis_server: RedisServer, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    from hub.history import hub_events
    from hub.workflow.loader import load_workflow_text
    from hub.workflow.revisions import WorkflowStore

    alert = load_workflow_text(
        'name: alert\ntrigger: { webhook: { source: hub, event: "workflow.*" } }\n'
        "steps:\n  - id: note\n    uses: core.echo\n    with: { value: x }\n",
        "alert.yaml",
    )
    WorkflowStore(redis_client).publish([alert])
    hub_events._default_sink.cache_clear()
    monkeypatch.setenv("HUB_REDIS_URL", redis_server.url)
    get_settings.cache_clear()
    try:
        _run(redis_server, monkeypatch, "pause", "workflow", "sync", "--by", "ada")
        _run(redis_server, monkeypatch, "resume", "workflow", "sync", "--by", "bob")
    finally:
        hub_events._default_sink.cache_clear()
        get_settings.cache_clear()
    sent = [json.loads(m) for m in reversed(redis_client.lrange("hub", 0, -1))]
    events = [json.loads(base64.b64decode(m["body"]))[0][0]["event"] for m in sent]
    assert [(e["type"], e["workflow"], e["by"]) for e in events] == [
        ("workflow.paused", "sync", "ada"),
        ("workflow.resumed", "sync", "bob"),
    ]
    assert events[1]["released"] == 0
