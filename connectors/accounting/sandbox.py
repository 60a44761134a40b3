"""An accounting endpoint sandbox: takes rows by POST, de-duplicating by ``Idempotency-Key``.

- ``POST /{path}`` with a JSON object and an ``Idempotency-Key`` header: 201 with
  ``{"id", "key", "entry"}``; the same key again answers the first answer with 200 and
  ``Idempotent-Replayed: true`` (a different body under a used key: 422); no key: 400.
  With a ``token`` configured, ``Authorization: Bearer <token>`` is required (401).
- ``/_sandbox/``: ``GET state`` (every entry, in arrival order), ``GET calls`` (every
  POST: path, key, status), ``POST faults`` ``{"fail_next": n, "status": 500}`` (the
  next n POSTs fail), ``POST reset``.

Run it with ``hub sandbox accounting``; ``ACCOUNTING_SANDBOX_TOKEN`` sets the token.
"""

from __future__ import annotations

import hmac
import json
import os
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["create_app", "create_app_from_env"]


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.by_key: dict[str, dict[str, Any]] = {}
        self.calls: list[dict[str, Any]] = []
        self.fail_next = 0
        self.fail_status = 500


def create_app(token: str | None = None) -> Starlette:
    """A fresh sandbox; ``token``: the bearer token it requires, if any."""
    state = _State()

    def refuse(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def post(request: Request) -> Response:
        path = request.path_params["path"]
        key = request.headers.get("idempotency-key", "")
        if token is not None:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), token.encode()):
                return refuse(401, "a valid bearer token is required")
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return refuse(400, "the body is not JSON")
        with state.lock:
            call = {"path": path, "key": key}
            state.calls.append(call)
            if state.fail_next > 0:
                state.fail_next -= 1
                call["status"] = state.fail_status
                return refuse(state.fail_status, "injected failure")
            if not key:
                call["status"] = 400
                return refuse(400, "an Idempotency-Key header is required")
            if not isinstance(body, dict):
                call["status"] = 400
                return refuse(400, "the body must be a JSON object")
            seen = state.by_key.get(key)
            if seen is not None:
                if seen["body"] != body:
                    call["status"] = 422
                    return refuse(422, f"Idempotency-Key {key} was used with another body")
                call["status"] = 200
                return JSONResponse(
                    seen["answer"], status_code=200, headers={"Idempotent-Replayed": "true"}
                )
            answer = {"id": len(state.entries) + 1, "key": key, "entry": body}
            state.entries.append({"path": path, **body})
            state.by_key[key] = {"body": body, "answer": answer}
            call["status"] = 201
            return JSONResponse(answer, status_code=201)

    async def entries(request: Request) -> Response:
        with state.lock:
            return JSONResponse(list(state.entries))

    async def calls(request: Request) -> Response:
        with state.lock:
            return JSONResponse(list(state.calls))

    async def faults(request: Request) -> Response:
        update = json.loads(await request.body() or b"{}")
        with state.lock:
            state.fail_next = int(update.get("fail_next", 0))
            state.fail_status = int(update.get("status", 500))
            return JSONResponse({"fail_next": state.fail_next, "status": state.fail_status})

    async def reset(request: Request) -> Response:
        with state.lock:
            state.reset()
        return JSONResponse({"reset": True})

    return Starlette(
        routes=[
            Route("/_sandbox/state", entries, methods=["GET"]),
            Route("/_sandbox/calls", calls, methods=["GET"]),
            Route("/_sandbox/faults", faults, methods=["POST"]),
            Route("/_sandbox/reset", reset, methods=["POST"]),
            Route("/{path:path}", post, methods=["POST"]),
        ]
    )


def create_app_from_env() -> Starlette:
    """A sandbox whose token is ``ACCOUNTING_SANDBOX_TOKEN`` (a uvicorn factory)."""
    return create_app(os.environ.get("ACCOUNTING_SANDBOX_TOKEN") or None)
