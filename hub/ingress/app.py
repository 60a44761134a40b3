"""The HTTP ingress: ``POST /hooks/{source}`` (and ``GET`` for a verification handshake)
plus health, OpenAPI and a few read views.

A plain Starlette app (FastAPI's per-request machinery costs more than the whole
webhook path). Every answer, errors included, is JSON; every Redis failure is a 503 with
``Retry-After``. The read views (``/events``, ``/workflows``, ``/sources``) need
``HUB_INGRESS_ADMIN_TOKEN`` as a bearer token; so does ``GET /metrics`` (Prometheus sends
it with ``authorization: {credentials: ...}``). Only local mode (``HUB_LOCAL_MODE``, which
``hub up`` sets) opens them without one, or takes deliveries for a source without a file:
the address the ingress listens on decides nothing, since a proxy on the same host may
forward the whole internet to it.
The views themselves are :mod:`hub.ingress.views`; this module puts the app together.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aioredis
from celery import Celery
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from hub.core import Settings
from hub.ingress.auth_failures import AuthFailures
from hub.ingress.client_address import client_address_from
from hub.ingress.event_store import EventStore
from hub.ingress.hooks import PREFIX, Hooks, Receive, Scope, Send, error
from hub.ingress.paused_sources import PausedSources
from hub.ingress.public_url import public_url_from
from hub.ingress.publish import Compile, RunPublisher
from hub.ingress.views import AdminGuard, MetricsScrape, ReadViews
from hub.intake import Source, build_sources, load_sources, sources_folder
from hub.workflow import LiveWorkflows, Workflow, compile_run

__all__ = ["create_app", "create_live_app", "failure_limit"]

log = logging.getLogger("hub.ingress")


def create_app(
    settings: Settings,
    workflows: list[Workflow],
    celery: Celery,
    redis: aioredis.Redis,
    *,
    sources: Mapping[str, Source] | None = None,
    clock: Callable[[], float] = time.time,
    compile: Compile = compile_run,
    waitaof: bool = True,
    failures: AuthFailures | None = None,
) -> ASGIApp:
    """The ingress for ``workflows`` (already validated and published).

    ``sources`` defaults to the files in the sources folder plus every source a workflow
    listens to (those without a file only in local mode). ``waitaof`` False: Redis fsyncs
    every write before it answers, so ``HUB_INGRESS_FSYNC=always`` needs no ``WAITAOF``
    (see :func:`~hub.ingress.event_store.check_fsync`). ``failures`` counts failed
    authentication (default: a new count per ``HUB_AUTH_FAILURE_*``).
    """
    if sources is None:
        sources = _configured_sources(settings, workflows)
    _warn_unauthenticated(sources)
    store = EventStore(
        redis,
        fsync=settings.hub_ingress_fsync == "always" and waitaof,
        replicas=settings.hub_ingress_min_replicas_acked,
        run_retention_seconds=settings.hub_run_retention_seconds,
    )
    publisher = RunPublisher(celery, workflows, compile)
    clients = client_address_from(settings)
    hooks = Hooks(
        sources,
        workflows,
        publisher,
        store,
        clock,
        public_url_from(settings),
        clients=clients,
        failures=failures or failure_limit(settings),
        paused=PausedSources(redis, retry_after=settings.hub_paused_source_retry_after_seconds),
    )
    admin = AdminGuard(settings)
    metrics = MetricsScrape(settings.hub_redis_url, settings)
    views = ReadViews(workflows, sources, store, admin, metrics)
    routes = [Route("/hooks/{source}", hooks, methods=["POST", "GET"]), *views.routes()]
    handlers: Mapping[Any, Any] = {HTTPException: _http_error, Exception: _server_error}
    return _Ingress(hooks, Starlette(routes=routes, exception_handlers=dict(handlers)))


def failure_limit(settings: Settings) -> AuthFailures:
    """The count of failed authentication ``settings`` ask for."""
    return AuthFailures(settings.hub_auth_failure_limit, settings.hub_auth_failure_window_seconds)


def _configured_sources(settings: Settings, workflows: list[Workflow]) -> dict[str, Source]:
    """The sources folder's sources plus every source a workflow listens to."""
    listened = {wf.webhook.source for wf in workflows if wf.webhook is not None}
    configs = load_sources(sources_folder(settings))
    return build_sources(configs, settings, listened, local=settings.hub_local_mode)


def _warn_unauthenticated(sources: Mapping[str, Source]) -> None:
    for source in sources.values():
        if source.verifier.scheme == "none":
            log.warning("source %s accepts deliveries without authentication", source.name)


def create_live_app(
    settings: Settings, live: LiveWorkflows, celery: Celery, redis: aioredis.Redis, **options: Any
) -> ASGIApp:
    """An ingress that follows ``live``: after a reload, new deliveries go to the new
    revisions (runs already queued keep theirs); failed authentication stays counted."""
    options.setdefault("failures", failure_limit(settings))
    return _Following(live, lambda wfs: create_app(settings, list(wfs), celery, redis, **options))


class _Following:
    """Rebuilds the ingress when the live workflow set changes (a reload swapped it)."""

    def __init__(
        self, live: LiveWorkflows, build: Callable[[tuple[Workflow, ...]], ASGIApp]
    ) -> None:
        self._live = live
        self._build = build
        self._built_from = live.workflows
        self._app = build(self._built_from)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        current = self._live.workflows
        if current is not self._built_from:
            self._app = self._build(current)
            self._built_from = current
            log.info("ingress now serves revisions %s", self._live.revisions())
        await self._app(scope, receive, send)


class _Ingress:
    """Deliveries straight to :class:`Hooks`; everything else through Starlette."""

    def __init__(self, hooks: Hooks, app: Starlette) -> None:
        self.hooks = hooks
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("POST", "GET")
            and scope["path"].startswith(PREFIX)
            and "/" not in scope["path"][len(PREFIX) :]
        ):
            await self.hooks(scope, receive, send)
        else:
            await self.app(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {
        404: f"no such endpoint: {request.url.path} (see /openapi.json)",
        405: f"{request.method} is not allowed on {request.url.path}",
    }
    response = error(exc.status_code, messages.get(exc.status_code, str(exc.detail)))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error(500, "the hub failed on this request; it is logged, retry later")
