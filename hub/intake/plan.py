"""The one intake: a delivery in, a plan of runs out.

:class:`Intake` turns every kind of delivery (:mod:`hub.intake.delivery`) into a
:class:`Plan`: the event (source, type, id, body), the runs to start, each with its run
id and starting context, the workflows the workflow-level ``if`` kept out with the
reason, and the event id to dedupe on. It does no I/O: the ingress, the poll task,
``hub dlq replay`` and ``hub test`` carry the plan out (the ingress and ``hub test``
dedupe where the plan says, then send its runs).

- Routing: a webhook event goes to every webhook workflow whose trigger names its source
  and matches its type (cached per source and type), the hub's own events (source
  ``hub``) likewise; a polled record to the workflow that polled it; a replay to the
  workflow it names.
- The workflow-level ``if`` (:func:`kept_out`) is evaluated here for webhook events and
  polled records, with only ``event`` in scope. A replay repeats a run that passed it.
- Dedupe: a webhook event on its source and id, for the source's window. Polled records
  are not deduped by id (the poll's cursor remembers what it handed on) and a replay is
  a new run of an event already accepted. The hub's own events have fresh ids and are
  not deduped either.
- A webhook to a source with ``batch`` is a :class:`Batch`: one plan per element, each
  routed, filtered and deduped on its own. A verification handshake
  (:mod:`hub.intake.handshakes`) is a :class:`~hub.intake.handshakes.Reply` to answer
  at once: no event, no run. A source with neither takes the path it always took.

A plan and its parts are values, never changed once made; like the deliveries they are
plain slotted dataclasses, not frozen ones, which would cost the ingress's hot path
several times more to build.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, overload

from hub.core import TemplateError, new_hex
from hub.intake.batch import read_batch
from hub.intake.delivery import (
    DeadLetterReplay,
    Delivery,
    Event,
    HubEvent,
    PolledRecord,
    Webhook,
)
from hub.intake.handshakes import Reply, answer
from hub.intake.routing import match_workflows
from hub.intake.webhook import parse_webhook, read_event, read_webhook
from hub.workflow import RunContext, Workflow, new_context, truthy

__all__ = ["IF_FALSE", "Batch", "Intake", "Plan", "PlannedRun", "Skip", "kept_out"]

#: The reason of a workflow whose ``if`` is false for the event.
IF_FALSE = "if: false"


@dataclass(slots=True)
class PlannedRun:
    """A run to start: ``workflow`` as run ``run_id``, starting from ``context``."""

    workflow: Workflow
    run_id: str
    context: RunContext


@dataclass(slots=True)
class Skip:
    """A routed workflow the event does not start, and why (``if: false``, or the
    error that stopped its ``if``)."""

    workflow: str
    reason: str

    @property
    def failed(self) -> bool:
        """True when the ``if`` could not be evaluated (the reason says why)."""
        return self.reason != IF_FALSE


@dataclass(slots=True)
class Plan:
    """What one delivery leads to.

    ``dedupe_seconds``: accept the event's id from its source once within that many
    seconds (the ingress's store, or ``hub test``'s, does it); None: not deduped by id.
    """

    event: Event
    runs: list[PlannedRun]
    skipped: list[Skip]
    dedupe_seconds: int | None

    @property
    def routed(self) -> bool:
        """True when some workflow listens to this event (whether or not it runs)."""
        return bool(self.runs or self.skipped)


@dataclass(slots=True)
class Batch:
    """A batched delivery: one plan per element, in the order they were sent."""

    plans: list[Plan]


def kept_out(wf: Workflow, event: Any) -> str | None:
    """Why the workflow-level ``if`` of ``wf`` keeps ``event`` out, or None to run it."""
    if wf.if_ is None:
        return None
    where = f"workflow '{wf.name}' field 'if'"
    try:
        return None if truthy(wf.if_, {"event": event}, where=where) else IF_FALSE
    except TemplateError as exc:
        return f"if: {exc}"


class Intake:
    """Plans for deliveries to ``workflows``; ``new_id`` gives run ids (and the ids of
    webhook events that come without one)."""

    def __init__(
        self, workflows: Iterable[Workflow], *, new_id: Callable[[], str] = new_hex
    ) -> None:
        webhooks = tuple(wf for wf in workflows if wf.webhook is not None)
        self.new_id = new_id
        self._route = lru_cache(maxsize=4096)(
            lambda source, event_type: tuple(match_workflows(webhooks, source, event_type))
        )

    def route(self, source: str, event_type: str) -> tuple[Workflow, ...]:
        """The webhook workflows an event of ``event_type`` from ``source`` goes to."""
        routed: tuple[Workflow, ...] = self._route(source, event_type)
        return routed

    @overload
    def plan(self, delivery: Webhook) -> Plan | Batch | Reply: ...

    @overload
    def plan(self, delivery: PolledRecord | DeadLetterReplay | HubEvent) -> Plan: ...

    def plan(self, delivery: Delivery) -> Plan | Batch | Reply:
        """The plan for ``delivery``; :class:`~hub.intake.webhook.Refused` when a webhook
        delivery is refused (the status and message to answer). A webhook may also be a
        :class:`Batch`, or a handshake's :class:`~hub.intake.handshakes.Reply`."""
        if isinstance(delivery, Webhook):
            if not delivery.source.plain:
                return self._webhook(delivery)
            event = read_webhook(delivery, self.new_id)
            runs, skipped = self._start(self._route(event.source, event.event_type), event)
            return Plan(event, runs, skipped, delivery.source.dedupe_seconds)
        if isinstance(delivery, PolledRecord):
            event = Event(delivery.source, delivery.event_type, delivery.event_id, delivery.record)
            runs, skipped = self._start((delivery.workflow,), event)
            return Plan(event, runs, skipped, None)
        if isinstance(delivery, HubEvent):
            body = dict(delivery.body)
            event = Event(delivery.source, delivery.event_type, delivery.event_id, body)
            runs, skipped = self._start(self._route(event.source, event.event_type), event)
            return Plan(event, runs, skipped, None)
        return self._replay(delivery)

    def _webhook(self, delivery: Webhook) -> Plan | Batch | Reply:
        """A webhook to a source with handshakes or batches."""
        source = delivery.source
        if any(not handshake.signed for handshake in source.handshakes):
            reply = answer(source.handshakes, _json_or_none(delivery.body), signed=False)
            if reply is not None:
                return reply
        body = parse_webhook(delivery)
        reply = answer(source.handshakes, body, signed=True)
        if reply is not None:
            return reply
        if source.batch is None:
            return self._webhook_plan(read_event(delivery, body, self.new_id), delivery)
        events = read_batch(delivery, body, self.new_id)
        return Batch([self._webhook_plan(event, delivery) for event in events])

    def _webhook_plan(self, event: Event, delivery: Webhook) -> Plan:
        runs, skipped = self._start(self._route(event.source, event.event_type), event)
        return Plan(event, runs, skipped, delivery.source.dedupe_seconds)

    def _start(
        self, workflows: Iterable[Workflow], event: Event
    ) -> tuple[list[PlannedRun], list[Skip]]:
        runs: list[PlannedRun] = []
        skipped: list[Skip] = []
        for wf in workflows:
            reason = kept_out(wf, event.body)
            if reason is not None:
                skipped.append(Skip(wf.name, reason))
                continue
            run_id = self.new_id()
            context = new_context(
                event=event.body,
                event_id=event.event_id,
                source=event.source,
                event_type=event.event_type,
                run_id=run_id,
            )
            runs.append(PlannedRun(wf, run_id, context))
        return runs, skipped

    def _replay(self, replay: DeadLetterReplay) -> Plan:
        event = replay.event
        if replay.resume is None:
            context = new_context(
                event=event.body,
                event_id=event.event_id,
                source=event.source,
                event_type=event.event_type,
                run_id=replay.run_id,
            )
        else:
            context = copy.deepcopy(replay.resume)
            context.pop("error", None)
            context["run_id"] = replay.run_id
            context.setdefault("steps", {})
            context.setdefault("skipped", [])
        context["replay_of"] = replay.replay_of
        run = PlannedRun(replay.workflow, replay.run_id, context)
        return Plan(event, [run], [], None)


def _json_or_none(body: bytes) -> Any:
    """``body`` parsed, or None when it is not JSON (the intake refuses it later)."""
    try:
        return json.loads(body)
    except ValueError:
        return None
