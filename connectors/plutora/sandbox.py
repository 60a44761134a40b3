"""The Plutora sandbox: an ASGI app that answers as Plutora's auth and API hosts do.

One app plays both hosts: point ``PLUTORA_AUTH_URL`` at ``{sandbox}/oauth/token`` and
``PLUTORA_BASE_URL`` at ``{sandbox}``. It serves:

- ``POST /oauth/token``, form-encoded ``grant_type=password`` with ``client_id``,
  ``client_secret``, ``username`` and ``password``, answering ``{"access_token",
  "token_type": "bearer", "expires_in"}`` (12000 s, as documented). Refusals are the
  reference's: ``invalid_grant`` "The client_id or client_secret is incorrect." and
  ``validation_error`` "Login failed, you have N attempts to login"; after
  ``login_attempts`` failures the account is locked until ``/_sandbox/reset``.
- ``releases``, ``changes``, ``systems`` and ``environments``: ``GET /{entity}`` (an array;
  with ``pageNum``, from 0, a page of ``recordsPerPage`` up to 100 as ``{"resultSet",
  "returnCount", "totalCount", "pageNum", "recordsPerPage"}``; ``filter`` keeps the
  records an expression such as ```Status` = `Open` and `ChangeId` >= `10``` matches, see
  :mod:`connectors.plutora.sandbox_filter`), ``POST`` (201, JSON only: other media types
  get 415), ``GET``/``PUT``/``DELETE /{entity}/{id}``.
- ``GET /me``: the user behind the token.

API calls need a live bearer token (401 "Authorization has been denied for this
request." otherwise). Each API client has a rolling quota (26,000 an hour); token
requests count against the client id they post. Plutora documents no rate-limit headers,
so none are sent; a refused call gets 429 with ``Retry-After``. Faults and the call log
are steered through ``/_sandbox/``. Run it alone with ``hub sandbox plutora``; settings
come from ``PLUTORA_SANDBOX_*`` variables.

Strict mode (``strict``, ``PLUTORA_SANDBOX_STRICT``) answers only as Plutora documents
(the setup reference and its "Filter And Paginate API Calls" page): a token request
carrying an ``Authorization`` header is refused ("your Headers tab may not be blank"),
``GET /{entity}`` answers the paged ``resultSet`` shape whether or not ``pageNum`` is
given (the default since mid-2019), unknown query parameters are ignored, and a refused
call gets 429 without ``Retry-After`` (Plutora names no rate-limit headers).
"""

from __future__ import annotations

import hmac
import random
from collections.abc import Mapping
from typing import Any

from pydantic import Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.plutora.sandbox_filter import compile_filter
from connectors.plutora.sandbox_rules import ENTITIES, model_errors, paged
from hub.sandbox import (
    METHODS,
    BadInput,
    Clock,
    Gate,
    Naming,
    QuotaDecision,
    RecordTable,
    SandboxConfig,
    SandboxCore,
    bearer_token,
    build_core,
    config_from_env,
    content_type,
    control_mount,
    read_form,
    read_object,
    reason,
    sandbox_app,
)

__all__ = ["ENV_PREFIX", "PlutoraSandboxConfig", "create_app", "create_app_from_env"]

ENV_PREFIX = "PLUTORA_SANDBOX_"
TOKEN_PATH = "/oauth/token"
NAMING = Naming(id="id", created=None, updated=None)
DENIED = "Authorization has been denied for this request."
#: where failed logins are counted (cleared with everything else on reset)
_AUTH_NS, _FAILURES = "_auth", "login-failures"


class PlutoraSandboxConfig(SandboxConfig):
    """Everything the Plutora sandbox can be told; env names are ``PLUTORA_SANDBOX_<FIELD>``."""

    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    #: user name (email) -> password
    users: dict[str, str] = Field(
        default_factory=lambda: {"sandbox@example.com": "sandbox-password"}, min_length=1
    )
    login_attempts: int = Field(default=5, ge=1)
    token_ttl_seconds: float = Field(default=12000, gt=0)
    quota_limit: int = Field(default=26_000, ge=1)
    #: records (``id`` included) seeded at start and on reset
    initial_data: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)


