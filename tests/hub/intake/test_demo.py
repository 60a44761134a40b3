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

from hub.cli.main import cli
from hub.core.errors import ConfigError
from hub.core.redis_server import RedisServer, free_port
from hub.core.settings import Settings
from hub.ingress.event_store import check_fsync
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
    with RedisServer(tmp_path / "always") as always:
        assert check_fsync(redis.Redis.from_url(always.url)) is None
    with RedisServer(tmp_path / "everysec", appendfsync="everysec") as everysec:
        warning = check_fsync(redis.Redis.from_url(everysec.url))
        assert warning is not None and "appendfsync is everysec" in warning
