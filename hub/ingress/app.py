"""The HTTP ingress: ``POST /hooks/{source}`` plus health, OpenAPI and a few read views.

A plain Starlette app (FastAPI's per-request machinery costs more than the whole
webhook path). Every answer, errors included, is JSON; every Redis failure is a 503 with
``Retry-After``. The read views (``/events``, ``/workflows``, ``/sources``) need
``HUB_INGRESS_ADMIN_TOKEN`` as a bearer token, or, without one, a loopback ingress;
so does ``GET /metrics`` (Prometheus sends it with ``authorization: {credentials: ...}``).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis as syncredis
import redis.asyncio as aioredis
from celery import Celery
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from hub.core.settings import Settings
from hub.history.metrics import CONTENT_TYPE, exposition
from hub.ingress.event_store import EventStore, StoreUnavailable
from hub.ingress.hooks import PREFIX, Hooks, Receive, Scope, Send, error
from hub.ingress.openapi import openapi_document
from hub.ingress.publish import Compile, RunPublisher
from hub.intake.resolve import build_sources, is_loopback
from hub.intake.sources import Source, load_sources, sources_folder
from hub.workflow.compiler import compile_run
from hub.workflow.live import LiveWorkflows
from hub.workflow.model import Workflow

__all__ = ["create_app", "create_live_app"]

log = logging.getLogger("hub.ingress")


def create_app(
    settings: Settings,
    workflows: list[Workflow],
    celery: Celery,
    redis: aioredis.Redis,
    *,
    sources: Mapping[str, Source] | None = None,
    bind_host: str | None = None,
    clock: Callable[[], float] = time.time,
    compile: Compile = compile_run,
    waitaof: bool = True,
) -> ASGIApp:
    """The ingress for ``workflows`` (already validated and published).

    ``sources`` defaults to the files in the sources folder plus every source a workflow
    listens to; ``bind_host`` (default ``HUB_INGRESS_HOST``) decides whether this is a
    local run. ``waitaof`` False: Redis fsyncs every write before it answers, so
    ``HUB_INGRESS_FSYNC=always`` needs no ``WAITAOF`` (see
    :func:`~hub.ingress.event_store.check_fsync`).
    """
    local = is_loopback(bind_host or settings.hub_ingress_host)
    if sources is None:
        listened = {wf.webhook.source for wf in workflows if wf.webhook is not None}
        configs = load_sources(sources_folder(settings))
        sources = build_sources(configs, settings, listened, local=local)
    for source in sources.values():
        if source.verifier.scheme == "none":
            log.warning("source %s accepts deliveries without authentication", source.name)
    store = EventStore(redis, fsync=settings.hub_ingress_fsync == "always" and waitaof)
    hooks = Hooks(sources, workflows, RunPublisher(celery, workflows, compile), store, clock)
    admin = _AdminGuard(settings, local)
    document = openapi_document()

    async def healthz(request: Request) -> Response:
        try:
            await store.ping()
        except StoreUnavailable:
            return error(503, "Redis is unreachable")
        return JSONResponse({"status": "ok", "workflows": len(workflows)})

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    async def list_workflows(request: Request) -> Response:
        return admin.check(request) or JSONResponse(
            {
                "workflows": [
                    {
                        "name": wf.name,
                        "revision": wf.revision,
                        "source": wf.webhook.source,
                        "event": wf.webhook.event,
                    }
                    for wf in workflows
                    if wf.webhook is not None
                ]
            }
        )

    async def list_sources(request: Request) -> Response:
        return admin.check(request) or JSONResponse(
            {
                "sources": [
                    {
                        "name": s.name,
                        "auth": s.verifier.scheme,
                        "configured": s.configured,
                        "max_body_bytes": s.max_body_bytes,
                        "dedupe_seconds": s.dedupe_seconds,
                    }
                    for s in sorted(sources.values(), key=lambda s: s.name)
                ]
            }
        )

    async def recent_events(request: Request) -> Response:
        if refused := admin.check(request):
            return refused
        raw = request.query_params.get("limit", "50")
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            return error(400, "limit must be a whole number from 1 to 1000")
        try:
            return JSONResponse({"events": await store.recent(int(raw))})
        except StoreUnavailable:
            return error(503, "Redis is unreachable")

    async def one_event(request: Request) -> Response:
        if refused := admin.check(request):
            return refused
        source, event_id = request.path_params["source"], request.path_params["event_id"]
        try:
            record = await store.find(source, event_id)
        except StoreUnavailable:
            return error(503, "Redis is unreachable")
        if record is None:
            return error(404, f"no event '{event_id}' from '{source}' within its dedupe window")
        return JSONResponse(record)

    scrape_client: list[syncredis.Redis] = []

    async def metrics(request: Request) -> Response:
        if refused := admin.check(request):
            return refused
        if not scrape_client:  # the collector reads with a sync client, in a thread
            if settings.hub_redis_url is None:
                return error(503, "HUB_REDIS_URL is not set: no metrics to read")
            scrape_client.append(syncredis.Redis.from_url(settings.hub_redis_url, socket_timeout=5))
        try:
            body = await run_in_threadpool(exposition, scrape_client[0])
        except (syncredis.RedisError, OSError):
            return error(503, "Redis is unreachable")
        return Response(body, media_type=CONTENT_TYPE)

    routes = [
        Route("/hooks/{source}", hooks, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/workflows", list_workflows, methods=["GET"]),
        Route("/sources", list_sources, methods=["GET"]),
        Route("/events", recent_events, methods=["GET"]),
        Route("/events/{source}/{event_id:path}", one_event, methods=["GET"]),
    ]
    handlers: Mapping[Any, Any] = {HTTPException: _http_error, Exception: _server_error}
    return _Ingress(hooks, Starlette(routes=routes, exception_handlers=dict(handlers)))


def create_live_app(
    settings: Settings, live: LiveWorkflows, celery: Celery, redis: aioredis.Redis, **options: Any
) -> ASGIApp:
    """An ingress that follows ``live``: after a reload, new deliveries go to the new
    revisions (runs already queued keep theirs)."""
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
            and scope["method"] == "POST"
            and scope["path"].startswith(PREFIX)
            and "/" not in scope["path"][len(PREFIX) :]
        ):
            await self.hooks(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class _AdminGuard:
    """Who may read the views: the admin token, or anyone on a loopback ingress."""

    def __init__(self, settings: Settings, local: bool) -> None:
        token = settings.hub_ingress_admin_token
        self._token = token.get_secret_value().encode() if token else None
        self._local = local

    def check(self, request: Request) -> Response | None:
        if self._token is None:
            if self._local:
                return None
            return error(403, "set HUB_INGRESS_ADMIN_TOKEN to read this view over the network")
        kind, _, given = request.headers.get("authorization", "").partition(" ")
        if kind.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token):
            return error(401, "send Authorization: Bearer <HUB_INGRESS_ADMIN_TOKEN>")
        return None


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
