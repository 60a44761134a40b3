"""Deliveries: the ways an event reaches the hub, as small typed values.

- :class:`Webhook`: a ``POST /hooks/{source}`` as received: the source it was sent to,
  its headers and its raw body. The intake authenticates it, parses it and reads its
  event type and id where the source says (:mod:`hub.intake.webhook`).
- :class:`PolledRecord`: one record a poll hands on to its workflow, with the event id
  and type the poll gives it (``billing-invoice:<id>:<updatedAt>``, ``invoice.poll``).
- :class:`HubEvent`: an event the hub emits about itself (``run.failed``, ...) into its
  built-in source ``hub``; it comes only from inside the hub (never a ``POST``).
- :class:`DeadLetterReplay`: a dead run sent again (``hub dlq replay``) as a new run of the
  workflow it names, from the start or from the context its failed step was given.

All are values, never changed once made. :class:`Webhook` and :class:`Event` are built
for every delivery the ingress takes, so they are plain slotted dataclasses: a frozen
one costs several times more to build.
A ``hub test`` case is sent as one of these: an event for a webhook workflow is signed
with its source's scheme and sent as a :class:`Webhook`, a record for a poll workflow as
a :class:`PolledRecord`. :class:`Event` is what a delivery says once read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.intake.sources import HUB_SOURCE, Source
from hub.workflow import RunContext, Workflow

__all__ = ["DeadLetterReplay", "Delivery", "Event", "HubEvent", "PolledRecord", "Webhook"]


@dataclass(slots=True)
class Event:
    """A delivery once read: who sent it, its type and id, its body.

    ``text`` is the body's JSON text as received when it is UTF-8 (runs carry it as is
    instead of encoding ``body`` again), else None (also for an element of a batch).
    ``id_from_content``: the event came without an id and ``event_id`` is a hash of its
    content.
    """

    source: str
    event_type: str
    event_id: str
    body: Any
    text: str | None = None
    id_from_content: bool = False


@dataclass(slots=True)
class Webhook:
    """A delivery to ``POST /hooks/{source}``: ``headers`` with lower-case names, the raw
    ``body``, and ``received_at`` (epoch seconds) to check signature times against.

    ``method`` and ``url`` (the full URL the sender called, ``""`` when the source's
    scheme does not sign it) are for schemes that sign them."""

    source: Source
    headers: Mapping[str, str]
    body: bytes
    received_at: float
    method: str = "POST"
    url: str = ""


@dataclass(frozen=True, slots=True)
class PolledRecord:
    """One record a poll of ``workflow`` hands on, as the event ``event_id``."""

    workflow: Workflow
    source: str
    event_type: str
    event_id: str
    record: Any


@dataclass(frozen=True, slots=True)
class DeadLetterReplay:
    """Dead run ``replay_of`` again as run ``run_id`` of ``workflow``.

    ``resume`` is the context the failed step was given (the run goes on from there), or
    None to start from the event.
    """

    workflow: Workflow
    run_id: str
    replay_of: str
    event: Event
    resume: RunContext | None = None


@dataclass(frozen=True, slots=True)
class HubEvent:
    """An event of the hub itself, ``event_type`` (``run.failed``, ...) with id
    ``event_id`` and ``body``, from the built-in source ``hub``."""

    event_type: str
    event_id: str
    body: Mapping[str, Any]

    @property
    def source(self) -> str:
        """Always the built-in source ``hub``."""
        return HUB_SOURCE


Delivery = Webhook | PolledRecord | DeadLetterReplay | HubEvent
