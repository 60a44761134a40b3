"""Plane: projects, work items, states, labels and comments, on the shared HTTP layer."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.plane.api import build_api
from connectors.plane.resources import OPERATIONS
from hub.connector import Connector
from hub.settings import Settings

__all__ = ["CONNECTOR"]


def _build(settings: Settings, redis: Any, *, transport: httpx.BaseTransport | None = None) -> Any:
    return build_api(settings, redis, transport=transport)


CONNECTOR = Connector(name="plane", operations=OPERATIONS, build=_build, settings_prefix="PLANE_")
