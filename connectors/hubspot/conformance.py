"""What the connector conformance suite (:mod:`hub.testing.conformance`) needs of HubSpot."""

from __future__ import annotations

from typing import Any

from connectors.hubspot import CONNECTOR
from connectors.hubspot.api import SERVICE, HubSpotApi, build_api
from connectors.hubspot.sandbox import HubSpotSandboxConfig, create_app
from connectors.hubspot.settings import HubSpotSettings
from hub.core import Settings, isolated
from hub.testing import Conformance, Paging, Probe

__all__ = ["CONFORMANCE"]

TOKEN = "pat-conformance-hubspot"


def _api(base_url: str, redis: Any, *, wrong_credential: str | None = None) -> HubSpotApi:
    settings = isolated(
        HubSpotSettings,
        {"HUBSPOT_BASE_URL": base_url, "HUBSPOT_ACCESS_TOKEN": wrong_credential or TOKEN},
    )
    return build_api(settings, isolated(Settings, {}), redis)


def _contact(n: int) -> dict[str, Any]:
    return {"id": str(20_000 + n), "properties": {"email": f"c{n}@example.com"}}


CONFORMANCE = Conformance(
    connector=CONNECTOR,
    service=SERVICE,
    sandbox=lambda: create_app(HubSpotSandboxConfig(tokens=[TOKEN], quota_limit=1000)),
    api=_api,
    probe=Probe(
        "contacts.search", {"limit": 10_000}, path="/crm/v3/objects/contacts/search", method="POST"
    ),
    paging=Paging("contacts", _contact),
)
