"""HubSpot: contacts read by id, in batches and by search, on the shared HTTP layer, and
the preset of HubSpot's webhooks (``preset: hubspot`` in a source file)."""

from __future__ import annotations

from typing import Any

from connectors.hubspot import sandbox
from connectors.hubspot.api import build_api
from connectors.hubspot.operations import OPERATIONS
from connectors.hubspot.settings import HubSpotSettings
from hub.connector import Connector
from hub.sandbox import Sandbox

__all__ = ["CONNECTOR", "SANDBOX", "WEBHOOK_PRESET"]


def _sandbox_env(url: str, config: Any) -> dict[str, str]:
    """The settings that point the connector at a sandbox at ``url``, with its first token."""
    return {"HUBSPOT_BASE_URL": url, "HUBSPOT_ACCESS_TOKEN": config.tokens[0]}


SANDBOX: Sandbox[HubSpotSettings] = Sandbox(
    create_app=sandbox.create_app,
    config=sandbox.HubSpotSandboxConfig,
    env_prefix=sandbox.ENV_PREFIX,
    port=lambda settings: settings.sandbox_port,
    configured=lambda settings: settings.has_credentials,
    env=_sandbox_env,
    resources=frozenset({sandbox.CONTACTS}),
    present=sandbox.NAMING.show,
    accept=sandbox.NAMING.take,
    port_setting="HUB_HUBSPOT_SANDBOX_PORT",
)

#: HubSpot's webhooks (v3 signature): X-HubSpot-Signature-v3, the base64 HMAC-SHA256 of
#: method + full URI (the characters HubSpot decodes, decoded) + body + timestamp, with
#: X-HubSpot-Request-Timestamp in milliseconds within 5 minutes; a JSON array of events
#: per request, each with its eventId and subscriptionType
WEBHOOK_PRESET = {
    "auth": {
        "scheme": "hmac",
        "header": "X-HubSpot-Signature-v3",
        "encoding": "base64",
        "timestamp_header": "X-HubSpot-Request-Timestamp",
        "timestamp_unit": "ms",
        "signed_payload": "{method}{uri}{body}{timestamp}",
        "uri_decode": True,
        "tolerance_seconds": 300,
    },
    "batch": True,
    "event_type": {"path": "subscriptionType"},
    "event_id": {"path": "eventId", "required": True},
}

CONNECTOR = Connector(
    name="hubspot",
    operations=OPERATIONS,
    settings=HubSpotSettings,
    build=build_api,
    sandbox=SANDBOX,
    webhook_presets={"hubspot": WEBHOOK_PRESET},
)
