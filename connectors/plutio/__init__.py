"""Plutio: people, companies, projects, invoices and the rest, on the shared HTTP layer."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.plutio.api import build_api
from connectors.plutio.operations import OPERATIONS
from hub.connector import Connector
from hub.settings import Settings

__all__ = ["CONNECTOR"]


def _build(settings: Settings, redis: Any, *, transport: httpx.BaseTransport | None = None) -> Any:
    return build_api(settings, redis, transport=transport)


CONNECTOR = Connector(name="plutio", operations=OPERATIONS, build=_build, settings_prefix="PLUTIO_")
