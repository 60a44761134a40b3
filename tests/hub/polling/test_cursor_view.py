"""`hub cursors` and `hub cursors reset`, as an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from hub.core.errors import ConfigError
from hub.core.locks import try_lock
from hub.core.redis_server import RedisServer
from hub.polling.cursor_view import reset_cursor
from hub.polling.cursors import CursorStore
from hub.polling.poll_task import poll_lock_key
from tests.workflows.invoice_export import fast_workflows

ROOT = Path(__file__).resolve().parents[3]
POLL = "plutio-invoice-poll-to-accounting-export"


def _hub(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_show_reset_and_show_again(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    env = {"HUB_REDIS_URL": redis_server.url, "HUB_WORKFLOWS": str(fast_workflows(tmp_path))}
    shown = _hub(env, "cursors")
    assert shown.returncode == 0, shown.stderr
    assert f"{POLL}" in shown.stdout and "(from the start)" in shown.stdout

    reset = _hub(env, "cursors", "reset", POLL, "--to", "2024-05-01T00:00:00.000Z")
    assert reset.returncode == 0, reset.stderr
    assert "reads from 2024-05-01T00:00:00.000Z" in reset.stdout
    cursor = CursorStore(redis_client).get(POLL)
    assert (cursor.value, cursor.id) == ("2024-05-01T00:00:00.000Z", "")
    assert "2024-05-01T00:00:00.000Z" in _hub(env, "cursors").stdout

    unknown = _hub(env, "cursors", "reset", "no-such-workflow")
    assert unknown.returncode == 2 and "no poll workflow named 'no-such-workflow'" in unknown.stderr


def test_reset_waits_for_a_running_poll(redis_client: redis.Redis) -> None:
    store = CursorStore(redis_client)
    store.advance(POLL, "2024-01-02T00:00:00.000Z", "x", [], seen=0, keep_seconds=None)
    assert try_lock(redis_client, poll_lock_key(POLL), ttl_seconds=30)
    with pytest.raises(ConfigError, match=r"a poll of .* has been running"):
        reset_cursor(store, redis_client, POLL, None, wait=0.3, sleep=lambda s: None)
    assert store.get(POLL).value == "2024-01-02T00:00:00.000Z"
    redis_client.delete(poll_lock_key(POLL))
    reset_cursor(store, redis_client, POLL, None)
    assert not store.get(POLL).started
