"""HTTP: ``http.request``, one request to any URL on the shared HTTP layer.

An alert to a chat service's incoming webhook, or a call to any HTTP endpoint, needs no
connector of its own: ``uses: http.request`` with ``method``, ``url``, ``headers``
(values may be secrets), ``params``, a ``json`` body and optionally a ``quota``
(:mod:`.request`). ``hub up`` and ``hub test`` point it at the webhook sandbox
(:mod:`.sandbox`), which answers as an incoming webhook does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from connectors.http import sandbox
from connectors.http.request import HttpRequestApi, Request, send_request
from connectors.http.settings import HttpRequestSettings
from hub.connector import Connector, Operation, operation_table
from hub.core import Settings
from hub.sandbox import Sandbox

__all__ = ["CONNECTOR", "SANDBOX", "HttpRequestApi"]


def _build(
    settings: HttpRequestSettings,
    hub: Settings,
    redis: Any,
    *,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], float] = time.time,
) -> HttpRequestApi:
    """The clients are made on first use, one per origin and quota."""
    return HttpRequestApi(settings, redis, transport=transport, now=now)


def _sandbox_env(url: str, config: Any) -> dict[str, str]:
    """Every request goes to the sandbox at ``url``, its path kept."""
    return {"HTTP_REQUEST_SEND_TO": url}


SANDBOX: Sandbox[HttpRequestSettings] = Sandbox(
    create_app=sandbox.create_app,
    config=sandbox.WebhookSandboxConfig,
    env_prefix=sandbox.ENV_PREFIX,
    port=lambda settings: settings.sandbox_port,
    port_setting="HUB_HTTP_SANDBOX_PORT",
    configured=lambda settings: settings.live,
    env=_sandbox_env,
    resources=frozenset(sandbox.RESOURCES),
)

OPERATIONS = operation_table(
    Operation(
        "request",
        Request,
        send_request,
        "Send one HTTP request (method, url, headers, params, json; optional quota) "
        "through the shared client. Answers {status, body}.",
        writes=True,
    ),
)

CONNECTOR = Connector(
    name="http",
    operations=OPERATIONS,
    settings=HttpRequestSettings,
    build=_build,
    sandbox=SANDBOX,
)
