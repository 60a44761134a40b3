"""Where each connector's settings come from: the environment, or values a caller gives.

Whatever builds connectors (the worker's runtime, a poll, ``hub up``) takes a
:data:`SettingsFor`: :func:`from_environment` in production; :func:`from_values` in
``hub test`` and tests, which point connectors at sandboxes by the same environment names
an operator writes (``ACME_BASE_URL``), with nothing read from the machine's environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hub.connector.declaration import Connector
from hub.core import ConnectorSettings, isolated

__all__ = ["SettingsFor", "from_environment", "from_values"]

#: a connector -> its settings
SettingsFor = Callable[[Connector[Any]], ConnectorSettings]


def from_environment(connector: Connector[Any]) -> ConnectorSettings:
    """``connector``'s settings from the environment and ``.env``."""
    settings: ConnectorSettings = connector.read_settings()
    return settings


def from_values(values: Mapping[str, Any]) -> SettingsFor:
    """Each connector's settings from ``values`` (keyed by environment name) and its
    defaults alone; names of other connectors' settings are left out."""

    def settings_for(connector: Connector[Any]) -> ConnectorSettings:
        settings: ConnectorSettings = isolated(connector.settings, values)
        return settings

    return settings_for