def _message(
    status: int, text: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse({"message": text or reason(status)}, status_code=status, headers=headers)


def _oauth_error(code: str, description: str) -> Response:
    return JSONResponse({"error": code, "error_description": description}, status_code=400)


def _server_error(status: int, text: str | None, headers: dict[str, str] | None) -> Response:
    return _message(status, text or "An error has occurred.", headers)


class _PlutoraApi:
    """Plutora's rules: the password grant, bearer tokens, entities and their checks."""

    def __init__(self, config: PlutoraSandboxConfig, core: SandboxCore) -> None:
        self.config = config
        self.core = core
        self.tables = {
            path: RecordTable(core.store, path, core.rng, naming=NAMING, defaults=e.defaults)
            for path, e in ENTITIES.items()
        }

    async def identify(self, request: Request) -> str | None:
        if request.url.path.rstrip("/") == TOKEN_PATH:
            try:
                return (await read_form(request)).get("client_id") or None
            except BadInput:
                return None
        return self.core.tokens.check(bearer_token(request)).client_id

    def refused(self, decision: QuotaDecision) -> Response:
        quota = self.core.quota
        return _message(
            429,
            f"API calls quota exceeded! maximum admitted {quota.limit} per {quota.window:g}s.",
            {"Retry-After": decision.retry_after_header},
        )

    # --- the auth host ----------------------------------------------------------------

    def _failures(self, username: str) -> int:
        record = self.core.store.get(_AUTH_NS, _FAILURES, username)
        return int(record["count"]) if record else 0

    def _fail_login(self, username: str) -> Response:
        count = self._failures(username) + 1
        self.core.store.insert(_AUTH_NS, _FAILURES, {"_id": username, "count": count}, keep_id=True)
        left = max(0, self.config.login_attempts - count)
        if left == 0:
            return _oauth_error(
                "validation_error", "Your account is locked. Contact your administrator."
            )
        return _oauth_error("validation_error", f"Login failed, you have {left} attempts to login")

    async def token(self, request: Request, client_id: str | None) -> Response:
        if request.method != "POST":
            return _message(
                405, f"The requested resource does not support http method '{request.method}'."
            )
        if self.config.strict and request.headers.get("authorization"):
            return _oauth_error(
                "invalid_request", "The token request must carry no Authorization header."
            )
        try:
            form = await read_form(request)
        except BadInput:
            return _oauth_error("invalid_request", "The request must be form-encoded.")
        if form.get("grant_type") != "password":
            return _oauth_error("unsupported_grant_type", "grant_type must be password")
        cfg = self.config
        if form.get("client_id") != cfg.client_id or not hmac.compare_digest(
            form.get("client_secret", "").encode(), cfg.client_secret.encode()
        ):
            return _oauth_error("invalid_grant", "The client_id or client_secret is incorrect.")
        username, password = form.get("username", ""), form.get("password", "")
        if self._failures(username) >= cfg.login_attempts:
            return _oauth_error(
                "validation_error", "Your account is locked. Contact your administrator."
            )
        known = cfg.users.get(username)
        if known is None or not hmac.compare_digest(known.encode(), password.encode()):
            return self._fail_login(username)
        self.core.store.delete_many(_AUTH_NS, _FAILURES, [username])
        token = self.core.tokens.issue(cfg.client_id)
        self.core.store.insert(
            _AUTH_NS, "tokens", {"_id": token.value, "user": username}, keep_id=True
        )
        return JSONResponse(
            {
                "access_token": token.value,
                "token_type": "bearer",
                "expires_in": int(token.ttl_seconds),
            }
        )

    # --- the API host -----------------------------------------------------------------

    async def api(self, request: Request, client_id: str | None) -> Response:
        token = bearer_token(request)
        if self.core.tokens.check(token).state != "valid":
            return _message(401, DENIED)
        parts = [p for p in request.url.path.split("/") if p]
        try:
            if parts == ["me"] and request.method == "GET":
                session = self.core.store.get(_AUTH_NS, "tokens", token or "")
                return JSONResponse({"email": session["user"] if session else None})
            if not parts or parts[0] not in ENTITIES or len(parts) > 2:
                return self._no_route(request)
            if len(parts) == 1:
                return await self._collection(request, parts[0])
            return await self._item(request, parts[0], parts[1])
        except BadInput as exc:
            return _message(exc.status, exc.message)

    def _no_route(self, request: Request) -> Response:
        return _message(
            404, f"No HTTP resource was found that matches the request URI '{request.url}'."
        )

    async def _json_body(self, request: Request) -> dict[str, Any]:
        kind = content_type(request)
        if kind != "application/json":
            raise BadInput(
                f"The request entity's media type '{kind or 'text/plain'}' is not supported "
                "for this resource.",
                status=415,
            )
        return await read_object(request)

    async def _collection(self, request: Request, path: str) -> Response:
        table, entity = self.tables[path], ENTITIES[path]
        if request.method == "GET":
            records = table.list("plutora")
            params = request.query_params
            if params.get("filter"):
                records = [r for r in records if compile_filter(params["filter"])(r)]
            if params.get("pageNum") is None and not self.config.strict:
                return JSONResponse(records)
            return JSONResponse(paged(records, params.get("pageNum"), params.get("recordsPerPage")))
        if request.method != "POST":
            return self._no_route(request)
        body = await self._json_body(request)
        errors = model_errors(entity, body)
        if errors:
            return JSONResponse(errors, status_code=400)
        if entity.counter:
            body[entity.counter] = len(self.core.store.find("plutora", path)) + 1
        return JSONResponse(table.create("plutora", body), status_code=201)

    async def _item(self, request: Request, path: str, record_id: str) -> Response:
        table, entity = self.tables[path], ENTITIES[path]
        record = table.get("plutora", record_id)
        if record is None:
            return _message(404, f"The {entity.title} with id {record_id} was not found.")
        if request.method == "GET":
            return JSONResponse(record)
        if request.method == "DELETE":
            table.delete("plutora", record_id)
            return Response(status_code=204)
        if request.method != "PUT":
            return self._no_route(request)
        body = await self._json_body(request)
        errors = model_errors(entity, {**record, **body})
        if errors:
            return JSONResponse(errors, status_code=400)
        return JSONResponse(table.update("plutora", record_id, _kept(entity, body)))


def _kept(entity: Any, body: Mapping[str, Any]) -> dict[str, Any]:
    """A PUT body without the fields Plutora assigns itself."""
    return {k: v for k, v in body.items() if k != entity.counter}


def create_app(
    config: PlutoraSandboxConfig | None = None,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> Starlette:
    """A fresh Plutora sandbox; its :class:`SandboxCore` is at ``app.state.sandbox``."""
    cfg = config or PlutoraSandboxConfig()
    core = build_core(
        cfg,
        resources=ENTITIES,
        default_namespace="plutora",
        clock=clock,
        rng=rng,
        token_ttl_seconds=cfg.token_ttl_seconds,
        accept=NAMING.take,
    )
    api = _PlutoraApi(cfg, core)
    gate = Gate(
        core,
        api.identify,
        rate_headers=lambda _d: {},
        refused=api.refused,
        error=_server_error,
        retry_after=not cfg.strict,
    )
    return sandbox_app(
        core,
        cfg,
        [
            control_mount(core, present=NAMING.show, accept=NAMING.take),
            Route(TOKEN_PATH, gate.endpoint(api.token), methods=METHODS),
            Route("/{path:path}", gate.endpoint(api.api), methods=METHODS),
        ],
    )


def create_app_from_env() -> Starlette:
    """A sandbox configured from ``PLUTORA_SANDBOX_*`` environment variables (a uvicorn factory)."""
    return create_app(config_from_env(PlutoraSandboxConfig, ENV_PREFIX))
