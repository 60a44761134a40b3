"""Plane: projects, work items, states, labels and comments, on the shared HTTP layer."""

from __future__ import annotations

from typing import Any

from connectors.plane import sandbox
from connectors.plane.api import build_api
from connectors.plane.resources import OPERATIONS
from connectors.plane.sandbox_rules import KINDS
from connectors.plane.settings import PlaneSettings
from hub.connector import Connector
from hub.sandbox import Sandbox

__all__ = ["CONNECTOR", "SANDBOX", "WEBHOOK_PRESET"]


def _sandbox_env(url: str, config: Any) -> dict[str, str]:
    """The settings that point the connector at a sandbox at ``url``, with its first key."""
    return {
        "PLANE_BASE_URL": url,
        "PLANE_API_KEY": config.api_keys[0],
        "PLANE_WORKSPACE_SLUG": config.workspaces[0],
    }


SANDBOX: Sandbox[PlaneSettings] = Sandbox(
    create_app=sandbox.create_app,
    config=sandbox.PlaneSandboxConfig,
    env_prefix=sandbox.ENV_PREFIX,
    port=lambda settings: settings.sandbox_port,
    port_setting="HUB_PLANE_SANDBOX_PORT",
    configured=lambda settings: settings.has_credentials,
    env=_sandbox_env,
    resources=frozenset(KINDS),
    present=sandbox.NAMING.show,
    accept=sandbox.NAMING.take,
)

#: Plane's webhooks: X-Plane-Signature (hex HMAC-SHA256 of the body), the type from
#: X-Plane-Event and the body's action (issue.created), the id from X-Plane-Delivery
WEBHOOK_PRESET = {
    "auth": {"scheme": "hmac", "header": "X-Plane-Signature"},
    "event_type": {"format": "{header:X-Plane-Event}.{action}"},
    "event_id": {"header": "X-Plane-Delivery", "required": True},
}

CONNECTOR = Connector(
    name="plane",
    operations=OPERATIONS,
    settings=PlaneSettings,
    build=build_api,
    sandbox=SANDBOX,
    webhook_presets={"plane": WEBHOOK_PRESET},
)
