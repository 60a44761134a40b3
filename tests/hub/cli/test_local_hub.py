"""Commands in a second terminal find the hub `hub up` runs from the same folder."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from typer.testing import CliRunner

from hub.cli.app import cli
from hub.cli.local_hub import (
    LocalHub,
    local_hub_file,
    read_local_hub,
    remove_local_hub,
    write_local_hub,
)
from hub.core.redis_server import RedisServer
from hub.core.settings import get_settings
from hub.sandbox.serve import serve_in_thread

ROOT = Path(__file__).resolve().parents[3]


def _gone_pid() -> int:
    """The id of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_file_is_written_whole_for_this_user_only(tmp_path: Path) -> None:
    path = local_hub_file(tmp_path / "data")
    hub = LocalHub("redis://127.0.0.1:1/0", "http://127.0.0.1:2", os.getpid(), {"a": "b"}, "l")
    write_local_hub(path, hub)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_local_hub(path) == hub
    assert [p.name for p in path.parent.iterdir()] == ["local.json"]


def test_a_file_whose_hub_is_gone_or_unreadable_is_not_read(tmp_path: Path) -> None:
    path = local_hub_file(tmp_path)
    write_local_hub(path, LocalHub("redis://x", "http://y", _gone_pid()))
    assert read_local_hub(path) is None
    path.write_text("{not json")
    assert read_local_hub(path) is None
    assert read_local_hub(tmp_path / "missing.json") is None


def test_only_its_own_hub_removes_the_file(tmp_path: Path) -> None:
    path = local_hub_file(tmp_path)
    write_local_hub(path, LocalHub("redis://x", "http://y", os.getpid()))
    remove_local_hub(path, os.getpid() + 1)
    assert path.exists()
    remove_local_hub(path, os.getpid())
    assert not path.exists()


@pytest.fixture(autouse=True)
def _logging_kept() -> Iterator[None]:
    """The CLI sets up logging for its process; put the test session's back after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    root.handlers[:], root.level = saved


@pytest.fixture
def second_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No HUB_REDIS_URL; the data folder is ``tmp_path``."""
    monkeypatch.delenv("HUB_REDIS_URL", raising=False)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_without_a_hub_the_error_says_to_start_one(second_terminal: Path) -> None:
    result = CliRunner().invoke(cli, ["quota"])
    assert result.exit_code == 2
    assert "HUB_REDIS_URL is not set and no `hub up` is running from this folder" in (result.output)
    assert "start `hub up` here (in another terminal), or set HUB_REDIS_URL" in result.output


def test_commands_use_the_local_hub_s_redis(
    second_terminal: Path, redis_server: RedisServer, redis_client: Any
) -> None:
    hub = LocalHub(redis_server.url, "http://127.0.0.1:9", os.getpid())
    write_local_hub(local_hub_file(second_terminal), hub)
    for command in (["quota"], ["runs"], ["dlq", "list"], ["metrics"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 0, (command, result.output)
    assert "no runs match" in CliRunner().invoke(cli, ["runs"]).output


def test_hub_send_posts_to_the_local_hub_s_ingress(second_terminal: Path, tmp_path: Path) -> None:
    received: list[str] = []

    async def hook(request: Request) -> JSONResponse:
        received.append(request.path_params["source"])
        return JSONResponse({"event_id": "e-1", "runs": []}, status_code=202)

    app = Starlette(routes=[Route("/hooks/{source}", hook, methods=["POST"])])
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"id": "e-1", "type": "contact.created"}))
    with serve_in_thread(app) as ingress:
        hub = LocalHub("redis://127.0.0.1:9/0", ingress, os.getpid())
        write_local_hub(local_hub_file(second_terminal), hub)
        result = CliRunner().invoke(cli, ["send", "shop", str(event)])
    assert result.exit_code == 0, result.output
    assert received == ["shop"]
