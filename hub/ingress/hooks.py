"""``POST /hooks/{source}``: from a delivery to an accepted event with its runs enqueued.

In order: unknown source 404, body over the source's limit 413 (read no further); then
the intake (:class:`hub.intake.plan.Intake`) reads the delivery (authentication 401,
content type 415, JSON 400, event type and id 400) and plans its runs (routing, the
workflow-level ``if``); here each planned run becomes a Celery message, and the atomic
accept in Redis dedupes on the event id the plan names: 202 for a new event (also with
zero runs), 200 with ``duplicate: true`` for an event id already accepted within the
source's dedupe window, 503 with ``Retry-After`` when Redis cannot take it. Nothing here
blocks the event loop.

:class:`Hooks` is a plain ASGI app: the ingress hands it deliveries before Starlette's
routing and middleware, which on this path would cost more than the work itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse

from hub.history import log_event
from hub.ingress.event_store import RETRY_AFTER_SECONDS, EventStore, StoreUnavailable
from hub.ingress.publish import RunPublisher
from hub.intake import Intake, Plan, Refused, Source, Webhook, unknown_source
from hub.workflow import Workflow

__all__ = ["Answer", "Hooks", "error"]

log = logging.getLogger("hub.ingress")
PREFIX = "/hooks/"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
#: status, JSON body, extra headers
Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]


def _json(status: int, content: Any, headers: list[tuple[bytes, bytes]] | None = None) -> Answer:
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return status, text.encode(), headers or []


def _problem(status: int, message: str, retry_after: float | None = None) -> Answer:
    headers = []
    if status == 503:
        headers = [(b"retry-after", str(int(retry_after or RETRY_AFTER_SECONDS)).encode())]
    return _json(status, {"error": message}, headers)


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    """A JSON error body a sender's developer can act on (for Starlette routes)."""
    retry_after = extra.pop("retry_after", None) or RETRY_AFTER_SECONDS
    headers = {"Retry-After": str(int(retry_after))} if status == 503 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass


async def _read(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class Hooks:
    """The webhook endpoint, with its sources, workflows, publisher and store injected."""

    def __init__(
        self,
        sources: Mapping[str, Source],
        workflows: list[Workflow],
        publisher: RunPublisher,
        store: EventStore,
        clock: Callable[[], float],
    ) -> None:
        self._sources = sources
        self._publisher = publisher
        self._store = store
        self._clock = clock
        self._intake = Intake(workflows)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI: ``POST /hooks/{source}``."""
        try:
            status, body, extra = await self.deliver(scope, receive)
        except _Gone:
            return
        except Exception:
            log.exception("unexpected error on POST %s", scope.get("path"))
            status, body, extra = _problem(
                500, "the hub failed on this request; it is logged, retry later"
            )
        if 400 <= status < 500:  # 503s and 500s are logged where they happen
            log.info("POST %s refused with %d: %s", scope["path"], status, body.decode())
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def deliver(self, scope: Scope, receive: Receive) -> Answer:
        """Read, check, route and accept one delivery; the answer to send."""
        name = scope["path"][len(PREFIX) :]
        source = self._sources.get(name)
        if source is None:
            unknown = unknown_source(name)
            return _problem(unknown.status, unknown.message)
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            headers.setdefault(key.decode("latin-1"), value.decode("latin-1"))
        limit = source.max_body_bytes
        declared = headers.get("content-length", "")
        try:
            if declared.isdigit() and int(declared) > limit:
                raise _TooLarge
            body = await _read(receive, limit)
        except _TooLarge:
            return _problem(413, f"the body is over this source's limit of {limit} bytes")
        now = self._clock()
        try:
            plan = self._intake.plan(Webhook(source, headers, body, now))
        except Refused as exc:
            return _problem(exc.status, exc.message)
        return await self._accept(plan, now)

    async def _accept(self, plan: Plan, now: float) -> Answer:
        event, dedupe_seconds = plan.event, plan.dedupe_seconds
        assert dedupe_seconds is not None  # a webhook event is always deduped
        runs: list[dict[str, str]] = []
        skipped = [{"workflow": skip.workflow, "reason": skip.reason} for skip in plan.skipped]
        messages = []
        for run in plan.runs:
            wf = run.workflow
            messages.append(
                self._publisher.message(
                    wf,
                    run.context,
                    event_id=event.event_id,
                    run_id=run.run_id,
                    event_json=event.text,
                )
            )
            runs.append({"workflow": wf.name, "revision": wf.revision, "run_id": run.run_id})
        record = {
            "event_id": event.event_id,
            "source": event.source,
            "event_type": event.event_type,
            "received_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
            "runs": runs,
            "skipped": skipped,
        }
        try:
            outcome = await self._store.accept(
                event.source, event.event_id, record, messages, dedupe_seconds
            )
        except StoreUnavailable as exc:
            log.warning("%s event %s not accepted: %s", event.source, event.event_id, exc)
            return _problem(
                503,
                "the hub cannot store events right now; retry later",
                retry_after=exc.retry_after,
            )
        status = "duplicate" if outcome.duplicate else "accepted"
        log_event(event.source, event.event_id, status, event_type=event.event_type, runs=len(runs))
        if outcome.duplicate:
            return _json(200, {**outcome.record, "duplicate": True})
        return _json(202, {**record, "duplicate": False})
