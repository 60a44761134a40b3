"""Connectors as plug-ins: what a connector declares (:mod:`~hub.connector.declaration`),
the entry-point registry that finds them (:mod:`~hub.connector.registry`), where their
settings come from (:mod:`~hub.connector.configure`), the shared record-operation
generator (:mod:`~hub.connector.crud`), the operations listing, and what upserts created
lately (:mod:`~hub.connector.created`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.core import lazy_exports

if TYPE_CHECKING:
    from hub.connector.configure import SettingsFor, from_environment, from_values
    from hub.connector.created import MISSES_KEY, CreatedRecords, record_matches
    from hub.connector.crud import matching, per_record
    from hub.connector.declaration import AnyOperation, Connector, Operation, operation_table
    from hub.connector.operations_doc import operations_listing, operations_table
    from hub.connector.registry import (
        all_operations,
        connectors,
        get_connector,
        get_operation,
        sandboxes,
        settings_classes,
    )

__all__ = [
    "MISSES_KEY",
    "AnyOperation",
    "Connector",
    "CreatedRecords",
    "Operation",
    "SettingsFor",
    "all_operations",
    "connectors",
    "from_environment",
    "from_values",
    "get_connector",
    "get_operation",
    "matching",
    "operation_table",
    "operations_listing",
    "operations_table",
    "per_record",
    "record_matches",
    "sandboxes",
    "settings_classes",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "configure": (
            "SettingsFor",
            "from_environment",
            "from_values",
        ),
        "created": (
            "MISSES_KEY",
            "CreatedRecords",
            "record_matches",
        ),
        "crud": (
            "matching",
            "per_record",
        ),
        "declaration": (
            "AnyOperation",
            "Connector",
            "Operation",
            "operation_table",
        ),
        "operations_doc": (
            "operations_listing",
            "operations_table",
        ),
        "registry": (
            "all_operations",
            "connectors",
            "get_connector",
            "get_operation",
            "sandboxes",
            "settings_classes",
        ),
    },
)
