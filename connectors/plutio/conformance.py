"""What the connector conformance suite (:mod:`hub.testing.conformance`) needs of Plutio."""

from __future__ import annotations

from typing import Any

from connectors.plutio import CONNECTOR
from connectors.plutio.api import SERVICE, PlutioApi, build_api
from connectors.plutio.sandbox import PlutioSandboxConfig, create_app
from connectors.plutio.settings import PlutioSettings
from hub.core import Settings, isolated
from hub.testing import Conformance, Paging, Probe, RoundTrip

__all__ = ["CONFORMANCE"]

SECRET = "conformance-secret"


def _api(base_url: str, redis: Any, *, wrong_credential: str | None = None) -> PlutioApi:
    settings = isolated(
        PlutioSettings,
        {
            "PLUTIO_BASE_URL": base_url,
            "PLUTIO_CLIENT_ID": "conformance-client",
            "PLUTIO_CLIENT_SECRET": wrong_credential or SECRET,
            "PLUTIO_BUSINESS": "conformance",
        },
    )
    return build_api(settings, isolated(Settings, {}), redis)


CONFORMANCE = Conformance(
    connector=CONNECTOR,
    service=SERVICE,
    sandbox=lambda: create_app(
        PlutioSandboxConfig(
            client_id="conformance-client", client_secret=SECRET, businesses=["conformance"]
        )
    ),
    api=_api,
    probe=Probe("people.list", {}, path="/people", method="GET"),
    id_field="_id",
    token_path="/oauth/token",
    paging=Paging("people", lambda n: {"name": {"first": f"P{n}"}}),
    round_trip=RoundTrip("people", create={"name": {"first": "Ada"}}, change={"role": "lead"}),
)
