"""Connector sandboxes served on loopback for tests, with their control routes at hand."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from starlette.types import ASGIApp

from hub.connector.declaration import Connector
from hub.sandbox.serve import serve_in_thread

__all__ = ["Served", "operate", "serve"]


class Served:
    """One served sandbox: its base URL and its ``/_sandbox/`` control routes."""

    def __init__(self, url: str) -> None:
        self.url = url

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call a control route (``reset``, ``seed``, ``faults``, ``state/...``); its JSON."""
        return httpx.request(method, f"{self.url}/_sandbox/{path}", json=body).json()

    def calls(self) -> list[dict[str, Any]]:
        """Every API call the sandbox received, oldest first."""
        calls: list[dict[str, Any]] = self.control("GET", "calls")["calls"]
        return calls


@contextmanager
def serve(app: ASGIApp) -> Iterator[Served]:
    """Serve ``app`` on a free loopback port for the block."""
    with serve_in_thread(app) as url:
        yield Served(url)


def operate(connector: Connector[Any], api: Any, uses: str, /, **args: Any) -> Any:
    """Call ``connector``'s operation ``uses`` as a step does: input validated, then called."""
    operation = connector.operations[uses]
    return operation.call(api, operation.input.model_validate(args))
