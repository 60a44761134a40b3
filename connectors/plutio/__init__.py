"""Plutio: people, companies, projects, invoices and the rest, on the shared HTTP layer."""

from __future__ import annotations

from connectors.plutio.api import build_api
from connectors.plutio.operations import OPERATIONS
from hub.connector.declaration import Connector

__all__ = ["CONNECTOR"]


CONNECTOR = Connector(
    name="plutio", operations=OPERATIONS, build=build_api, settings_prefix="PLUTIO_"
)
