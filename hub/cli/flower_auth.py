"""Flower behind its login, entirely.

Flower asks for ``HUB_FLOWER_BASIC_AUTH`` on its pages and its API, but by design serves
``/metrics`` to anyone. :func:`guard_flower` puts ``/metrics`` behind the same login
(Prometheus scrapes it with ``basic_auth``), so only ``/healthcheck``, which answers
``OK`` and nothing else, and the static files stay open. :func:`login_problem` says why
Flower must not start: without a login it may run only in ``hub up``'s local mode on a
loopback address, where ``/metrics`` and the task pages are then open to this machine.
"""

from __future__ import annotations

import os
from typing import Any

import tornado.web

from hub.core import Settings
from hub.ingress import is_loopback

__all__ = ["guard_flower", "login_problem"]


def login_problem(settings: Settings, address: str) -> str | None:
    """Why Flower on ``address`` with ``settings`` would be open to too many, or None."""
    if os.environ.get("FLOWER_UNAUTHENTICATED_API") and not settings.hub_local_mode:
        return "unset FLOWER_UNAUTHENTICATED_API: Flower's API takes the same login as its pages"
    if settings.hub_flower_basic_auth is not None:
        return None
    if settings.hub_local_mode and is_loopback(address):
        return None
    return (
        "Flower needs a login: set HUB_FLOWER_BASIC_AUTH=user:password (its pages, API "
        "and /metrics show task arguments and can revoke tasks and stop workers); only "
        "`hub up` runs it without one, on loopback"
    )


def guard_flower() -> None:
    """Make Flower's ``/metrics`` ask for Flower's login (call before Flower starts)."""
    from flower import urls
    from flower.views.monitor import Metrics

    class LoginMetrics(Metrics):  # type: ignore[misc]  # flower is untyped
        """Flower's metrics, for a logged-in client only."""

        @tornado.web.authenticated
        async def get(self) -> Any:
            return await super().get()

    for index, handler in enumerate(urls.handlers):
        if isinstance(handler, tuple) and handler[1] is Metrics:
            urls.handlers[index] = (handler[0], LoginMetrics)
