"""Finds connectors and their operations by the names workflows ``use``."""

from __future__ import annotations

import difflib
import importlib
from functools import cache

from hub.connector import Connector, Operation
from hub.errors import ConfigError

__all__ = ["CONNECTOR_MODULES", "all_operations", "get_connector", "get_operation"]

#: connector name -> module exposing ``CONNECTOR``
CONNECTOR_MODULES: dict[str, str] = {
    "core": "hub.core_connector",
    "plutio": "connectors.plutio",
}


@cache
def get_connector(name: str) -> Connector:
    """The connector called ``name``; :class:`ConfigError` listing the known ones if none."""
    module_name = CONNECTOR_MODULES.get(name)
    if module_name is None:
        known = ", ".join(sorted(CONNECTOR_MODULES))
        raise ConfigError(f"unknown connector '{name}' (known connectors: {known})")
    connector: Connector = importlib.import_module(module_name).CONNECTOR
    return connector


def all_operations() -> list[str]:
    """Every ``connector.operation`` name, sorted."""
    return sorted(
        f"{name}.{op}" for name in CONNECTOR_MODULES for op in get_connector(name).operations
    )


def get_operation(uses: str) -> tuple[Connector, Operation]:
    """Resolve ``plutio.people.create`` to its connector and operation."""
    connector_name, _, op_name = uses.partition(".")
    connector = get_connector(connector_name)
    op = connector.operations.get(op_name)
    if op is None:
        close = difflib.get_close_matches(op_name, list(connector.operations), n=1)
        hint = f" (did you mean '{connector_name}.{close[0]}'?)" if close else ""
        known = ", ".join(sorted(connector.operations))
        raise ConfigError(f"unknown operation '{uses}'{hint}; {connector_name} offers: {known}")
    return connector, op
