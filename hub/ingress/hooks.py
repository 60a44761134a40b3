"""``POST /hooks/{source}``: from a delivery to an accepted event with its runs enqueued.

In order: unknown source 404 (403 for the built-in source ``hub``: the hub's own events
cannot be forged from outside); 503 with ``Retry-After`` when an operator paused the
source (:mod:`hub.ingress.paused_sources`); 429 with ``Retry-After`` when this client failed to
authenticate to this source too often lately (:mod:`hub.ingress.auth_failures`: nothing
read, no HMAC computed); body over the source's limit 413 (read no further); then
the intake (:class:`hub.intake.plan.Intake`) reads the delivery (authentication 401,
content type 415, JSON 400, event type and id 400) and plans its runs (routing, the
workflow-level ``if``); here each planned run becomes a Celery message, and the atomic
accept in Redis dedupes on the event id the plan names: 202 for a new event (also with
zero runs), 200 with ``duplicate: true`` for an event id already accepted within the
source's dedupe window, 503 with ``Retry-After`` when Redis cannot take it. Nothing here
blocks the event loop.

A batched delivery (a source with ``batch``) is answered 202 with ``events``, one entry
per element in order, each deduped on its own; all its elements are stored in one script
call, or none (503). A verification handshake is answered as the intake says, before
anything is stored; ``GET /hooks/{source}`` answers only a source's ``hub-challenge``.
The URL the sender called (:mod:`hub.ingress.public_url`) is built only for a source
whose scheme signs it.

:class:`Hooks` is a plain ASGI app: the ingress hands it deliveries before Starlette's
routing and middleware, which on this path would cost more than the work itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse

from hub.history import log_event
from hub.ingress.auth_failures import AuthFailures
from hub.ingress.client_address import ClientAddress
from hub.ingress.event_store import RETRY_AFTER_SECONDS, Entry, EventStore, StoreUnavailable
from hub.ingress.paused_sources import PausedSources
from hub.ingress.public_url import PublicUrl
from hub.ingress.publish import QueuedMessage, RunPublisher
from hub.intake import (
    HUB_SOURCE,
    Batch,
    Intake,
    Plan,
    Refused,
    Reply,
    Source,
    Webhook,
    internal_source,
    unknown_source,
)
from hub.workflow import Workflow

__all__ = ["Answer", "Hooks", "error"]

log = logging.getLogger("hub.ingress")
PREFIX = "/hooks/"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
#: status, JSON body, extra headers
Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]


_JSON = (b"content-type", b"application/json")


def _json(status: int, content: Any, headers: list[tuple[bytes, bytes]] | None = None) -> Answer:
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return status, text.encode(), [_JSON, *(headers or [])]


def _problem(status: int, message: str, retry_after: float | None = None) -> Answer:
    headers = []
    if status in (429, 503):
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


def _not_served(name: str) -> Refused:
    """403 for the built-in source ``hub`` (its events come only from inside), else 404."""
    return internal_source(name) if name == HUB_SOURCE else unknown_source(name)


def _too_many_failures(source: str, wait: int) -> Answer:
    return _problem(
        429,
        f"too many failed authentications from this address to '{source}': fix the "
        f"signature or secret, then retry after {wait} s",
        retry_after=wait,
    )


class Hooks:
    """The webhook endpoint, with its sources, workflows, publisher and store injected;
    ``public_url`` builds the URL a sender called; ``failures`` limits failed
    authentication per source and ``clients`` address; ``paused`` says which sources an
    operator paused (default: none)."""

    def __init__(
        self,
        sources: Mapping[str, Source],
        workflows: list[Workflow],
        publisher: RunPublisher,
        store: EventStore,
        clock: Callable[[], float],
        public_url: PublicUrl | None = None,
        *,
        clients: ClientAddress | None = None,
        failures: AuthFailures | None = None,
        paused: PausedSources | None = None,
    ) -> None:
        self._sources = sources
        self._paused = paused
        self._publisher = publisher
        self._store = store
        self._clock = clock
        self._intake = Intake(workflows)
        self._public_url = public_url or PublicUrl()
        self._clients = clients or ClientAddress()
        self._failures = failures or AuthFailures(0, 60.0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI: ``POST /hooks/{source}``, and ``GET`` for a verification handshake."""
        try:
            if scope["method"] == "GET":
                status, body, extra = self.challenge(scope)
            else:
                status, body, extra = await self.deliver(scope, receive)
        except _Gone:
            return
        except Exception:
            log.exception("unexpected error on POST %s", scope.get("path"))
            status, body, extra = _problem(
                500, "the hub failed on this request; it is logged, retry later"
            )
        if 400 <= status < 500 and status not in (401, 429):  # those: a summary per window
            log.info(
                "%s %s refused with %d: %s", scope["method"], scope["path"], status, body.decode()
            )
        headers = [(b"content-length", str(len(body)).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def deliver(self, scope: Scope, receive: Receive) -> Answer:
        """Read, check, route and accept one delivery; the answer to send."""
        name = scope["path"][len(PREFIX) :]
        source = self._sources.get(name) if name != HUB_SOURCE else None
        if source is None:
            unknown = _not_served(name)
            return _problem(unknown.status, unknown.message)
        if self._paused is not None and (held := await self._paused.retry_after(name)):
            message = f"source '{name}' is paused by the hub's operator: send it again later"
            return _problem(503, message, retry_after=held)
        client = self._clients.of(scope)
        if (wait := self._failures.retry_after(name, client)) is not None:
            return _too_many_failures(name, wait)
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
        url = self._public_url(scope, headers) if source.signs_url else ""
        try:
            plan = self._intake.plan(Webhook(source, headers, body, now, "POST", url))
        except Refused as exc:
            if exc.status == 401:
                self._failures.refused(name, client, exc.message)
            return _problem(exc.status, exc.message)
        if isinstance(plan, Plan):
            return await self._accept(plan, now)
        if isinstance(plan, Batch):
            return await self._accept_batch(source, plan, now)
        return _reply(scope, plan)

    def challenge(self, scope: Scope) -> Answer:
        """``GET /hooks/{source}``: the answer to a verification handshake."""
        name = scope["path"][len(PREFIX) :]
        source = self._sources.get(name) if name != HUB_SOURCE else None
        if source is None:
            unknown = _not_served(name)
            return _problem(unknown.status, unknown.message)
        if source.challenge is None:
            status, body, extra = _problem(
                405,
                f"GET /hooks/{name} answers only a verification handshake (hub.challenge), "
                "which this source does not have: POST events to it",
            )
            return status, body, [*extra, (b"allow", b"POST")]
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        return _reply(scope, source.challenge.answer(query))

    async def _accept(self, plan: Plan, now: float) -> Answer:
        event, dedupe_seconds = plan.event, plan.dedupe_seconds
        assert dedupe_seconds is not None  # a webhook event is always deduped
        received_at = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
        record, messages = self._record(plan, received_at)
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
        log_event(
            event.source, event.event_id, status, event_type=event.event_type, runs=len(messages)
        )
        if outcome.duplicate:
            return _json(200, {**outcome.record, "duplicate": True})
        return _json(202, {**record, "duplicate": False})

    async def _accept_batch(self, source: Source, batch: Batch, now: float) -> Answer:
        """A batch's events stored together; 202 with one entry per event, in order."""
        received_at = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
        entries = []
        for plan in batch.plans:
            record, messages = self._record(plan, received_at)
            entries.append(Entry(plan.event.event_id, record, messages))
        try:
            outcomes = await self._store.accept_batch(source.name, entries, source.dedupe_seconds)
        except StoreUnavailable as exc:
            log.warning("%s batch of %d not accepted: %s", source.name, len(entries), exc)
            return _problem(
                503,
                "the hub cannot store events right now; retry later",
                retry_after=exc.retry_after,
            )
        events = []
        for plan, entry, outcome in zip(batch.plans, entries, outcomes, strict=True):
            event, duplicate = plan.event, outcome.duplicate
            runs = len(entry.messages)
            status = "duplicate" if duplicate else "accepted"
            log_event(source.name, event.event_id, status, event_type=event.event_type, runs=runs)
            answer = {
                "event_id": event.event_id,
                "event_type": event.event_type,
                "duplicate": duplicate,
                "runs": outcome.record.get("runs", []),
                "skipped": outcome.record.get("skipped", []),
            }
            if event.id_from_content:
                answer["id_from_content"] = True
            events.append(answer)
        return _json(202, {"source": source.name, "received_at": received_at, "events": events})

    def _record(self, plan: Plan, received_at: str) -> tuple[dict[str, Any], list[QueuedMessage]]:
        """The event's record and its runs' messages."""
        event = plan.event
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
        record: dict[str, Any] = {
            "event_id": event.event_id,
            "source": event.source,
            "event_type": event.event_type,
            "received_at": received_at,
            "runs": runs,
            "skipped": skipped,
        }
        if event.id_from_content:
            record["id_from_content"] = True
        return record, messages


def _reply(scope: Scope, reply: Reply) -> Answer:
    """A handshake's answer, logged as one (nothing was stored)."""
    if reply.status < 400:
        log.info("%s %s answered %s", scope["method"], scope["path"], reply.what)
    return reply.status, reply.body, [(b"content-type", reply.content_type.encode())]
