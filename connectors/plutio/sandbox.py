"""The Plutio sandbox: an ASGI app that answers as ``https://api.plutio.com/v1.11`` does.

Point the connector at it by setting ``PLUTIO_BASE_URL`` to where it runs. It serves:

- ``POST /oauth/token`` (form-encoded ``client_credentials``), answering
  ``{"accessToken", "accessTokenExpiresAt", "refreshToken": null}`` or, with
  ``token_shape="oauth2"``, ``{"access_token", "expires_in", "token_type": "Bearer"}``.
- Every resource in :data:`RESOURCES` the Mongo-style way (see :mod:`hub.sandbox.rest`),
  behind a live bearer token and an enabled ``Business`` header; data is kept per business.
- The per-client rolling quota with 429 + ``Retry-After`` and ``X-RateLimit-*`` headers;
  token requests count against the client id they post, other calls against the client
  behind their token (an expired token still names its client). Calls whose client
  cannot be told (no or unknown token) are not metered and carry no rate-limit headers.
- Fault injection and the call log, steered through ``/_sandbox/`` (see
  :mod:`hub.sandbox.control`; ``?business=`` picks the business for state and seed).

Strict mode (``strict``, ``PLUTIO_SANDBOX_STRICT``) answers only what the reference
documents: paging with ``skip``/``limit``, ``q`` for MongoDB queries, and every other
query parameter a key filter ("basic filters by supplying key-value pairs in GET
request"), ``sort`` included: a call that sends one reads the records whose field
``sort`` has that value (none). A call over the quota gets 429 without ``Retry-After``
(the reference names none; its ``X-RateLimit-*`` headers still come).

Run it alone with ``uvicorn --factory connectors.plutio.sandbox:create_app_from_env``;
settings then come from ``PLUTIO_SANDBOX_*`` variables (one per config field).
"""

from __future__ import annotations

import hmac
import random
from typing import Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.sandbox import (
    METHODS,
    Clock,
    Gate,
    MongoRest,
    SandboxConfig,
    SandboxCore,
    build_core,
    config_from_env,
    control_mount,
    iso_utc,
    json_error,
    resource_table,
    sandbox_app,
)

__all__ = [
    "RESOURCES",
    "PlutioSandboxConfig",
    "SandboxClient",
    "create_app",
    "create_app_from_env",
]

ENV_PREFIX = "PLUTIO_SANDBOX_"
TOKEN_PATH = "/oauth/token"
_CRUD = "list create update delete"

#: Resources as the reference lists them, with the operations it documents for each.
#: ``update``/``delete`` are the ``/bulk`` writes; ``move``/``copy`` are ``POST /r/move|copy``.
RESOURCES = resource_table(
    {
        "people": _CRUD,
        "companies": _CRUD,
        "projects": f"{_CRUD} move copy",
        "tasks": f"{_CRUD} move copy",
        "task-boards": f"{_CRUD} move copy",
        "task-groups": f"{_CRUD} move copy",
        "time-tracks": _CRUD,
        "invoices": _CRUD,
        "invoice-subscriptions": _CRUD,
        "proposals": _CRUD,
        "contracts": _CRUD,
        "forms": f"{_CRUD} copy",
        "form-responses": _CRUD,
        "comments": _CRUD,
        "custom-fields": _CRUD,
        "blocks": _CRUD,
        "block-groups": "list update",
        "businesses": "list update",
        "canned-responses": _CRUD,
        "categories": _CRUD,
        "conversations": _CRUD,
        "dashboards": "list update",
        "dashboard-pages": _CRUD,
        "dashboard-data": "list",
        "events": _CRUD,
        "file-folders": f"{_CRUD} move",
        "files": f"{_CRUD} move",
        "inbox-groups": _CRUD,
        "items": _CRUD,
        "notes": _CRUD,
        "profiles": "list",
        "roles": "create update delete",
        "statuses": f"{_CRUD} move",
        "templates": _CRUD,
        "trash-bin": "list delete",
        "wiki": _CRUD,
        "wiki-entities": f"{_CRUD} move",
    },
    defaults={
        "people": {"role": "client"},
        "invoices": {"status": "draft", "currency": "USD"},
        "tasks": {"status": "open"},
    },
)


class SandboxClient(BaseModel):
    """An API client: its credentials and the businesses enabled for it."""

    model_config = ConfigDict(extra="forbid")

    client_id: str
    client_secret: str
    businesses: list[str] = Field(default_factory=lambda: ["sandbox"], min_length=1)


