"""Finds connectors and their operations by the names workflows ``use``."""

from __future__ import annotations

import difflib
import importlib
from functools import cache

from hub.connector.declaration import AnyOperation, Connector
from hub.core.errors import ConfigError

__all__ = ["CONNECTOR_MODULES", "all_operations", "get_connector", "get_operation"]

#: above this many operations, an unknown-operation error lists one resource's
_MAX_LISTED = 15

#: connector name -> module exposing ``CONNECTOR``
CONNECTOR_MODULES: dict[str, str] = {
    "core": "connectors.core",
    "plutio": "connectors.plutio",
    "plane": "connectors.plane",
    "plutora": "connectors.plutora",
    "accounting": "connectors.accounting",
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


def get_operation(uses: str) -> tuple[Connector, AnyOperation]:
    """Resolve ``plutio.people.create`` to its connector and operation."""
    connector_name, _, op_name = uses.partition(".")
    connector = get_connector(connector_name)
    op = connector.operations.get(op_name)
    if op is None:
        close = difflib.get_close_matches(op_name, list(connector.operations), n=1)
        hint = f" (did you mean '{connector_name}.{close[0]}'?)" if close else ""
        raise ConfigError(f"unknown operation '{uses}'{hint}; {_offers(connector, op_name)}")
    return connector, op


def _offers(connector: Connector, op_name: str) -> str:
    """What ``connector`` offers, narrowed to one resource when it has many operations."""
    names = sorted(connector.operations)
    if len(names) <= _MAX_LISTED:
        return f"{connector.name} offers: {', '.join(names)}"
    resource = op_name.rpartition(".")[0]
    same = [n for n in names if n.rpartition(".")[0] == resource]
    if same:
        return f"{connector.name}.{resource} offers: {', '.join(same)}"
    resources = sorted({n.rpartition(".")[0] for n in names if "." in n})
    return (
        f"{connector.name} offers operations on: {', '.join(resources)} "
        "(`hub operations` lists them all)"
    )
