"""What the connector conformance suite (:mod:`hub.testing.conformance`) needs of Plutora."""

from __future__ import annotations

from typing import Any

from connectors.plutora import CONNECTOR
from connectors.plutora.api import SERVICE, PlutoraApi, build_api
from connectors.plutora.sandbox import PlutoraSandboxConfig, create_app
from connectors.plutora.settings import PlutoraSettings
from hub.core import Settings, isolated
from hub.testing import Conformance, Paging, Probe, RoundTrip

__all__ = ["CONFORMANCE"]

USER, PASSWORD = "conformance@example.com", "conformance-password"


def _api(base_url: str, redis: Any, *, wrong_credential: str | None = None) -> PlutoraApi:
    settings = isolated(
        PlutoraSettings,
        {
            "PLUTORA_AUTH_URL": f"{base_url}/oauth/token",
            "PLUTORA_BASE_URL": base_url,
            "PLUTORA_CLIENT_ID": "conformance-client",
            "PLUTORA_CLIENT_SECRET": "conformance-secret",
            "PLUTORA_USERNAME": USER,
            "PLUTORA_PASSWORD": wrong_credential or PASSWORD,
        },
    )
    return build_api(settings, isolated(Settings, {}), redis)


CONFORMANCE = Conformance(
    connector=CONNECTOR,
    service=SERVICE,
    sandbox=lambda: create_app(
        PlutoraSandboxConfig(
            client_id="conformance-client",
            client_secret="conformance-secret",
            users={USER: PASSWORD},
        )
    ),
    api=_api,
    probe=Probe("releases.list", {}, path="/releases", method="GET"),
    token_path="/oauth/token",
    paging=Paging(
        "releases",
        lambda n: {
            "identifier": f"R-{n}",
            "name": f"Release {n}",
            "implementationDate": "2025-05-01",
        },
    ),
    round_trip=RoundTrip(
        "releases",
        create={"identifier": "R-1", "name": "Spring", "implementationDate": "2025-05-01"},
        change={"name": "Summer"},
    ),
)
