"""`hub runs` and `hub dlq` on a real Redis: what an operator reads and does."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator

import pytest
import redis
from typer.testing import CliRunner

from hub.cli.app import cli
from hub.core.redis_server import RedisServer
from hub.core.settings import get_settings
from hub.workflow.revisions import WorkflowStore
from tests.hub.worker.fakes import LocalHub

WORKFLOW = """
name: sync
trigger: { webhook: { source: src } }
steps:
  - id: first
    uses: core.echo
    with: { key: first }
  - id: second
    if: "{{ event.fail }}"
    uses: core.fail
    with: { message: "refused: email is not valid" }
"""


@pytest.fixture(autouse=True)
def _logging_kept() -> Iterator[None]:
    """The CLI sets up logging for its process; put the test session's back after."""
    root, quiet = logging.getLogger(), [logging.getLogger(n) for n in ("httpx", "httpcore")]
    saved = (root.handlers[:], root.level, [q.level for q in quiet])
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for logger, level in zip(quiet, saved[2], strict=True):
        logger.setLevel(level)


@pytest.fixture
def env(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HUB_REDIS_URL", redis_server.url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def hub(redis_client: redis.Redis, env: None) -> LocalHub:
    return LocalHub(redis_client)


def _hub(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout  # log lines go to stderr


def _runs(hub: LocalHub) -> tuple[str, str]:
    wf = hub.load(WORKFLOW)
    WorkflowStore(hub.redis).publish([wf])
    ok, _ = hub.run(wf, {"fail": False})
    hub.clock.advance(60)
    failed, _ = hub.run(wf, {"fail": True})
    return ok, failed


def test_hub_runs_lists_filters_and_shows(hub: LocalHub) -> None:
    ok, failed = _runs(hub)
    listing = _hub("runs").splitlines()
    assert listing[0].split()[:4] == ["RUN", "WORKFLOW", "REVISION", "STATUS"]
    assert [line.split()[0] for line in listing[1:]] == [failed[:12], ok[:12]]
    assert "FatalError: refused: email is not valid" in listing[1]
    only_failed = json.loads(_hub("runs", "--status", "failed", "--json"))
    assert [r["run_id"] for r in only_failed] == [failed]
    assert only_failed[0]["steps"]["second"]["attempts"] == 1
    assert only_failed[0]["error"]["message"] == "refused: email is not valid"
    assert _hub("runs", "--event", "e1", "--workflow", "other").strip() == "no runs match"
    assert len(json.loads(_hub("runs", "--event", "e1", "--since", "2000-01-01", "--json"))) == 2
    shown = _hub("runs", "show", failed[:10])
    assert f"run       {failed}" in shown
    assert "status    failed" in shown
    assert f"a dead letter, not replayed (`hub dlq show {failed}`)" in shown
    assert "second: FatalError: refused: email is not valid" in shown


def test_hub_runs_errors_are_clear(env: None, redis_client: redis.Redis) -> None:
    bad = CliRunner().invoke(cli, ["runs", "--since", "yesterday"])
    assert bad.exit_code == 2 and "--since: 'yesterday' is neither a duration" in bad.output
    missing = CliRunner().invoke(cli, ["runs", "show", "0123456789abcdef" * 2])
    assert missing.exit_code == 1 and "no run 0123456789abcdef" in missing.output


def test_hub_dlq_list_show_replay_purge(hub: LocalHub) -> None:
    _, failed = _runs(hub)
    listing = _hub("dlq", "list", "--workflow", "sync", "--error", "not valid")
    assert failed[:12] in listing and "1 dead letter(s)" in listing
    assert _hub("dlq", "list", "--source", "elsewhere").strip() == "no dead letters match"
    shown = _hub("dlq", "show", failed[:12])
    assert "failed    " in shown and "at step second" in shown
    assert "#1 " in shown and "FatalError: refused: email is not valid" in shown
    assert '"first": {' in shown  # the context: the earlier step's output

    refused = CliRunner().invoke(cli, ["dlq", "replay"])
    assert refused.exit_code == 2 and "pass --all" in refused.output
    dry = _hub("dlq", "replay", "--all", "--dry-run")
    assert dry.splitlines() == [
        "1 dead letter(s) match; nothing replayed (--dry-run)",
        "        1  sync",
    ]
    assert failed[:12] in _hub("dlq", "list")  # still dead: nothing was sent
    assert hub.redis.llen("hub") == hub.redis.llen("hub.bulk") == 0
    bad = CliRunner().invoke(cli, ["dlq", "replay", "--all", "--priority", "urgent"])
    assert bad.exit_code == 2 and "'urgent' is not one of interactive, default, bulk" in bad.output
    replayed = _hub("dlq", "replay", "--all", "--workflow", "sync")
    assert replayed.splitlines()[0].startswith(f"[1/1] run {failed[:12]} (sync, event e1) -> run ")
    assert "from step second" in replayed and "at bulk priority" in replayed
    assert replayed.endswith("1 replayed, 0 not replayed\n")
    assert hub.redis.llen("hub") == 0  # a bulk replay queues behind live events
    (message,) = hub.redis.lrange("hub.bulk", 0, -1)  # the replay is an ordinary task message
    envelope = json.loads(message)
    args, kwargs, _ = json.loads(base64.b64decode(envelope["body"]))
    assert kwargs["step"] == "second" and args[0]["replay_of"] == failed
    assert kwargs["priority"] == "bulk"
    assert _hub("dlq", "list").strip() == "no dead letters match"
    assert failed[:12] in _hub("dlq", "list", "--replayed")
    again = CliRunner().invoke(cli, ["dlq", "replay", failed])
    assert again.exit_code == 1 and "was replayed already" in again.output
    assert _hub("dlq", "purge", "--all", "--replayed").strip() == "1 dead letter(s) purged"
    assert _hub("dlq", "list", "--all").strip() == "no dead letters match"


def test_commands_that_need_redis_say_so_when_it_is_not_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_REDIS_URL", "redis://:hunter2@127.0.0.1:9/0")
    get_settings.cache_clear()
    try:
        for args in (["runs"], ["dlq", "list"]):
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 2, result.output
            assert "cannot reach Redis at redis://127.0.0.1:9/0 (HUB_REDIS_URL)" in result.output
            assert "hunter2" not in result.output
    finally:
        get_settings.cache_clear()
