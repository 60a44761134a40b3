"""Plutora: releases, changes, systems and environments, on the shared HTTP layer."""

from __future__ import annotations

from connectors.plutora.api import build_api
from connectors.plutora.resources import OPERATIONS
from hub.connector.declaration import Connector

__all__ = ["CONNECTOR"]


CONNECTOR = Connector(
    name="plutora", operations=OPERATIONS, build=build_api, settings_prefix="PLUTORA_"
)
