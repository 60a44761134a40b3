"""Plane: projects, work items, states, labels and comments, on the shared HTTP layer."""

from __future__ import annotations

from connectors.plane.api import build_api
from connectors.plane.resources import OPERATIONS
from hub.connector.declaration import Connector

__all__ = ["CONNECTOR"]


CONNECTOR = Connector(
    name="plane", operations=OPERATIONS, build=build_api, settings_prefix="PLANE_"
)
