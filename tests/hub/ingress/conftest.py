"""Fixtures for ingress tests: settings, a Celery app and an ingress on the session Redis."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from starlette.testclient import TestClient

from hub.core.redis_server import RedisServer
from hub.core.settings import Settings
from hub.ingress.app import create_app
from hub.ingress.event_store import connect
from hub.worker.celery_app import create_celery
from hub.workflow.loader import load_folder
from hub.workflow.model import Workflow

#: a Standard Webhooks secret for tests (base64 of 24 bytes)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ROOT = Path(__file__).resolve().parents[3]

WORKFLOW = """\
name: {name}
trigger:
  webhook: {{ source: {source}, event: "{event}" }}
{condition}steps:
  - id: person
    uses: plutio.people.create
    with:
      name: {{ first: "{{{{ event.data.first }}}}" }}
"""


def write_workflow(
    folder: Path, name: str, source: str, event: str = "*", condition: str | None = None
) -> None:
    """A one-step webhook workflow file in ``folder``."""
    line = f'if: "{condition}"\n' if condition else ""
    text = WORKFLOW.format(name=name, source=source, event=event, condition=line)
    (folder / f"{name}.yaml").write_text(text)


def write_source(folder: Path, name: str, text: str) -> None:
    sources = folder / "sources"
    sources.mkdir(exist_ok=True)
    (sources / f"{name}.yaml").write_text(text)


@pytest.fixture
def settings_for(redis_server: RedisServer) -> Callable[..., Settings]:
    def make(folder: Path, **extra: Any) -> Settings:
        values: dict[str, Any] = {
            "hub_redis_url": redis_server.url,
            "hub_workflows": folder,
            "hub_secrets": {"CRM_SIGNING_KEY": SECRET},
            "hub_ingress_fsync": "everysec",  # the session server runs without AOF
        }
        values.update(extra)
        return Settings(**values)

    return make


@pytest.fixture
def make_client(
    settings_for: Callable[..., Settings], redis_client: redis.Redis
) -> Iterator[Callable[..., TestClient]]:
    """An ingress client for a workflow folder; closed at the end of the test."""
    clients: list[TestClient] = []

    def make(
        folder: Path,
        *,
        clock: Callable[[], float] | None = None,
        redis_url: str | None = None,
        peer: tuple[str, int] = ("testclient", 50000),
        app_options: dict[str, Any] | None = None,
        **extra: Any,
    ) -> TestClient:
        settings = settings_for(folder, **extra)
        workflows: list[Workflow] = load_folder(folder)
        options: dict[str, Any] = dict(app_options or {})
        if clock is not None:
            options["clock"] = clock
        app = create_app(
            settings,
            workflows,
            create_celery(settings),
            connect(redis_url or str(settings.hub_redis_url)),
            **options,
        )
        client = TestClient(app, client=peer)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def queued(client: redis.Redis, queue: str = "hub") -> list[dict[str, Any]]:
    """The Celery messages in a queue list, oldest first, bodies decoded."""
    import base64

    out = []
    for raw in reversed(client.lrange(queue, 0, -1)):
        message = json.loads(raw)
        message["body"] = json.loads(base64.b64decode(message["body"]))
        out.append(message)
    return out


@pytest.fixture
def celery_for(redis_server: RedisServer) -> Callable[..., Celery]:
    def make(**conf: Any) -> Celery:
        app = create_celery(Settings(hub_redis_url=redis_server.url))
        app.conf.update(conf)
        return app

    return make
