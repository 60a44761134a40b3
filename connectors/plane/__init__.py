"""Plane: projects, work items, states, labels and comments, on the shared HTTP layer."""

from __future__ import annotations

from typing import Any

from connectors.plane.api import build_api
from connectors.plane.resources import OPERATIONS
from hub.connector import Connector
from hub.settings import Settings

__all__ = ["CONNECTOR"]


def _build(settings: Settings, redis: Any) -> Any:
    return build_api(settings, redis)


CONNECTOR = Connector(name="plane", operations=OPERATIONS, build=_build, settings_prefix="PLANE_")
