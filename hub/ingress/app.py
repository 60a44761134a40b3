"""The HTTP ingress: ``POST /hooks/{source}`` turns an event into workflow runs.

It answers 202 only after every run's first task is in the broker; when Redis cannot be
reached it answers 503 so the sender retries. A repeated event id from the same source
within the dedupe window starts nothing and answers 200 with ``duplicate: true``.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import redis.asyncio as aioredis
from celery import Celery
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hub.errors import TemplateError
from hub.ingress.routing import json_path, known_sources, match_workflows
from hub.settings import Settings
from hub.worker.runtime import new_context
from hub.workflow.compiler import compile_run
from hub.workflow.live import LiveWorkflows
from hub.workflow.model import Workflow
from hub.workflow.templates import truthy

__all__ = ["create_app"]

log = logging.getLogger("hub.ingress")
PENDING = "pending"
PENDING_SECONDS = 60


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def create_app(
    settings: Settings,
    workflows: list[Workflow] | LiveWorkflows,
    celery: Celery,
    redis: aioredis.Redis,
) -> FastAPI:
    """The ingress for ``workflows`` (already validated and published); with
    :class:`LiveWorkflows`, each request routes to the set current when it arrives."""
    app = FastAPI(title="hub ingress", version="1")
    live = workflows if isinstance(workflows, LiveWorkflows) else None
    fixed = () if isinstance(workflows, LiveWorkflows) else tuple(workflows)

    def current() -> tuple[Workflow, ...]:
        return live.workflows if live is not None else fixed

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        try:
            await redis.ping()
        except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
            return _error(503, "Redis is unreachable")
        return JSONResponse({"status": "ok", "workflows": len(current())})

    @app.get("/workflows")
    async def list_workflows() -> dict[str, Any]:
        return {
            "workflows": [
                {
                    "name": wf.name,
                    "revision": wf.revision,
                    "source": wf.webhook.source,
                    "event": wf.webhook.event,
                }
                for wf in current()
                if wf.webhook is not None
            ]
        }

    @app.post("/hooks/{source}", status_code=202)
    async def receive(source: str, request: Request) -> JSONResponse:
        workflows = current()
        sources = known_sources(workflows)
        if source not in sources:
            return _error(
                404,
                f"unknown source '{source}': no workflow listens to it",
                known_sources=sorted(sources),
            )
        raw = await request.body()
        if len(raw) > settings.hub_max_body_bytes:
            return _error(
                413,
                f"body of {len(raw)} bytes is over the {settings.hub_max_body_bytes}-byte limit",
            )
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _error(400, f"body is not valid JSON: {exc}")
        event_type = request.headers.get("x-event-type") or json_path(
            body, settings.hub_event_type_path
        )
        if not isinstance(event_type, str) or not event_type:
            return _error(
                400,
                "event type missing: send an X-Event-Type header or a "
                f"'{settings.hub_event_type_path}' field",
            )
        event_id = str(
            request.headers.get("x-event-id")
            or request.headers.get("webhook-id")
            or json_path(body, settings.hub_event_id_path)
            or uuid.uuid4().hex
        )
        seen_key = f"hub:seen:{source}:{event_id}"
        try:
            fresh = await redis.set(seen_key, PENDING, nx=True, ex=PENDING_SECONDS)
            if not fresh:
                previous = await redis.get(seen_key)
                if previous is None or previous == PENDING.encode():
                    return _error(
                        409,
                        f"event '{event_id}' is being accepted right now; retry in a few seconds",
                    )
                return JSONResponse({**json.loads(previous), "duplicate": True}, 200)
        except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
            return _error(503, "the hub cannot store events right now; retry later")

        matched, skipped = [], []
        for wf in match_workflows(workflows, source, event_type):
            reason = _filtered_out(wf, body)
            if reason is None:
                matched.append(wf)
            else:
                skipped.append({"workflow": wf.name, "reason": reason})
        runs = [
            {"workflow": wf.name, "revision": wf.revision, "run_id": uuid.uuid4().hex}
            for wf in matched
        ]

        def enqueue() -> None:
            for wf, run in zip(matched, runs, strict=True):
                ctx = new_context(
                    event=body,
                    event_id=event_id,
                    source=source,
                    event_type=event_type,
                    run_id=run["run_id"],
                )
                compile_run(celery, wf, ctx, event_id=event_id, run_id=run["run_id"]).apply_async()

        try:
            await run_in_threadpool(enqueue)
        except Exception:
            log.exception("enqueue failed for %s event %s", source, event_id)
            await _forget(redis, seen_key)
            return _error(503, "the hub cannot store events right now; retry later")
        answer = {
            "event_id": event_id,
            "source": source,
            "event_type": event_type,
            "runs": runs,
            "skipped": skipped,
        }
        try:
            await redis.set(seen_key, json.dumps(answer), ex=settings.hub_dedupe_seconds)
        except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
            log.warning("event %s accepted but its dedupe record was not stored", event_id)
        log.info("event %s %s/%s: %d run(s)", event_id, source, event_type, len(runs))
        return JSONResponse({**answer, "duplicate": False}, status_code=202)

    return app


def _filtered_out(wf: Workflow, body: Any) -> str | None:
    """Why the workflow-level ``if`` keeps this event out, or None to run it."""
    if wf.if_ is None:
        return None
    where = f"workflow '{wf.name}' field 'if'"
    try:
        return None if truthy(wf.if_, {"event": body}, where=where) else "if: false"
    except TemplateError as exc:
        return f"if: {exc}"


async def _forget(redis: aioredis.Redis, key: str) -> None:
    try:
        await redis.delete(key)
    except (aioredis.ConnectionError, aioredis.TimeoutError, OSError):
        log.warning("could not clear dedupe key %s", key)
