"""What the connector conformance suite (:mod:`hub.testing.conformance`) needs of Plane."""

from __future__ import annotations

from typing import Any

from connectors.plane import CONNECTOR
from connectors.plane.api import SERVICE, PlaneApi, build_api
from connectors.plane.sandbox import PlaneSandboxConfig, create_app
from connectors.plane.settings import PlaneSettings
from hub.core import Settings, isolated
from hub.testing import Conformance, Paging, Probe, RoundTrip

__all__ = ["CONFORMANCE"]

KEY = "plane_api_conformance"
PROJECT = {"id": "conformance-project", "name": "Conformance", "identifier": "CONF"}


def _api(base_url: str, redis: Any, *, wrong_credential: str | None = None) -> PlaneApi:
    settings = isolated(
        PlaneSettings,
        {
            "PLANE_BASE_URL": base_url,
            "PLANE_API_KEY": wrong_credential or KEY,
            "PLANE_WORKSPACE_SLUG": "conformance",
        },
    )
    return build_api(settings, isolated(Settings, {}), redis)


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
