"""What the connector conformance suite (:mod:`hub.testing.conformance`) needs of
``http.request``, against the webhook sandbox.

An incoming webhook's credential is its URL: the wrong one is a hook that does not
exist, which the endpoint answers ``404 no_service``.
"""

from __future__ import annotations

from typing import Any

from connectors.http import CONNECTOR, HttpRequestApi
from connectors.http.request import SERVICE
from connectors.http.sandbox import create_app
from connectors.http.settings import HttpRequestSettings
from hub.core import Settings, isolated
from hub.testing import Conformance, Probe

__all__ = ["CONFORMANCE"]

HOOK = "/services/T0CONFORM/B0CONFORM/conformance"
MESSAGE = {"url": f"https://hooks.example.com{HOOK}", "json": {"text": "conformance"}}


def _api(base_url: str, redis: Any, *, wrong_credential: str | None = None) -> HttpRequestApi:
    # a wrong credential is a wrong hook URL: the same path under another prefix
    send_to = f"{base_url}/{wrong_credential}" if wrong_credential else base_url
    settings = isolated(HttpRequestSettings, {"HTTP_REQUEST_SEND_TO": send_to})
    api: HttpRequestApi = CONNECTOR.build(settings, isolated(Settings, {}), redis)
    return api


CONFORMANCE = Conformance(
    connector=CONNECTOR,
    service=SERVICE,
    sandbox=create_app,
    api=_api,
    probe=Probe("request", MESSAGE, path=HOOK, method="POST"),
    budget=False,  # no quota unless a step names one
)
