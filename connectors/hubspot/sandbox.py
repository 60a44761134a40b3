"""The HubSpot sandbox: an ASGI app that answers as HubSpot's CRM API does for contacts.

Point the connector at it by setting ``HUBSPOT_BASE_URL`` to where it runs. It serves:

- ``GET /crm/v3/objects/contacts/{id}`` (``properties=``, ``idProperty=``), 404 with
  HubSpot's ``OBJECT_NOT_FOUND`` for an unknown contact;
- ``GET`` and ``POST /crm/v3/objects/contacts`` (a page by ``limit``/``after``; a create
  from ``{"properties": {...}}``, 409 for an email already taken);
- ``POST /crm/v3/objects/contacts/batch/read`` (up to 100 ``inputs``; 207 with the ids
  it lacks in ``errors``);
- ``POST /crm/v3/objects/contacts/search``: ``filterGroups`` (``EQ``, ``NEQ``, ``IN``,
  ``NOT_IN``, ``HAS_PROPERTY``, ``NOT_HAS_PROPERTY``, ``CONTAINS_TOKEN``; an email compares
  whatever its case), ``query``, ``limit`` (at most 200) and ``after``; the next page's
  ``after`` in ``paging.next``.

A contact is ``{id, properties, createdAt, updatedAt, archived}``; without ``properties=``
an answer carries HubSpot's defaults (email, firstname, lastname, createdate,
lastmodifieddate, hs_object_id). Every call needs a known private app token as a bearer
token (401 ``INVALID_AUTHENTICATION`` otherwise). Each token has a burst limit (100 per
10 s) and a daily one (250,000): answers carry ``X-HubSpot-RateLimit-Max``,
``-Remaining``, ``-Interval-Milliseconds``, ``-Daily`` and ``-Daily-Remaining``; a call
over either gets 429 ``RATE_LIMIT`` naming the policy, with ``Retry-After``. Faults and
the call log are steered through ``/_sandbox/``.

Run it alone with ``hub sandbox hubspot``; settings come from ``HUBSPOT_SANDBOX_*``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from pydantic import Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.sandbox import (
    METHODS,
    BadInput,
    Clock,
    Gate,
    Naming,
    QuotaDecision,
    RollingWindowLimiter,
    SandboxConfig,
    SandboxCore,
    bearer_token,
    build_core,
    config_from_env,
    control_mount,
    read_object,
    sandbox_app,
)

__all__ = ["ENV_PREFIX", "NAMING", "HubSpotSandboxConfig", "create_app", "create_app_from_env"]

ENV_PREFIX = "HUBSPOT_SANDBOX_"
NAMING = Naming(id="id", created="createdAt", updated="updatedAt")
CONTACTS = "contacts"
DEFAULT_PROPERTIES = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)
_PREFIX = "/crm/v3/objects/contacts"


class HubSpotSandboxConfig(SandboxConfig):
    """Everything the HubSpot sandbox can be told; env names are ``HUBSPOT_SANDBOX_<FIELD>``."""

    tokens: list[str] = Field(default_factory=lambda: ["pat-sandbox-hubspot"], min_length=1)
    quota_limit: int = Field(default=100, ge=1)
    quota_window_seconds: float = Field(default=10, gt=0)
    daily_limit: int = Field(default=250_000, ge=1)
    #: contacts (as the API shows them, ``id`` included) seeded at start and on reset
    initial_data: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)


def error(status: int, message: str | None, headers: dict[str, str] | None = None) -> Response:
    """An error in HubSpot's shape."""
    categories = {
        400: "VALIDATION_ERROR",
        401: "INVALID_AUTHENTICATION",
        403: "MISSING_SCOPES",
        404: "OBJECT_NOT_FOUND",
        409: "CONFLICT",
        429: "RATE_LIMIT",
    }
    body = {
        "status": "error",
        "message": message or "internal error",
        "correlationId": "00000000-0000-4000-8000-000000000000",
        "category": categories.get(status, "INTERNAL_ERROR"),
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _rate_limited(policy: str, retry_after: str) -> Response:
    name = "ten_secondly_rolling" if policy == "TEN_SECONDLY_ROLLING" else "daily"
    response = error(429, f"You have reached your {name} limit.", {"Retry-After": retry_after})
    response.headers["X-HubSpot-Policy"] = policy
    return response


def _refused(decision: QuotaDecision) -> Response:
    return _rate_limited("TEN_SECONDLY_ROLLING", decision.retry_after_header)


def _property_match(value: Any, operator: str, wanted: Any, values: list[Any]) -> bool:
    text = None if value is None else str(value).lower()

    def norm(x: Any) -> str:
        return str(x).lower()

    checks = {
        "EQ": lambda: text == norm(wanted),
        "NEQ": lambda: text != norm(wanted),
        "IN": lambda: text in {norm(v) for v in values},
        "NOT_IN": lambda: text not in {norm(v) for v in values},
        "HAS_PROPERTY": lambda: text not in (None, ""),
        "NOT_HAS_PROPERTY": lambda: text in (None, ""),
        "CONTAINS_TOKEN": lambda: text is not None and norm(wanted).strip("*") in text,
    }
    check = checks.get(operator)
    if check is None:
        raise BadInput(f"operator {operator} is not supported by the sandbox")
    return bool(check())


class _HubSpotApi:
    """HubSpot's rules: the token, the two limits, the contact paths and their answers."""

    def __init__(self, config: HubSpotSandboxConfig, core: SandboxCore) -> None:
        self.config = config
        self.core = core
        self.tokens = set(config.tokens)
        self.daily = core.limits["daily"]

    async def identify(self, request: Request) -> str | None:
        token = bearer_token(request)
        return token if token in self.tokens else None

    def rate_headers(self, decision: QuotaDecision) -> Mapping[str, str]:
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.core.quota.window * 1000)),
            "X-HubSpot-RateLimit-Max": str(decision.limit),
            "X-HubSpot-RateLimit-Remaining": str(decision.remaining),
            "X-HubSpot-RateLimit-Daily": str(self.daily.limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(self._daily_remaining()),
        }

    def _daily_remaining(self) -> int:
        """The day's remaining calls: the lowest of any token's (one token in practice)."""
        clients = self.daily.seen()
        return min((self.daily.peek(c).remaining for c in clients), default=self.daily.limit)

    async def dispatch(self, request: Request, client: str | None) -> Response:
        if client is None:
            return error(401, "Authentication credentials not found.")
        day = self.daily.acquire(client)
        if not day.allowed:
            return _rate_limited("DAILY", day.retry_after_header)
        rest = request.url.path.removeprefix(_PREFIX).strip("/")
        try:
            return await self._route(request, rest)
        except BadInput as exc:
            return error(exc.status, exc.message)

    async def _route(self, request: Request, rest: str) -> Response:
        method = request.method
        if rest == "" and method == "GET":
            return self._page(request)
        if rest == "" and method == "POST":
            return self._create(await read_object(request))
        if rest == "batch/read" and method == "POST":
            return self._batch_read(await read_object(request))
        if rest == "search" and method == "POST":
            return self._search(await read_object(request))
        if rest and "/" not in rest and method == "GET":
            params = request.query_params
            found = self._find(rest, params.get("idProperty"))
            if found is None:
                return error(404, f"Object not found.  objectId are usually numeric. ({rest})")
            return JSONResponse(self._shown(found, _listed(params.get("properties"))))
        return error(405 if rest in ("", "batch/read", "search") else 404, "Not found.")

    def _all(self) -> list[dict[str, Any]]:
        stored = self.core.store.find(self.core.default_namespace, CONTACTS)
        return [NAMING.present(r) for r in stored]

    def _find(self, key: str, id_property: str | None) -> dict[str, Any] | None:
        for contact in self._all():
            if id_property:
                value = contact.get("properties", {}).get(id_property)
                if value is not None and str(value).lower() == key.lower():
                    return contact
            elif contact["id"] == key:
                return contact
        return None

    def _shown(self, contact: dict[str, Any], properties: list[str]) -> dict[str, Any]:
        stored = dict(contact.get("properties", {}))
        stored.setdefault("hs_object_id", contact["id"])
        stored.setdefault("createdate", contact.get("createdAt"))
        stored.setdefault("lastmodifieddate", contact.get("updatedAt"))
        wanted = properties or list(DEFAULT_PROPERTIES)
        return {
            "id": contact["id"],
            "properties": {name: stored.get(name) for name in wanted},
            "createdAt": contact.get("createdAt"),
            "updatedAt": contact.get("updatedAt"),
            "archived": False,
        }

    def _page(self, request: Request) -> Response:
        limit = _limit(request.query_params.get("limit"), 100)
        after = _offset(request.query_params.get("after"))
        props = _listed(request.query_params.get("properties"))
        contacts = self._all()
        return JSONResponse(_paged([self._shown(c, props) for c in contacts], after, limit))

    def _create(self, body: dict[str, Any]) -> Response:
        properties = body.get("properties")
        if not isinstance(properties, dict):
            raise BadInput('a contact is created from {"properties": {...}}')
        taken = self._find(str(properties.get("email") or ""), "email")
        if taken is not None and properties.get("email"):
            return error(409, f"Contact already exists. Existing ID: {taken['id']}")
        number = 1000 + len(self._all()) + self.core.rng.randrange(1000) * 10_000
        record = {"_id": str(number), "properties": properties}
        stored = self.core.store.insert(self.core.default_namespace, CONTACTS, record, keep_id=True)
        return JSONResponse(self._shown(NAMING.present(stored), list(properties)), status_code=201)

    def _batch_read(self, body: dict[str, Any]) -> Response:
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not inputs or len(inputs) > 100:
            raise BadInput('inputs: give 1 to 100 {"id": ...}')
        props = [str(p) for p in body.get("properties") or []]
        results, missing = [], []
        for item in inputs:
            key = str(item.get("id")) if isinstance(item, dict) else ""
            found = self._find(key, body.get("idProperty"))
            if found is None:
                missing.append(key)
            else:
                results.append(self._shown(found, props))
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if not missing:
            return JSONResponse(answer)
        answer["numErrors"] = 1
        answer["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
                "context": {"ids": missing},
            }
        ]
        return JSONResponse(answer, status_code=207)

    def _search(self, body: dict[str, Any]) -> Response:
        limit = _limit(body.get("limit"), 10, most=200)
        after = _offset(body.get("after"))
        groups = body.get("filterGroups") or []
        query = str(body.get("query") or "").lower()
        props = [str(p) for p in body.get("properties") or []]
        found = [
            c
            for c in self._all()
            if _matches(c.get("properties", {}), groups)
            and (not query or any(query in str(v).lower() for v in c["properties"].values()))
        ]
        page = _paged([self._shown(c, props) for c in found], after, limit)
        page["total"] = len(found)
        return JSONResponse(page)


