"""Batched deliveries: one request that carries many events (HubSpot posts an array).

A source with ``batch`` says where the array is: the body itself, or a path in it. Each
element is an event of its own: its type and id are read in the element as the source
says (headers, the same for every element, may give a type), and an element without an
id gets one derived from its content (:func:`~hub.intake.webhook.content_id`), so a
redelivered batch dedupes element by element. An element the ingress cannot read
refuses the whole delivery (400, naming the element), as the one-event path would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.intake.delivery import Event, Webhook
from hub.intake.routing import json_path
from hub.intake.webhook import Refused, type_and_id

__all__ = ["read_batch"]


def read_batch(delivery: Webhook, body: Any, new_id: Callable[[], str]) -> list[Event]:
    """The events of a batched delivery whose parsed body is ``body``, in order;
    :class:`~hub.intake.webhook.Refused` (400) when the array or an element is unusable."""
    source = delivery.source
    assert source.batch is not None
    elements = _elements(body, source.batch)
    events: list[Event] = []
    for number, element in enumerate(elements, start=1):
        where = f"event {number} of the batch: "
        if not isinstance(element, dict):
            raise Refused(400, f"{where}an event is a JSON object, not {_kind(element)}")
        event_type, event_id, hashed = type_and_id(source, delivery.headers, element, new_id, where)
        events.append(Event(source.name, event_type, event_id, element, None, hashed))
    return events


def _elements(body: Any, path: str) -> list[Any]:
    if path == "":
        if not isinstance(body, list):
            raise Refused(400, f"this source takes a JSON array of events, not {_kind(body)}")
        return body
    found = json_path(body, path)
    if found is None:
        raise Refused(400, f"this source takes an array of events at '{path}', and there is none")
    if not isinstance(found, list):
        raise Refused(400, f"this source takes an array of events at '{path}', not {_kind(found)}")
    return found


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {dict: "an object", list: "an array", str: "a string", bool: "true/false"}
    return names.get(type(value), "a number")
