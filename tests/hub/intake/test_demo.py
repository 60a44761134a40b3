"""Local runs: the demo key, signed sample deliveries, ``hub send``, the fsync check."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import uvicorn
from starlette.testclient import TestClient
from typer.testing import CliRunner

from hub.cli.app import cli
from hub.core.errors import ConfigError
from hub.core.redis_server import (
    RedisServer,
    find_server_binary,
    free_port,
    probe_server_binary,
)
from hub.core.settings import Settings
from hub.ingress.event_store import FsyncCheck, check_fsync
from hub.intake.demo import DEMO_SECRET, signed_delivery, with_demo_secrets
from tests.hub.ingress.conftest import ROOT, write_source, write_workflow

CRM = 'auth: { scheme: standard-webhooks, secret: "{{ secrets.CRM_SIGNING_KEY }}" }\n'


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_workflow(tmp_path, "contact-created", "crm", "contact.created")
    write_source(tmp_path, "crm", CRM)
    return tmp_path


def test_demo_secrets_fill_only_what_is_missing(folder: Path) -> None:
    assert with_demo_secrets(Settings(hub_workflows=folder)) == {"CRM_SIGNING_KEY": DEMO_SECRET}
    mine = Settings(hub_workflows=folder, hub_secrets={"CRM_SIGNING_KEY": "whsec_QUJD"})
    assert with_demo_secrets(mine) == {"CRM_SIGNING_KEY": "whsec_QUJD"}


def test_samples_signed_with_the_demo_key_are_accepted(
    make_client: Callable[..., TestClient], folder: Path
) -> None:
    client = make_client(folder, hub_secrets={"CRM_SIGNING_KEY": DEMO_SECRET})
    sample = json.loads((ROOT / "workflows/samples/1-crm-contact-created.json").read_text())
    body, headers = signed_delivery(
        Settings(hub_workflows=folder), "crm", sample["body"], sample["headers"]
    )
    answer = client.post("/hooks/crm", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    assert answer.json()["event_id"] == "crm-evt-1001"


@pytest.fixture
def live_ingress(make_client: Callable[..., TestClient], folder: Path) -> Iterator[str]:
    app = make_client(folder, hub_secrets={"CRM_SIGNING_KEY": DEMO_SECRET}).app
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_hub_send_posts_a_signed_sample(
    live_ingress: str, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_WORKFLOWS", str(folder))
    monkeypatch.delenv("HUB_SECRETS", raising=False)
    from hub.core.settings import get_settings

    get_settings.cache_clear()
    sample = ROOT / "workflows/samples/2-crm-contact-created-again.json"
    try:
        result = CliRunner().invoke(cli, ["send", "crm", str(sample), "--url", live_ingress])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    status, _, body = result.stdout.partition(" ")  # the in-process ingress logs to stderr
    assert status == "202" and json.loads(body)["event_id"] == "crm-evt-1002"


def test_fsync_check(tmp_path: Path, redis_server: RedisServer) -> None:
    with pytest.raises(ConfigError, match="appendonly yes"):
        check_fsync(redis.Redis.from_url(redis_server.url))  # the session server: no AOF
    with RedisServer(tmp_path / "always", need_waitaof=True) as always:
        assert check_fsync(redis.Redis.from_url(always.url)) == FsyncCheck(waitaof=True)
    with RedisServer(tmp_path / "everysec", appendfsync="everysec", need_waitaof=True) as every:
        check = check_fsync(redis.Redis.from_url(every.url))
        assert check.waitaof and check.warning and "appendfsync is everysec" in check.warning


def _no_waitaof() -> tuple[str, ...]:
    """Server arguments that make it answer WAITAOF as Redis before 7.2 does (unknown
    command); none for a server that is older already."""
    probed = probe_server_binary(find_server_binary())
    return ("--rename-command", "WAITAOF", "") if probed and probed.has_waitaof else ()


def test_fsync_check_without_waitaof_relies_on_the_servers_appendfsync_always(
    tmp_path: Path,
) -> None:
    with RedisServer(tmp_path / "always", extra_args=_no_waitaof()) as always:
        assert check_fsync(redis.Redis.from_url(always.url)) == FsyncCheck(waitaof=False)
    every = RedisServer(tmp_path / "every", appendfsync="everysec", extra_args=_no_waitaof())
    with every, pytest.raises(ConfigError) as refused:
        check_fsync(redis.Redis.from_url(every.url))
    message = str(refused.value)
    assert "has no WAITAOF" in message and "appendfsync everysec" in message
    assert "Redis 7.2+ or Valkey" in message and "`appendfsync always`" in message
    assert "HUB_INGRESS_FSYNC=everysec" in message


def test_fsync_check_says_when_config_is_refused(tmp_path: Path) -> None:
    hidden = (*_no_waitaof(), "--rename-command", "CONFIG", "")
    managed = RedisServer(tmp_path / "managed", extra_args=hidden)
    with managed, pytest.raises(ConfigError, match="CONFIG GET is refused"):
        check_fsync(redis.Redis.from_url(managed.url))
