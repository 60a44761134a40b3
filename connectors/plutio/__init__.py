"""Plutio: people, companies, projects, invoices and the rest, on the shared HTTP layer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.plutio import sandbox
from connectors.plutio.api import build_api
from connectors.plutio.operations import OPERATIONS
from connectors.plutio.settings import PlutioSettings
from hub.connector import Connector
from hub.sandbox import Sandbox, record_line

__all__ = ["CONNECTOR", "SANDBOX", "WEBHOOK_PRESET"]


def _sandbox_env(url: str, config: Any) -> dict[str, str]:
    """The settings that point the connector at a sandbox at ``url``, as its client."""
    return {
        "PLUTIO_BASE_URL": url,
        "PLUTIO_CLIENT_ID": config.client_id,
        "PLUTIO_CLIENT_SECRET": config.client_secret,
        "PLUTIO_BUSINESS": config.businesses[0],
    }


def _describe(resource: str, record: Mapping[str, Any]) -> str:
    """A person as ``id  first last  <addresses>``; other records as JSON."""
    if resource != "people":
        return record_line(resource, record)
    addresses = ", ".join(e["address"] for e in record.get("contactEmails", []))
    name = record.get("name", {})
    return f"{record['_id']}  {name.get('first')} {name.get('last')}  <{addresses}>"


SANDBOX: Sandbox[PlutioSettings] = Sandbox(
    create_app=sandbox.create_app,
    config=sandbox.PlutioSandboxConfig,
    env_prefix=sandbox.ENV_PREFIX,
    port=lambda settings: settings.sandbox_port,
    port_setting="HUB_SANDBOX_PORT",
    configured=lambda settings: settings.has_credentials,
    env=_sandbox_env,
    resources=frozenset(sandbox.RESOURCES),
    describe=_describe,
)

#: Plutio's webhooks: the body is the entity; the custom header added to the webhook in
#: Plutio carries the shared secret, another the type as Plutio names the event
#: (invoice.create); no delivery id, so the entity's revision names it
WEBHOOK_PRESET = {
    "auth": {"scheme": "shared-secret", "header": "X-Webhook-Secret"},
    "event_type": {"header": "X-Event-Type"},
    "event_id": {"format": "{header:X-Event-Type}:{_id}:{updatedAt}", "fallback": "content"},
}

CONNECTOR = Connector(
    name="plutio",
    operations=OPERATIONS,
    settings=PlutioSettings,
    build=build_api,
    sandbox=SANDBOX,
    webhook_presets={"plutio": WEBHOOK_PRESET},
)
