"""The ingress's read views: health, its OpenAPI document, the workflows and sources it
routes with, recently accepted events, and Prometheus metrics.

``/healthz`` and ``/openapi.json`` are open to all. The others need
``HUB_INGRESS_ADMIN_TOKEN`` as a bearer token (:class:`AdminGuard`); only ``hub up``'s
local mode opens them without one, never the address the ingress listens on. Every
answer is JSON but the metrics; every Redis failure is a 503 with ``Retry-After``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence

import redis as syncredis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.core import Settings, redis_client
from hub.history import CONTENT_TYPE, exposition
from hub.ingress.event_store import EventStore, StoreUnavailable
from hub.ingress.hooks import error
from hub.ingress.openapi import openapi_document
from hub.intake import Source
from hub.workflow import Workflow

__all__ = ["AdminGuard", "MetricsScrape", "ReadViews"]


class AdminGuard:
    """Who may read the views: whoever sends the admin token; without a token set, anyone
    in local mode (``HUB_LOCAL_MODE``, set by ``hub up``) and nobody otherwise."""

    def __init__(self, settings: Settings) -> None:
        token = settings.hub_ingress_admin_token
        self._token = token.get_secret_value().encode() if token else None
        self._local = settings.hub_local_mode

    def check(self, request: Request) -> Response | None:
        """None if ``request`` may read a view, else the 401 that refuses it."""
        if self._token is None:
            if self._local:
                return None
            return _unauthorized(
                "this view needs a token: set HUB_INGRESS_ADMIN_TOKEN on the ingress and send "
                "Authorization: Bearer <token>"
            )
        kind, _, given = request.headers.get("authorization", "").partition(" ")
        if kind.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token):
            return _unauthorized("send Authorization: Bearer <HUB_INGRESS_ADMIN_TOKEN>")
        return None


def _unauthorized(message: str) -> Response:
    response = error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="hub"'
    return response


class MetricsScrape:
    """The Prometheus exposition read from the hub's Redis at ``redis_url``.

    The collector reads with a sync client, in a thread; the client is made at the first
    scrape, so an ingress without a Redis URL starts and answers 503 here only.
    """

    def __init__(self, redis_url: str | None, settings: Settings | None = None) -> None:
        self._url = redis_url
        self._settings = settings or Settings()
        self._client: syncredis.Redis | None = None

    async def answer(self) -> Response:
        """The exposition, or a 503 when Redis is not set or does not answer."""
        if self._client is None:
            if self._url is None:
                return error(503, "HUB_REDIS_URL is not set: no metrics to read")
            self._client = redis_client(self._settings, self._url, socket_timeout=5)
        try:
            body = await run_in_threadpool(exposition, self._client)
        except (syncredis.RedisError, OSError):
            return error(503, "Redis is unreachable")
        return Response(body, media_type=CONTENT_TYPE)


class ReadViews:
    """The views of one ingress: over its ``workflows``, ``sources`` and event ``store``,
    guarded by ``admin``."""

    def __init__(
        self,
        workflows: Sequence[Workflow],
        sources: Mapping[str, Source],
        store: EventStore,
        admin: AdminGuard,
        metrics: MetricsScrape,
    ) -> None:
        self._workflows = workflows
        self._sources = sources
        self._store = store
        self._admin = admin
        self._metrics = metrics
        self._document = openapi_document()

    def routes(self) -> list[Route]:
        """A route for each view."""
        return [
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/workflows", self.list_workflows, methods=["GET"]),
            Route("/sources", self.list_sources, methods=["GET"]),
            Route("/events", self.recent_events, methods=["GET"]),
            Route("/events/{source}/{event_id:path}", self.one_event, methods=["GET"]),
        ]

    async def healthz(self, request: Request) -> Response:
        try:
            await self._store.ping()
        except StoreUnavailable:
            return error(503, "Redis is unreachable")
        return JSONResponse({"status": "ok", "workflows": len(self._workflows)})

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(self._document)

    async def list_workflows(self, request: Request) -> Response:
        return self._admin.check(request) or JSONResponse(
            {
                "workflows": [
                    {
                        "name": wf.name,
                        "revision": wf.revision,
                        "source": wf.webhook.source,
                        "event": wf.webhook.event,
                    }
                    for wf in self._workflows
                    if wf.webhook is not None
                ]
            }
        )

    async def list_sources(self, request: Request) -> Response:
        return self._admin.check(request) or JSONResponse(
            {
                "sources": [
                    {
                        "name": s.name,
                        "auth": s.verifier.scheme,
                        "configured": s.configured,
                        "max_body_bytes": s.max_body_bytes,
                        "dedupe_seconds": s.dedupe_seconds,
                    }
                    for s in sorted(self._sources.values(), key=lambda s: s.name)
                ]
            }
        )

    async def recent_events(self, request: Request) -> Response:
        if refused := self._admin.check(request):
            return refused
        raw = request.query_params.get("limit", "50")
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            return error(400, "limit must be a whole number from 1 to 1000")
        try:
            return JSONResponse({"events": await self._store.recent(int(raw))})
        except StoreUnavailable:
            return error(503, "Redis is unreachable")

    async def one_event(self, request: Request) -> Response:
        if refused := self._admin.check(request):
            return refused
        source, event_id = request.path_params["source"], request.path_params["event_id"]
        try:
            record = await self._store.find(source, event_id)
        except StoreUnavailable:
            return error(503, "Redis is unreachable")
        if record is None:
            return error(404, f"no event '{event_id}' from '{source}' within its dedupe window")
        return JSONResponse(record)

    async def metrics(self, request: Request) -> Response:
        return self._admin.check(request) or await self._metrics.answer()
