"""Answers sandboxes share: JSON errors, and a connection dropped mid-answer.

ASGI gives an app no way to close a socket before answering: servers answer 500 when an
app fails before starting its response. :class:`DroppedResponse` therefore starts a
response that promises a body, then raises :class:`DroppedConnection`. Under uvicorn the
socket closes with the body missing, so an HTTP client sees a protocol error (httpx:
``RemoteProtocolError``). In-process transports (``httpx.ASGITransport``, Starlette's
``TestClient``) re-raise the app's exception; being an ``httpx.RemoteProtocolError``
itself, it reaches the caller as the same transport error.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import httpx
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

__all__ = [
    "DroppedConnection",
    "DroppedResponse",
    "json_error",
    "quiet_dropped_connections",
    "reason",
]


def reason(status: int) -> str:
    """The standard reason phrase for ``status`` (``"Error"`` if unknown)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def json_error(
    status: int, message: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """``{"code": status, "message": ...}``: the kit's default error shape."""
    body: dict[str, Any] = {"code": status, "message": message or reason(status)}
    return JSONResponse(body, status_code=status, headers=headers)


class DroppedConnection(httpx.RemoteProtocolError):
    """The sandbox dropped the connection on purpose (an injected fault)."""


class DroppedResponse(Response):
    """Starts an answer, then fails before its body, so the connection is cut."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
            }
        )
        method = str(scope.get("method", "GET"))
        path = str(scope.get("path", "/"))
        request = httpx.Request(method, f"http://sandbox{path}")
        raise DroppedConnection(
            "connection dropped by the sandbox (injected fault)", request=request
        )


def _not_a_drop(record: logging.LogRecord) -> bool:
    exc = record.exc_info[1] if record.exc_info else None
    return not isinstance(exc, DroppedConnection)


def quiet_dropped_connections(logger_name: str = "uvicorn.error") -> None:
    """Keep the server's log free of tracebacks for drops made on purpose (idempotent)."""
    logging.getLogger(logger_name).addFilter(_not_a_drop)
