"""The HTTP ingress: the ASGI app that reads a delivery, asks the intake for its plan,
stores the event and its runs atomically in Redis, and answers; plus its read views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.core import lazy_exports

if TYPE_CHECKING:
    from hub.ingress.app import create_app, create_live_app
    from hub.ingress.client_address import is_loopback
    from hub.ingress.event_store import COUNTS_KEY, check_fsync, connect, record_internal_event
    from hub.ingress.server import prepare_process

__all__ = [
    "COUNTS_KEY",
    "check_fsync",
    "connect",
    "create_app",
    "create_live_app",
    "is_loopback",
    "prepare_process",
    "record_internal_event",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "app": (
            "create_app",
            "create_live_app",
        ),
        "event_store": (
            "COUNTS_KEY",
            "check_fsync",
            "connect",
            "record_internal_event",
        ),
        "client_address": ("is_loopback",),
        "server": ("prepare_process",),
    },
)
