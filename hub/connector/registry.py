"""Finds the installed connectors, and their operations by the names workflows ``use``.

Connectors are plug-ins: a distribution registers each one under the ``hub.connectors``
entry-point group (``acme = "acme_connector:CONNECTOR"`` in its ``pyproject.toml``), the
way pytest finds plugins, so ``pip install`` adds a connector and nothing in the hub
names one. A connector is imported the first time it is asked for; one that fails to load
is a :class:`ConfigError` naming its entry point.
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from pydantic_settings import BaseSettings

from hub.connector.declaration import AnyOperation, Connector
from hub.core import ConfigError, Settings

if TYPE_CHECKING:
    from hub.sandbox import Sandbox

__all__ = [
    "GROUP",
    "all_operations",
    "connector_names",
    "connectors",
    "discovered",
    "get_connector",
    "get_operation",
    "sandboxes",
    "settings_classes",
]

#: the entry-point group connectors register under
GROUP = "hub.connectors"

#: above this many operations, an unknown-operation error lists one resource's
_MAX_LISTED = 15


@cache
def discovered() -> dict[str, EntryPoint]:
    """The connectors installed: name -> entry point, by name."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=GROUP):
        other = found.get(point.name)
        if other is not None and other.value != point.value:
            raise ConfigError(
                f"two connectors are registered as '{point.name}' ({GROUP}): "
                f"{other.value} and {point.value}"
            )
        found[point.name] = point
    return dict(sorted(found.items()))


def connector_names() -> list[str]:
    """The names of the installed connectors, sorted."""
    return list(discovered())


@cache
def get_connector(name: str) -> Connector[Any]:
    """The connector called ``name``; :class:`ConfigError` listing the known ones if none,
    or saying what is wrong with a plug-in that does not load."""
    point = discovered().get(name)
    if point is None:
        known = ", ".join(connector_names()) or "none installed"
        raise ConfigError(f"unknown connector '{name}' (known connectors: {known})")
    where = f"connector '{name}' ({GROUP}: {point.value})"
    try:
        loaded = point.load()
    except Exception as exc:
        raise ConfigError(f"{where} does not load: {type(exc).__name__}: {exc}") from exc
    if not isinstance(loaded, Connector):
        raise ConfigError(f"{where} is a {type(loaded).__name__}, not a Connector")
    if loaded.name != name:
        raise ConfigError(f"{where} declares the name '{loaded.name}'")
    return loaded


def connectors() -> list[Connector[Any]]:
    """Every installed connector, by name."""
    return [get_connector(name) for name in connector_names()]


def sandboxes() -> dict[str, Sandbox[Any]]:
    """Connector name -> its sandbox, for the connectors that have one."""
    return {c.name: c.sandbox for c in connectors() if c.sandbox is not None}


def settings_classes() -> list[type[BaseSettings]]:
    """The hub's settings class, then each connector's that has settings."""
    return [Settings, *(c.settings for c in connectors() if c.settings.model_fields)]


def all_operations() -> list[str]:
    """Every ``connector.operation`` name, sorted."""
    return sorted(f"{c.name}.{op}" for c in connectors() for op in c.operations)


def get_operation(uses: str) -> tuple[Connector[Any], AnyOperation]:
    """Resolve ``crm.contacts.create`` to its connector and operation."""
    connector_name, _, op_name = uses.partition(".")
    connector = get_connector(connector_name)
    op = connector.operations.get(op_name)
    if op is None:
        close = difflib.get_close_matches(op_name, list(connector.operations), n=1)
        hint = f" (did you mean '{connector_name}.{close[0]}'?)" if close else ""
        raise ConfigError(f"unknown operation '{uses}'{hint}; {_offers(connector, op_name)}")
    return connector, op


def _offers(connector: Connector[Any], op_name: str) -> str:
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
