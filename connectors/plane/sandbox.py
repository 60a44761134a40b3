"""The Plane sandbox: an ASGI app that answers as Plane's API (``/api/v1``) does.

Point the connector at it by setting ``PLANE_BASE_URL`` to where it runs. It serves,
under ``/api/v1/workspaces/{slug}/``:

- ``projects/`` and ``projects/{id}/`` (a new project gets Plane's five default states);
- ``projects/{id}/work-items/`` (also as ``issues/``), ``states/``, ``labels/``, and
  ``work-items/{id}/comments/``, each with ``{id}/`` for GET, PATCH and DELETE (204);
- list answers as cursor pages (``per_page`` up to 100, ``cursor=value:offset:is_prev``),
  newest first; ``fields=`` and ``expand=`` on reads; work items looked up by
  ``?external_id=&external_source=`` (one object, or 404), and a create that repeats an
  existing ``external_source``/``external_id`` pair answers 409 with the existing id;
- ``/api/v1/users/me/``.

Every call needs a known ``X-API-Key`` (401 otherwise, not metered). Each key has its
own rolling quota (60 a minute): admitted answers carry ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (UTC epoch seconds, now + the window, as Plane sends it); refused
ones get 429 with ``Retry-After``. Faults and the call log are steered through
``/_sandbox/`` (``?workspace=`` picks the workspace for state and seed).

Strict mode (``strict``, ``PLANE_SANDBOX_STRICT``) answers only what Plane's reference
documents: query parameters other than ``per_page``, ``cursor``, ``fields`` and
``expand`` are ignored (``order_by`` too, and ``external_id``/``external_source``: a lookup
by them answers the project's work items as cursor pages), a create that repeats an
external id pair is not refused with 409, every answer carries the rate-limit headers
("communicated in the response headers of each API request"), and a refused call gets
429 without ``Retry-After`` (the reference names none).

Run it alone with ``hub sandbox plane``; settings come from ``PLANE_SANDBOX_*`` variables.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

from pydantic import Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.plane.sandbox_records import PlaneRecords
from connectors.plane.sandbox_rules import (
    KINDS,
    NOT_FOUND,
    Kind,
    cursor_page,
    detail,
    error,
    field_errors,
    ordered,
    shape,
    split_list,
    throttled,
    writable,
)
from hub.sandbox import (
    METHODS,
    BadInput,
    Clock,
    Gate,
    Naming,
    QuotaDecision,
    SandboxConfig,
    SandboxCore,
    build_core,
    config_from_env,
    control_mount,
    read_object,
    sandbox_app,
)

__all__ = ["ENV_PREFIX", "PlaneSandboxConfig", "create_app", "create_app_from_env"]

ENV_PREFIX = "PLANE_SANDBOX_"
NAMING = Naming()
_ITEM_KINDS = {
    "work-items": "work-items",
    "issues": "work-items",
    "states": "states",
    "labels": "labels",
}


class PlaneSandboxConfig(SandboxConfig):
    """Everything the Plane sandbox can be told; env names are ``PLANE_SANDBOX_<FIELD>``."""

    api_keys: list[str] = Field(default_factory=lambda: ["plane_api_sandbox"], min_length=1)
    workspaces: list[str] = Field(default_factory=lambda: ["sandbox"], min_length=1)
    quota_limit: int = Field(default=60, ge=1)
    quota_window_seconds: float = Field(default=60, gt=0)
    max_per_page: int = Field(default=100, ge=1)
    #: records (as the API shows them, ``id`` included) seeded into the first workspace
    initial_data: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)


class _PlaneApi:
    """Plane's rules: the API key, workspaces, paths, and record checks."""

    def __init__(self, config: PlaneSandboxConfig, core: SandboxCore) -> None:
        self.config = config
        self.core = core
        self.keys = set(config.api_keys)
        self.records = PlaneRecords(core.store, core.rng, NAMING)
        self.tables = self.records.tables

    async def identify(self, request: Request) -> str | None:
        key = request.headers.get("x-api-key")
        return key if key in self.keys else None

    def rate_headers(self, decision: QuotaDecision) -> Mapping[str, str]:
        if not decision.allowed and not self.config.strict:
            return {}
        now = self.core.clock.now().timestamp()
        if decision.allowed:
            reset = math.floor(now + self.core.quota.window)
        else:  # when a call is admitted again
            reset = math.ceil(now + decision.retry_after)
        return {"X-RateLimit-Remaining": str(decision.remaining), "X-RateLimit-Reset": str(reset)}

    async def dispatch(self, request: Request, client: str | None) -> Response:
        if not request.headers.get("x-api-key"):
            return detail(401, "Authentication credentials were not provided.")
        if client is None:
            return detail(401, "Given API token is not valid")
        path = request.url.path
        if not path.endswith("/"):
            return detail(404, "Not found. Plane paths end with '/'.")
        parts = path.removeprefix("/api/v1/").strip("/").split("/")
        try:
            if parts == ["users", "me"] and request.method == "GET":
                return JSONResponse(
                    {
                        "id": "sandbox-user",
                        "display_name": "sandbox",
                        "email": "sandbox@example.com",
                    }
                )
            if len(parts) < 3 or parts[0] != "workspaces" or parts[2] != "projects":
                return detail(404, "Not found.")
            slug = parts[1]
            if slug not in self.config.workspaces:
                return error(404, NOT_FOUND)
            return await self._route(request, slug, parts[3:])
        except BadInput as exc:
            return error(exc.status, exc.message)

    async def _route(self, request: Request, ns: str, rest: list[str]) -> Response:
        if not rest:
            return await self._collection(request, ns, KINDS["projects"], {})
        project_id, tail = rest[0], rest[1:]
        if self.tables["projects"].get(ns, project_id) is None:
            return error(404, NOT_FOUND)
        if not tail:
            return await self._item(request, ns, KINDS["projects"], project_id, {})
        kind_name = _ITEM_KINDS.get(tail[0])
        if kind_name is None:
            return detail(404, "Not found.")
        kind, where = KINDS[kind_name], {"project": project_id}
        if kind_name == "work-items" and len(tail) >= 3 and tail[2] == "comments":
            if self.tables["work-items"].get(ns, tail[1], where) is None:
                return error(404, NOT_FOUND)
            kind, where, tail = KINDS["comments"], {**where, "issue": tail[1]}, tail[2:]
        if len(tail) == 1:
            return await self._collection(request, ns, kind, where)
        if len(tail) == 2:
            return await self._item(request, ns, kind, tail[1], where)
        return detail(404, "Not found.")

    def _conflict_answer(
        self, ns: str, where: Mapping[str, Any], body: Mapping[str, Any], exclude: str = ""
    ) -> Response | None:
        existing = self.records.conflict(ns, where, body, exclude)
        if existing is None:
            return None
        message = "Issue with the same external id and external source already exists"
        return JSONResponse({"error": message, "id": existing["id"]}, status_code=409)

    def _lookup(self, ns: str) -> Any:
        return lambda resource, record_id: self.tables[resource].get(ns, record_id)

    def _shape(self, request: Request, ns: str, kind: Kind, record: dict[str, Any]) -> Any:
        params = request.query_params
        fields, expand = split_list(params.get("fields")), split_list(params.get("expand"))
        return shape(kind, record, fields, expand, self._lookup(ns))

    async def _collection(
        self, request: Request, ns: str, kind: Kind, where: dict[str, Any]
    ) -> Response:
        table = self.tables[kind.resource]
        if request.method == "GET":
            params = request.query_params
            if (
                kind.resource == "work-items"
                and not self.config.strict
                and params.get("external_id")
                and params.get("external_source")
            ):
                found = self.records.external(
                    ns, where, params["external_source"], params["external_id"]
                )
                if found is None:
                    return error(404, NOT_FOUND)
                return JSONResponse(self._shape(request, ns, kind, found))
            records = list(reversed(table.list(ns, where)))  # newest first, as created_at ties
            order_by = kind.order_by if self.config.strict else params.get("order_by")
            order_by = order_by or kind.order_by
            if order_by.lstrip("-") in kind.fields:
                records = ordered(records, order_by)
            page = cursor_page(records, params, max_per_page=self.config.max_per_page)
            page["results"] = [self._shape(request, ns, kind, r) for r in page["results"]]
            return JSONResponse(page)
        if request.method != "POST":
            return detail(405, f'Method "{request.method}" not allowed.')
        body = await self._checked(request, ns, kind, where)
        if isinstance(body, Response):
            return body
        if kind.resource == "work-items":
            body = self.records.new_work_item(ns, where, body)
        record = table.create(ns, {**kind.defaults, **body, "workspace": ns}, where)
        if kind.resource == "projects":
            self.records.default_states(ns, record["id"])
        return JSONResponse(record, status_code=201)

    async def _item(
        self, request: Request, ns: str, kind: Kind, record_id: str, where: dict[str, Any]
    ) -> Response:
        table = self.tables[kind.resource]
        record = table.get(ns, record_id, where)
        if record is None:
            return error(404, NOT_FOUND)
        if request.method == "GET":
            return JSONResponse(self._shape(request, ns, kind, record))
        if request.method == "DELETE":
            table.delete(ns, record_id, where)
            return Response(status_code=204)
        if request.method != "PATCH":
            return detail(405, f'Method "{request.method}" not allowed.')
        body = await self._checked(request, ns, kind, where, record)
        if isinstance(body, Response):
            return body
        return JSONResponse(table.update(ns, record_id, body, where))

    async def _checked(
        self,
        request: Request,
        ns: str,
        kind: Kind,
        where: dict[str, Any],
        current: dict[str, Any] | None = None,
    ) -> dict[str, Any] | Response:
        """The fields of a create (or of a patch of ``current``), or Plane's 400/409."""
        body = writable(kind, await read_object(request))
        errors = {
            **field_errors(kind, body, partial=current is not None),
            **self.records.ref_errors(ns, kind, body, where),
        }
        if errors:
            return JSONResponse(errors, status_code=400)
        if (
            kind.resource == "work-items"
            and not self.config.strict
            and (current is None or body.get("external_id"))
        ):
            merged = {**(current or {}), **body}
            conflict = self._conflict_answer(
                ns, where, merged, exclude=(current or {}).get("id", "")
            )
            if conflict is not None:
                return conflict
        return body


def create_app(
    config: PlaneSandboxConfig | None = None,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> Starlette:
    """A fresh Plane sandbox; its :class:`SandboxCore` is at ``app.state.sandbox``."""
    cfg = config or PlaneSandboxConfig()
    core = build_core(
        cfg,
        resources=KINDS,
        default_namespace=cfg.workspaces[0],
        clock=clock,
        rng=rng,
        accept=NAMING.take,
    )
    api = _PlaneApi(cfg, core)
    gate = Gate(
        core,
        api.identify,
        rate_headers=api.rate_headers,
        refused=throttled,
        error=error,
        retry_after=not cfg.strict,
    )
    control = control_mount(
        core, ("workspace", "namespace"), present=NAMING.show, accept=NAMING.take
    )
    route = Route("/api/v1/{path:path}", gate.endpoint(api.dispatch), methods=METHODS)
    return sandbox_app(core, cfg, [control, route])


def create_app_from_env() -> Starlette:
    """A sandbox configured from ``PLANE_SANDBOX_*`` environment variables (a uvicorn factory)."""
    return create_app(config_from_env(PlaneSandboxConfig, ENV_PREFIX))
