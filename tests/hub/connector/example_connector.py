"""A tiny connector, as a separately installed distribution would ship it.

:func:`install` writes it into a folder as a package (``hub_memo_connector``) beside the
``*.dist-info`` that registers it under the ``hub.connectors`` entry-point group, the
files ``pip install`` leaves in ``site-packages``. Put the folder on ``PYTHONPATH`` and
every ``hub`` command finds the ``memo`` connector; nothing under ``hub/`` names it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DISTRIBUTION", "PACKAGE", "install"]

DISTRIBUTION = "hub_memo_connector-0.1.0.dist-info"
PACKAGE = "hub_memo_connector"

#: the whole connector: settings, operations, client declaration, sandbox
SOURCE = '''\
"""Memo: notes kept by a small upstream, as a connector plug-in."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import SettingsConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.connector.declaration import Connector, Operation
from hub.core.settings import Settings
from hub.http.budgets import QuotaSettings
from hub.http.client_spec import ClientSpec, HeaderKey
from hub.http.upstream import build_client, require_fields
from hub.http.pagination import SkipLimit
from hub.sandbox.app import METHODS, SandboxConfig, build_core, sandbox_app
from hub.sandbox.clock import Clock
from hub.sandbox.control import control_mount
from hub.sandbox.declaration import Sandbox
from hub.sandbox.gate import Gate
from hub.sandbox.responses import json_error
from hub.sandbox.rest import MongoRest, resource_table


class MemoSettings(QuotaSettings):
    model_config = SettingsConfigDict(env_prefix="MEMO_")

    base_url: str = Field(default="https://memo.example", description="Memo API base URL.")
    api_key: SecretStr | None = Field(default=None, description="Memo API key.")
    quota_limit: int = Field(default=100, description="Memo calls per window.")
    quota_window_seconds: float = Field(default=60, description="Memo quota window.")
    sandbox_port: int = Field(default=9190, description="Port of the Memo sandbox.")


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str


class NoteList(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemoApi:
    def __init__(self, client: Any) -> None:
        self.client = client


def build(
    settings: MemoSettings,
    hub: Settings,
    redis: Any,
    *,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], float] = time.time,
) -> MemoApi:
    require_fields("Memo", settings, ("api_key",))
    assert settings.api_key is not None
    key = settings.api_key.get_secret_value()
    spec = ClientSpec(
        service="Memo",
        base_url=settings.base_url,
        budget_key="memo:" + key,
        auth=HeaderKey("X-Memo-Key", key),
        paginator=SkipLimit(2),
    )
    return MemoApi(build_client(spec, settings, hub, redis, transport=transport, now=now))


def _create(api: MemoApi, args: NoteCreate) -> Any:
    return api.client.request("POST", "notes", json={"text": args.text})


def _list(api: MemoApi, args: NoteList) -> Any:
    return list(api.client.iterate("GET", "notes"))


OPERATIONS = {
    "notes.create": Operation("notes.create", NoteCreate, _create, "Write a memo note."),
    "notes.list": Operation("notes.list", NoteList, _list, "Every memo note."),
}

RESOURCES = resource_table({"notes": "list create"})


class MemoSandboxConfig(SandboxConfig):
    api_key: str = "memo-sandbox-key"


def create_app(config: MemoSandboxConfig | None = None, *, clock: Clock | None = None) -> Starlette:
    cfg = config or MemoSandboxConfig()
    core = build_core(cfg, resources=RESOURCES, default_namespace="memo", clock=clock)
    rest = MongoRest(core.store, RESOURCES)

    async def identify(request: Request) -> str | None:
        key = request.headers.get("x-memo-key")
        return key if key == cfg.api_key else None

    async def notes(request: Request, client_id: str | None) -> Response:
        if client_id is None:
            return json_error(401, "a valid X-Memo-Key is required")
        return await rest.dispatch(request, "memo")

    gate = Gate(core, identify)
    routes = [control_mount(core), Route("/{path:path}", gate.endpoint(notes), methods=METHODS)]
    return sandbox_app(core, cfg, routes)


CONNECTOR = Connector(
    name="memo",
    operations=OPERATIONS,
    settings=MemoSettings,
    build=build,
    sandbox=Sandbox(
        create_app=create_app,
        config=MemoSandboxConfig,
        env_prefix="MEMO_SANDBOX_",
        port=lambda settings: settings.sandbox_port,
        configured=lambda settings: settings.api_key is not None,
        env=lambda url, config: {"MEMO_BASE_URL": url, "MEMO_API_KEY": config.api_key},
        resources=frozenset(RESOURCES),
    ),
)
'''

METADATA = "Metadata-Version: 2.1\nName: hub-memo-connector\nVersion: 0.1.0\n"
ENTRY_POINTS = "[hub.connectors]\nmemo = hub_memo_connector:CONNECTOR\n"


def install(folder: Path) -> Path:
    """Write the distribution into ``folder`` (as ``pip install --target`` would); the
    folder to put on ``PYTHONPATH``."""
    package = folder / PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(SOURCE)
    info = folder / DISTRIBUTION
    info.mkdir()
    (info / "METADATA").write_text(METADATA)
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (info / "top_level.txt").write_text(f"{PACKAGE}\n")
    return folder
