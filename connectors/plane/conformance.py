"""What the connector conformance suite (:mod:`hub.testing.conformance`) needs of Plane."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from connectors.plane import CONNECTOR
from connectors.plane.api import SERVICE, PlaneApi, build_api
from connectors.plane.sandbox import PlaneSandboxConfig, create_app
from hub.core.settings import Settings
from hub.testing.conformance import Conformance, Paging, Probe, RoundTrip

__all__ = ["CONFORMANCE"]

KEY = "plane_api_conformance"
PROJECT = {"id": "conformance-project", "name": "Conformance", "identifier": "CONF"}


def _api(base_url: str, redis: Any, *, wrong_credential: str | None = None) -> PlaneApi:
    settings = Settings(
        plane_base_url=base_url,
        plane_api_key=SecretStr(wrong_credential or KEY),
        plane_workspace_slug="conformance",
    )
    return build_api(settings, redis)


CONFORMANCE = Conformance(
    connector=CONNECTOR,
    service=SERVICE,
    sandbox=lambda: create_app(PlaneSandboxConfig(api_keys=[KEY], workspaces=["conformance"])),
    api=_api,
    probe=Probe("projects.list", {}, path="/api/v1/workspaces/conformance/projects/"),
    paging=Paging("projects", lambda n: {"name": f"Project {n}", "identifier": f"P{n}"}),
    round_trip=RoundTrip(
        "work_items",
        create={"name": "Conformance item"},
        change={"name": "Renamed", "priority": "high"},
        scope={"project_id": PROJECT["id"]},
        given={"projects": [PROJECT]},
    ),
)
