"""Reading a webhook delivery: authentication, content, event type and id.

In this order, each refusal a :class:`Refused` with the status the ingress answers and
a message the sender's developer can act on: authentication 401, a Content-Type that is
not JSON 415, an empty body or one that is not RFC 8259 JSON 400
(:mod:`hub.intake.json_body`: not UTF-8, nested too deep, ``NaN``, a key twice, ...), no
event type or id where the source says, or one too long or with control characters
(:mod:`hub.intake.labels`) 400. An event without an id from a source that does not
require one gets a new one, or where the source says so (and in a batch), an id derived
from its content.
The ingress answers 404 (:func:`unknown_source`) and 413 (body over the limit) before
it has a whole delivery to read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from hub.core import HubError, new_hex
from hub.intake.delivery import Event, Webhook
from hub.intake.json_body import BadBody, parse_json
from hub.intake.labels import MAX_LABEL_LENGTH, label_problem
from hub.intake.signatures import AuthFailed
from hub.intake.sources import Source

__all__ = [
    "MAX_ID_LENGTH",
    "Refused",
    "content_id",
    "internal_source",
    "is_json",
    "parse_webhook",
    "read_event",
    "read_webhook",
    "type_and_id",
    "unknown_source",
]

#: The longest event type or id accepted.
MAX_ID_LENGTH = MAX_LABEL_LENGTH


class Refused(HubError):
    """The delivery is refused: ``status`` to answer and a ``message`` for the sender."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def unknown_source(name: str) -> Refused:
    """The 404 for a delivery to a source the hub does not serve."""
    return Refused(
        404,
        f"unknown source '{name}': nothing is configured to receive POST /hooks/{name}; "
        "check the URL",
    )


def internal_source(name: str) -> Refused:
    """The 403 for a delivery to the built-in source of the hub's own events."""
    return Refused(
        403,
        f"source '{name}' carries the hub's own events (run.failed, ...), which come only "
        "from inside the hub: nothing may POST to it",
    )


def is_json(content_type: str) -> bool:
    """True for ``application/json`` and ``application/*+json`` (parameters ignored)."""
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def read_webhook(delivery: Webhook, new_id: Callable[[], str] = new_hex) -> Event:
    """The event ``delivery`` carries; :class:`Refused` when the ingress refuses it."""
    event = parse_webhook(delivery)
    return read_event(delivery, event, new_id)


def parse_webhook(delivery: Webhook) -> Any:
    """The JSON body of ``delivery`` once authenticated; :class:`Refused` when the
    ingress refuses it (authentication, content type, JSON)."""
    source, headers, body = delivery.source, delivery.headers, delivery.body
    try:
        source.verifier.verify(
            headers, body, delivery.received_at, method=delivery.method, url=delivery.url
        )
    except AuthFailed as exc:
        raise Refused(401, f"authentication failed: {exc.reason}") from None
    content_type = headers.get("content-type")
    if content_type and not is_json(content_type):
        raise Refused(
            415, f"Content-Type '{content_type}' is not JSON: send the event as application/json"
        )
    if not body.strip():
        raise Refused(400, "the body is empty: send the event as a JSON document")
    try:
        event, _text = parse_json(body, source.max_json_depth)
    except BadBody as exc:
        raise Refused(400, exc.message) from None
    return event


def read_event(delivery: Webhook, event: Any, new_id: Callable[[], str] = new_hex) -> Event:
    """The event of a delivery whose body ``event`` is one event: its type and id."""
    source = delivery.source
    event_type, event_id, hashed = type_and_id(source, delivery.headers, event, new_id)
    try:  # UTF-8 (parse_webhook refused anything else), a byte order mark aside
        text: str | None = delivery.body.decode().removeprefix("\ufeff")
    except UnicodeDecodeError:
        text = None
    return Event(source.name, event_type, event_id, event, text, hashed)


def type_and_id(
    source: Source,
    headers: Mapping[str, str],
    event: Any,
    new_id: Callable[[], str],
    where: str = "",
) -> tuple[str, str, bool]:
    """``(type, id, id is a hash of the content)`` of ``event`` as ``source`` says;
    :class:`Refused` (400, prefixed with ``where``) without a usable type or id."""
    event_type = source.event_type(headers, event)
    if not isinstance(event_type, str) or not event_type:
        raise Refused(
            400, f"{where}event type missing or not a short string: send {source.describe_type()}"
        )
    _check_label(where, "event type", event_type)
    event_id = source.event_id(headers, event)
    hashed = False
    if event_id is None or event_id == "":
        if source.id_required:
            raise Refused(400, f"{where}event id missing: send {source.describe_id()}")
        hashed = source.id_fallback == "content"
        event_id = content_id(event) if hashed else new_id()
    elif isinstance(event_id, bool) or not isinstance(event_id, str | int):
        raise Refused(
            400, f"{where}the event id must be a string or an integer ({source.describe_id()})"
        )
    event_id = str(event_id)
    _check_label(where, "event id", event_id)
    return event_type, event_id, hashed


def _check_label(where: str, kind: str, value: str) -> None:
    problem = label_problem(value)
    if problem is not None:
        raise Refused(400, f"{where}the {kind} {problem}: send a short printable string")


def content_id(event: Any) -> str:
    """An id derived from ``event``'s content: the same for the same JSON value however
    it was written (key order, spacing)."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "content-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
