"""Plutora: releases, changes, systems and environments, on the shared HTTP layer."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.plutora.api import build_api
from connectors.plutora.resources import OPERATIONS
from hub.connector import Connector
from hub.settings import Settings

__all__ = ["CONNECTOR"]


def _build(settings: Settings, redis: Any, *, transport: httpx.BaseTransport | None = None) -> Any:
    return build_api(settings, redis, transport=transport)


CONNECTOR = Connector(
    name="plutora", operations=OPERATIONS, build=_build, settings_prefix="PLUTORA_"
)