class PlutioSandboxConfig(SandboxConfig):
    """Everything the Plutio sandbox can be told; env names are ``PLUTIO_SANDBOX_<FIELD>``.

    Quota, faults, seed and ``initial_data`` (seeded into the first business) are the
    kit's (:class:`~hub.sandbox.app.SandboxConfig`).
    """

    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    businesses: list[str] = Field(default_factory=lambda: ["sandbox"], min_length=1)
    #: more API clients beside the one above
    extra_clients: list[SandboxClient] = Field(default_factory=list)
    token_ttl_seconds: float = Field(default=72 * 3600, gt=0)
    token_shape: Literal["plutio", "oauth2"] = "plutio"
    page_limit_default: int = Field(default=100, ge=1)
    #: the most records one page returns, whatever ``limit`` asks (``None``: no cap)
    page_limit_max: int | None = Field(default=None, ge=1)

    def clients(self) -> dict[str, SandboxClient]:
        """Every API client by id."""
        main = SandboxClient(
            client_id=self.client_id,
            client_secret=self.client_secret,
            businesses=self.businesses,
        )
        return {c.client_id: c for c in [main, *self.extra_clients]}


def _form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _is_token_path(request: Request) -> bool:
    return request.url.path.rstrip("/") == TOKEN_PATH


class _PlutioApi:
    """Plutio's own rules: token grant, token check, Business header."""

    def __init__(self, config: PlutioSandboxConfig, core: SandboxCore) -> None:
        self.config = config
        self.core = core
        self.clients = config.clients()
        self.rest = MongoRest(
            core.store,
            RESOURCES,
            default_limit=config.page_limit_default,
            max_limit=config.page_limit_max,
            sort=not config.strict,
        )

    async def identify(self, request: Request) -> str | None:
        if _is_token_path(request):
            posted = _form(await request.body()).get("client_id")
            return posted or None
        return self.core.tokens.check(_bearer(request)).client_id

    async def token(self, request: Request, client_id: str | None) -> Response:
        if request.method != "POST":
            return json_error(405, f"Method {request.method} is not allowed here.")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return json_error(
                400, "Invalid request: content must be application/x-www-form-urlencoded"
            )
        form = _form(await request.body())
        grant = form.get("grant_type")
        if not grant:
            return json_error(400, "Invalid request: missing parameter: `grant_type`")
        if grant != "client_credentials":
            return json_error(400, "Unsupported grant type: `grant_type` is invalid")
        client = self.clients.get(form.get("client_id", ""))
        secret = form.get("client_secret", "")
        if client is None or not hmac.compare_digest(
            client.client_secret.encode(), secret.encode()
        ):
            return json_error(401, "Invalid client: client is invalid")
        token = self.core.tokens.issue(client.client_id)
        if self.config.token_shape == "oauth2":
            return JSONResponse(
                {
                    "access_token": token.value,
                    "expires_in": int(token.ttl_seconds),
                    "token_type": "Bearer",
                }
            )
        return JSONResponse(
            {
                "accessToken": token.value,
                "accessTokenExpiresAt": iso_utc(token.expires_wall),
                "refreshToken": None,
            }
        )

    async def resource(self, request: Request, client_id: str | None) -> Response:
        check = self.core.tokens.check(_bearer(request))
        if check.state == "missing":
            return json_error(401, "Unauthorized request: no authentication given")
        if check.state == "unknown":
            return json_error(401, "Invalid token: access token is invalid")
        if check.state == "expired":
            return json_error(401, "Invalid token: access token has expired")
        business = request.headers.get("business", "").strip()
        client = self.clients.get(check.client_id or "")
        if not business or client is None:
            return json_error(400, "Business undefined is not enabled for this client.")
        if business not in client.businesses:
            return json_error(400, f"Business {business} is not enabled for this client.")
        return await self.rest.dispatch(request, business)


def create_app(
    config: PlutioSandboxConfig | None = None,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> Starlette:
    """A fresh Plutio sandbox; its :class:`SandboxCore` is at ``app.state.sandbox``."""
    cfg = config or PlutioSandboxConfig()
    core = build_core(
        cfg,
        resources=RESOURCES,
        default_namespace=cfg.businesses[0],
        clock=clock,
        rng=rng,
        token_ttl_seconds=cfg.token_ttl_seconds,
    )
    api = _PlutioApi(cfg, core)
    gate = Gate(core, api.identify, retry_after=not cfg.strict)
    return sandbox_app(
        core,
        cfg,
        [
            control_mount(core, namespace_params=("business", "namespace")),
            Route(TOKEN_PATH, gate.endpoint(api.token), methods=METHODS),
            Route("/{path:path}", gate.endpoint(api.resource), methods=METHODS),
        ],
    )


def create_app_from_env() -> Starlette:
    """A sandbox configured from ``PLUTIO_SANDBOX_*`` environment variables (a uvicorn factory)."""
    return create_app(config_from_env(PlutioSandboxConfig, ENV_PREFIX))