def _matches(properties: Mapping[str, Any], groups: list[Any]) -> bool:
    if not groups:
        return True
    for group in groups:
        filters = group.get("filters", []) if isinstance(group, dict) else []
        if all(
            _property_match(
                properties.get(f.get("propertyName")),
                f.get("operator", "EQ"),
                f.get("value"),
                list(f.get("values") or []),
            )
            for f in filters
        ):
            return True
    return False


def _listed(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


def _limit(value: Any, default: int, most: int = 100) -> int:
    try:
        limit = int(value) if value is not None else default
    except (TypeError, ValueError):
        raise BadInput(f"limit must be a number, not {value!r}") from None
    if not 1 <= limit <= most:
        raise BadInput(f"limit must be between 1 and {most}")
    return limit


def _offset(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        raise BadInput(f"after must be a paging cursor, not {value!r}") from None


def _paged(items: list[Any], after: int, limit: int) -> dict[str, Any]:
    page: dict[str, Any] = {"results": items[after : after + limit]}
    if after + limit < len(items):
        page["paging"] = {"next": {"after": str(after + limit)}}
    return page


def create_app(
    config: HubSpotSandboxConfig | None = None,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> Starlette:
    """A fresh HubSpot sandbox; its :class:`SandboxCore` is at ``app.state.sandbox``."""
    cfg = config or HubSpotSandboxConfig()
    core = build_core(
        cfg,
        resources=[CONTACTS],
        default_namespace="portal",
        clock=clock,
        rng=rng,
        accept=NAMING.take,
    )
    core.limits["daily"] = RollingWindowLimiter(cfg.daily_limit, 86_400, core.clock)
    api = _HubSpotApi(cfg, core)
    gate = Gate(core, api.identify, rate_headers=api.rate_headers, refused=_refused, error=error)
    control = control_mount(core, ("portal", "namespace"), present=NAMING.show, accept=NAMING.take)
    route = Route(
        "/crm/v3/objects/contacts{path:path}", gate.endpoint(api.dispatch), methods=METHODS
    )
    return sandbox_app(core, cfg, [control, route])


def create_app_from_env() -> Starlette:
    """A sandbox configured from ``HUBSPOT_SANDBOX_*`` environment variables."""
    return create_app(config_from_env(HubSpotSandboxConfig, ENV_PREFIX))
