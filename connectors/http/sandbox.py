"""The webhook sandbox: an incoming-webhook endpoint standing in for a chat service's.

It answers as a chat service's incoming webhooks do (the shape of Slack's, as its
changelog of 2016-05-17 lists the errors; see README's assumptions):

- ``POST /services/{path}`` with a JSON object that has ``text``, ``blocks`` or
  ``attachments``: ``200`` with the text ``ok``; the message is stored as a
  ``messages`` record (``_path`` and the body).
- A body that is not a JSON object: ``400 invalid_payload``; one without ``text``,
  ``blocks`` or ``attachments``: ``400 no_text``.
- A hook seeded in ``hooks`` with ``state: revoked`` (or any path outside
  ``/services/``): ``404 no_service``; with ``state: archived``: ``410
  channel_is_archived``. Every other path under ``/services/`` is a live hook.
- ``/_sandbox/`` control routes as every sandbox has them (state, seed, faults, calls,
  reset); calls go through the sandbox gate (faults, call log), unmetered.

Errors are plain text, as the real endpoint answers them. Run it with
``hub sandbox http``; ``HTTP_SANDBOX_*`` variables configure it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from hub.sandbox import (
    Clock,
    Gate,
    SandboxConfig,
    build_core,
    config_from_env,
    control_mount,
    sandbox_app,
)

__all__ = ["ENV_PREFIX", "RESOURCES", "WebhookSandboxConfig", "create_app", "create_app_from_env"]

ENV_PREFIX = "HTTP_SANDBOX_"
RESOURCES = ("messages", "hooks")
_NAMESPACE = "webhooks"
_PREFIX = "services/"
#: what makes a message: at least one of these, non-empty
_CONTENT = ("text", "blocks", "attachments")
#: a seeded hook's state -> the answer to a post to it
_GONE = {"revoked": (404, "no_service"), "archived": (410, "channel_is_archived")}


class WebhookSandboxConfig(SandboxConfig):
    """What the webhook sandbox can be told; env names are ``HTTP_SANDBOX_<FIELD>``."""


def _text(status: int, text: str) -> Response:
    return PlainTextResponse(text, status_code=status)


def create_app(
    config: WebhookSandboxConfig | None = None, *, clock: Clock | None = None
) -> Starlette:
    """A fresh webhook sandbox; its core is at ``app.state.sandbox``."""
    cfg = config or WebhookSandboxConfig()
    core = build_core(cfg, resources=RESOURCES, default_namespace=_NAMESPACE, clock=clock)
    core.seed_records(core.initial_data)

    async def identify(request: Request) -> str | None:
        return None  # incoming webhooks have no quota to meter here

    async def post(request: Request, client_id: str | None) -> Response:
        path = request.path_params["path"]
        if request.method != "POST":
            return _text(405, "invalid_method")
        if not path.startswith(_PREFIX):
            return _text(404, "no_service")
        hooks = core.store.find(_NAMESPACE, "hooks", lambda r: r.get("path") == f"/{path}")
        for hook in hooks:
            gone = _GONE.get(str(hook.get("state")))
            if gone is not None:
                return _text(*gone)
        try:
            body: Any = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _text(400, "invalid_payload")
        if not isinstance(body, dict):
            return _text(400, "invalid_payload")
        if not any(body.get(key) for key in _CONTENT):
            return _text(400, "no_text")
        core.store.insert(_NAMESPACE, "messages", {"_path": f"/{path}", **body})
        return _text(200, "ok")

    gate = Gate(core, identify)
    return sandbox_app(
        core,
        cfg,
        [
            control_mount(core),
            Route("/{path:path}", gate.endpoint(post), methods=["POST", "GET", "PUT", "DELETE"]),
        ],
    )


def create_app_from_env() -> Starlette:
    """A sandbox configured from ``HTTP_SANDBOX_*`` variables (a uvicorn factory)."""
    return create_app(config_from_env(WebhookSandboxConfig, ENV_PREFIX))
