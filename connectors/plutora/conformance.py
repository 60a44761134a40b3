"""What the connector conformance suite (:mod:`hub.testing.conformance`) needs of Plutora."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from connectors.plutora import CONNECTOR
from connectors.plutora.api import SERVICE, PlutoraApi, build_api
from connectors.plutora.sandbox import PlutoraSandboxConfig, create_app
from hub.core.settings import Settings
from hub.testing.conformance import Conformance, Paging, Probe, RoundTrip

__all__ = ["CONFORMANCE"]

USER, PASSWORD = "conformance@example.com", "conformance-password"


def _api(base_url: str, redis: Any, *, wrong_credential: str | None = None) -> PlutoraApi:
    settings = Settings(
        plutora_auth_url=f"{base_url}/oauth/token",
        plutora_base_url=base_url,
        plutora_client_id="conformance-client",
        plutora_client_secret=SecretStr("conformance-secret"),
        plutora_username=USER,
        plutora_password=SecretStr(wrong_credential or PASSWORD),
    )
    return build_api(settings, redis)


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
