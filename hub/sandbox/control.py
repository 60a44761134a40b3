"""Control routes under ``/_sandbox/``: tests and operators steer a running sandbox.

They need no auth and are neither metered nor logged. Routes (JSON in and out):

- ``POST /_sandbox/reset``: back to the start state (initial data, configured faults;
  no calls, tokens or quota use).
- ``GET /_sandbox/faults``; ``POST /_sandbox/faults`` with any :class:`FaultConfig`
  fields (those given replace the current ones); ``DELETE /_sandbox/faults`` (none).
- ``GET /_sandbox/calls?since=SEQ``: ``{"calls": [...], "last_seq", "limit",
  "window_seconds", "max_in_window": {client: {"received", "admitted"}}}``.
- ``GET /_sandbox/state`` (``{resource: [records]}``) and ``GET /_sandbox/state/{resource}``.
- ``POST /_sandbox/seed`` with ``{resource: [records]}``: answers the stored records.
- ``POST /_sandbox/expire-tokens``: ``{"expired": n}``.
- ``GET /_sandbox/quota``: per client, ``limit``, ``remaining``, ``reset_seconds``.

State and seed take the namespace from a query parameter (``?namespace=``, or the
sandbox's alias such as ``?business=``), the default namespace otherwise. A sandbox that
shows records differently from how the store keeps them (``id`` for ``_id``) passes
``present`` (and ``accept``, its inverse, for seeds): state and seed then take and show
records as its API does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from hub.sandbox.calllog import window_counts
from hub.sandbox.core import SandboxCore, UnknownResource
from hub.sandbox.responses import json_error

__all__ = ["Present", "control_mount", "control_routes"]

#: a record in one form (stored, or as the API shows it) in the other, given its resource
Present = Callable[[str, dict[str, Any]], dict[str, Any]]


def _as_stored(resource: str, record: dict[str, Any]) -> dict[str, Any]:
    return record


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    return json.loads(raw)


def control_routes(
    core: SandboxCore,
    namespace_params: Sequence[str] = ("namespace",),
    present: Present = _as_stored,
    accept: Present = _as_stored,
) -> list[BaseRoute]:
    """The control routes for ``core``, to mount at ``/_sandbox``."""
    control = _Control(core, namespace_params, present, accept)
    return [
        Route("/reset", control.reset, methods=["POST"]),
        Route("/faults", control.faults, methods=["GET", "POST", "DELETE"]),
        Route("/calls", control.calls, methods=["GET"]),
        Route("/state", control.state, methods=["GET"]),
        Route("/state/{resource}", control.state_resource, methods=["GET"]),
        Route("/seed", control.seed, methods=["POST"]),
        Route("/expire-tokens", control.expire_tokens, methods=["POST"]),
        Route("/quota", control.quota, methods=["GET"]),
    ]


class _Control:
    """The control endpoints of one sandbox (see the module's docstring)."""

    def __init__(
        self, core: SandboxCore, namespace_params: Sequence[str], present: Present, accept: Present
    ) -> None:
        self._core = core
        self._namespace_params = namespace_params
        self._present = present
        self._accept = accept

    def _namespace(self, request: Request) -> str:
        for name in self._namespace_params:
            value = request.query_params.get(name)
            if value:
                return value
        return self._core.default_namespace

    def _shown(self, data: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
        return {name: [self._present(name, r) for r in records] for name, records in data.items()}

    async def reset(self, request: Request) -> Response:
        self._core.reset()
        return JSONResponse({"reset": True})

    async def faults(self, request: Request) -> Response:
        faults = self._core.faults
        if request.method == "DELETE":
            faults.clear()
        elif request.method == "POST":
            try:
                update = await _json_body(request)
                if not isinstance(update, dict):
                    return json_error(400, "faults must be a JSON object")
                faults.set(update)
            except json.JSONDecodeError as exc:
                return json_error(400, f"invalid JSON: {exc}")
            except ValidationError as exc:
                return json_error(400, f"invalid faults: {exc}")
        return JSONResponse(faults.snapshot())

    async def calls(self, request: Request) -> Response:
        since_raw = request.query_params.get("since")
        try:
            since = int(since_raw) if since_raw not in (None, "") else None
        except ValueError:
            return json_error(400, "since must be a sequence number (an integer)")
        calls, window = self._core.calls, self._core.quota.window
        return JSONResponse(
            {
                "calls": [r.to_json() for r in calls.records(since)],
                "last_seq": calls.last_seq,
                "limit": self._core.quota.limit,
                "window_seconds": window,
                "max_in_window": window_counts(calls.records(), window),
            }
        )

    async def state(self, request: Request) -> Response:
        return JSONResponse(self._shown(self._core.store.dump(self._namespace(request))))

    async def state_resource(self, request: Request) -> Response:
        resource = request.path_params["resource"]
        if resource not in self._core.resources:
            return json_error(404, f"unknown resource '{resource}'")
        records = self._core.store.find(self._namespace(request), resource)
        return JSONResponse([self._present(resource, r) for r in records])

    async def seed(self, request: Request) -> Response:
        try:
            data = await _json_body(request)
        except json.JSONDecodeError as exc:
            return json_error(400, f"invalid JSON: {exc}")
        if not isinstance(data, dict) or not all(
            isinstance(v, list) and all(isinstance(r, dict) for r in v) for v in data.values()
        ):
            return json_error(400, "seed with {resource: [records]}")
        try:
            given = {n: [self._accept(n, r) for r in records] for n, records in data.items()}
            stored = self._core.seed_records(given, self._namespace(request))
        except UnknownResource as exc:
            return json_error(404, f"unknown resource '{exc.args[0]}'")
        return JSONResponse(self._shown(stored))

    async def expire_tokens(self, request: Request) -> Response:
        return JSONResponse({"expired": self._core.tokens.expire_all()})

    async def quota(self, request: Request) -> Response:
        usage = {}
        for key in self._core.quota.seen():
            d = self._core.quota.peek(key)
            usage[key] = {
                "limit": d.limit,
                "remaining": d.remaining,
                "reset_seconds": d.reset_seconds,
            }
        return JSONResponse(usage)


def control_mount(
    core: SandboxCore,
    namespace_params: Sequence[str] = ("namespace",),
    present: Present = _as_stored,
    accept: Present = _as_stored,
) -> Mount:
    """The control routes mounted at ``/_sandbox``."""
    return Mount("/_sandbox", routes=control_routes(core, namespace_params, present, accept))
