"""``POST /hooks/{source}``: from a delivery to an accepted event with its runs enqueued.

In order: unknown source 404, body over the source's limit 413 (read no further),
authentication 401, content type 415, JSON 400, event type and id 400; then routing,
the workflow-level ``if``, one Celery message per matching workflow, and the atomic
accept in Redis: 202 for a new event (also with zero runs), 200 with ``duplicate: true``
for an event id already accepted within the source's dedupe window, 503 with
``Retry-After`` when Redis cannot take it. Nothing here blocks the event loop.

:class:`Hooks` is a plain ASGI app: the ingress hands it deliveries before Starlette's
routing and middleware, which on this path would cost more than the work itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from starlette.responses import JSONResponse

from hub.core.errors import TemplateError
from hub.core.ids import new_hex
from hub.history.events_log import log_event
from hub.ingress.event_store import RETRY_AFTER_SECONDS, EventStore, StoreUnavailable
from hub.ingress.publish import RunPublisher
from hub.intake.routing import match_workflows
from hub.intake.signatures import AuthFailed
from hub.intake.sources import Source
from hub.worker.runtime import new_context
from hub.workflow.model import Workflow
from hub.workflow.templates import truthy

__all__ = ["MAX_ID_LENGTH", "Answer", "Hooks", "error"]

log = logging.getLogger("hub.ingress")
MAX_ID_LENGTH = 200
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


def _is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


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
        webhooks = [wf for wf in workflows if wf.webhook is not None]
        self._match = lru_cache(maxsize=4096)(
            lambda source, event_type: tuple(match_workflows(webhooks, source, event_type))
        )

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
            return _problem(
                404,
                f"unknown source '{name}': nothing is configured to receive "
                f"POST /hooks/{name}; check the URL",
            )
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
            source.verifier.verify(headers, body, now)
        except AuthFailed as exc:
            return _problem(401, f"authentication failed: {exc.reason}")
        content_type = headers.get("content-type")
        if content_type and not _is_json(content_type):
            return _problem(
                415,
                f"Content-Type '{content_type}' is not JSON: send the event as application/json",
            )
        if not body.strip():
            return _problem(400, "the body is empty: send the event as a JSON document")
        try:
            event = json.loads(body)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            return _problem(400, f"the body is not valid JSON: {exc}")
        event_type = source.event_type(headers, event)
        if not isinstance(event_type, str) or not event_type or len(event_type) > MAX_ID_LENGTH:
            return _problem(
                400, f"event type missing or not a short string: send {source.describe_type()}"
            )
        event_id = source.event_id(headers, event)
        if event_id is None or event_id == "":
            if source.id_required:
                return _problem(400, f"event id missing: send {source.describe_id()}")
            event_id = new_hex()
        elif isinstance(event_id, bool) or not isinstance(event_id, str | int):
            return _problem(
                400, f"the event id must be a string or an integer ({source.describe_id()})"
            )
        event_id = str(event_id)
        if len(event_id) > MAX_ID_LENGTH:
            return _problem(400, f"the event id is longer than {MAX_ID_LENGTH} characters")
        try:
            text: str | None = body.decode()
        except UnicodeDecodeError:  # JSON in UTF-16/32: encode it again instead
            text = None
        return await self._accept(source, event, text, event_type, event_id, now)

    async def _accept(
        self,
        source: Source,
        event: Any,
        text: str | None,
        event_type: str,
        event_id: str,
        now: float,
    ) -> Answer:
        runs: list[dict[str, str]] = []
        skipped: list[dict[str, str]] = []
        messages = []
        for wf in self._match(source.name, event_type):
            reason = _filtered_out(wf, event)
            if reason is not None:
                skipped.append({"workflow": wf.name, "reason": reason})
                continue
            run_id = new_hex()
            ctx = new_context(
                event=event,
                event_id=event_id,
                source=source.name,
                event_type=event_type,
                run_id=run_id,
            )
            messages.append(
                self._publisher.message(wf, ctx, event_id=event_id, run_id=run_id, event_json=text)
            )
            runs.append({"workflow": wf.name, "revision": wf.revision, "run_id": run_id})
        record = {
            "event_id": event_id,
            "source": source.name,
            "event_type": event_type,
            "received_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
            "runs": runs,
            "skipped": skipped,
        }
        try:
            outcome = await self._store.accept(
                source.name, event_id, record, messages, source.dedupe_seconds
            )
        except StoreUnavailable as exc:
            log.warning("%s event %s not accepted: %s", source.name, event_id, exc)
            return _problem(
                503,
                "the hub cannot store events right now; retry later",
                retry_after=exc.retry_after,
            )
        status = "duplicate" if outcome.duplicate else "accepted"
        log_event(source.name, event_id, status, event_type=event_type, runs=len(runs))
        if outcome.duplicate:
            return _json(200, {**outcome.record, "duplicate": True})
        return _json(202, {**record, "duplicate": False})


def _filtered_out(wf: Workflow, event: Any) -> str | None:
    """Why the workflow-level ``if`` keeps this event out, or None to run it."""
    if wf.if_ is None:
        return None
    where = f"workflow '{wf.name}' field 'if'"
    try:
        return None if truthy(wf.if_, {"event": event}, where=where) else "if: false"
    except TemplateError as exc:
        return f"if: {exc}"
