"""A case's events as deliveries, sent as a sender (or a poll) would send them.

An event for a webhook workflow becomes a :class:`~hub.intake.delivery.Webhook` to its
source, built from the real source files (``workflows/sources/``, or ``HUB_SOURCES``):

1. the case's ``headers`` (names are case-insensitive) and ``body``;
2. ``type`` and ``id``, when given, written where the source reads them first (its
   first header, else its first path in the body, else the parts of its first format:
   ``person.create`` into ``{meta.entity}.{meta.action}``); with no ``type`` given and
   none where the source reads it, the trigger's event when it names one type (no glob);
3. for a source with ``batch``, the body is the batch (a body that is one event, a
   mapping, is sent as a batch of one); ``type`` goes into each element, ``id`` into
   the only one;
4. signed with the source's scheme, for the URL :data:`CASE_URL`: the secrets of the
   test file and case, and for any other secret a source file names
   :data:`~hub.intake.demo.DEMO_SECRET`.

The intake then verifies and reads it as the ingress does, so a delivery the ingress
would refuse is refused here with the same status and message. A source that no file
describes but a workflow listens to takes deliveries without authentication, as in a
local run (``hub up``). An event for a poll workflow is a
:class:`~hub.intake.delivery.PolledRecord`: the record as the poll hands it on, its
``type`` (``<entity>.poll``) and ``id`` as the case gives them (without an ``id``, a new
one: the intake does not dedupe polled records by id, the poll's cursor does). An event
for a workflow listening to the built-in source ``hub`` is a
:class:`~hub.intake.delivery.HubEvent` as the hub emits it (``type`` from the case or the
trigger, the body as given with that ``type``).

:class:`SeenEvents` is the case's stand-in for the ingress's event store: it dedupes on
the event id the plan names, within the source's dedupe window on the case's clock.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from hub.core import HubError, Settings
from hub.intake import (
    HUB_SOURCE,
    Batch,
    Delivery,
    HubEvent,
    Intake,
    Locator,
    Plan,
    PolledRecord,
    Refused,
    Reply,
    Source,
    SourceConfig,
    Webhook,
    build_sources,
    json_path,
    load_sources,
    stand_in_secrets,
    unknown_source,
)
from hub.testing.expect import Outcome
from hub.testing.spec import EventSpec
from hub.workflow import Workflow

__all__ = [
    "CASE_URL",
    "CaseError",
    "CaseIntake",
    "CaseSources",
    "SeenEvents",
    "delivery_for",
    "signed_webhook",
]

_GLOB = re.compile(r"[*?\[]")


class CaseError(HubError):
    """A case's event cannot be sent as written (the message says what to give)."""


@dataclass(frozen=True)
class CaseSources:
    """The source files cases are sent through, and the sources workflows listen to."""

    configs: Mapping[str, tuple[SourceConfig, str]]
    listened: frozenset[str]

    @classmethod
    def load(cls, folder: Path, workflows: list[Workflow]) -> CaseSources:
        """The source files in ``folder`` (:class:`~hub.intake.sources.SourceError` when
        one is invalid), for ``workflows``."""
        listened = {wf.webhook.source for wf in workflows if wf.webhook is not None}
        return cls(load_sources(folder), frozenset(listened))

    def resolve(self, settings: Settings, secrets: Mapping[str, str]) -> dict[str, Source]:
        """The sources as a local ingress serves them, their secrets from ``secrets`` or
        stand-ins (:class:`~hub.core.errors.ConfigError` for a malformed secret)."""
        filled = stand_in_secrets(self.configs, secrets)
        local = settings.model_copy(
            update={"hub_secrets": {name: SecretStr(value) for name, value in filled.items()}}
        )
        return build_sources(self.configs, local, self.listened, local=True)


@dataclass
class SeenEvents:
    """Event ids accepted in one case, with when (dedupe as the ingress's store does)."""

    accepted: dict[tuple[str, str], float] = field(default_factory=dict)

    def accept(self, plan: Plan, now: float) -> bool:
        """True for an event not deduped, or whose id was not accepted within its window
        (it is recorded now)."""
        if plan.dedupe_seconds is None:
            return True
        key = (plan.event.source, plan.event.event_id)
        when = self.accepted.get(key)
        if when is not None and now - when < plan.dedupe_seconds:
            return False
        self.accepted[key] = now
        return True


def delivery_for(
    wf: Workflow,
    event: EventSpec,
    sources: Mapping[str, Source],
    *,
    now: float,
    new_id: Callable[[], str],
) -> Delivery:
    """``event`` of a case of ``wf`` as the delivery production would get.

    :class:`CaseError` when the event cannot be sent as written;
    :class:`~hub.intake.webhook.Refused` (404) for a source the ingress does not know.
    """
    if wf.trigger.poll is not None:
        return _polled(wf, event, new_id)
    hook = wf.webhook
    if hook is None:
        raise CaseError(
            f"'{wf.name}' is started by a schedule: `hub test` sends events to webhook "
            "and poll workflows only"
        )
    name = event.source or hook.source
    if name == HUB_SOURCE:
        return _hub_event(hook.event, event, new_id)
    source = sources.get(name)
    if source is None:
        raise unknown_source(name)
    default_type = None if _GLOB.search(hook.event) else hook.event
    return signed_webhook(source, event, default_type=default_type, now=now)


#: The URL ``hub test`` deliveries are signed for (schemes that sign the URL read it).
CASE_URL = "http://hub.test/hooks/{source}"


def signed_webhook(
    source: Source, event: EventSpec, *, default_type: str | None, now: float
) -> Webhook:
    """``event`` as a sender of ``source`` would POST it, signed with its verifier."""
    headers = {name.lower(): value for name, value in event.headers.items()}
    body = copy.deepcopy(event.body)
    if source.batch is not None:
        body = _batch(source, event, body, headers, default_type)
    else:
        body = _typed(source, event, body, headers, default_type)
        if event.id is not None:
            body = _place(source.id_at, event.id, headers, body, "id")
    event_id = "" if source.batch is not None else source.event_id(headers, body)
    if isinstance(event_id, bool) or not isinstance(event_id, str | int):
        event_id = ""
    if event_id == "" and source.id_required and source.batch is None:
        raise CaseError(
            f"give the event an 'id': source '{source.name}' requires one "
            f"({source.describe_id()}), and the ingress refuses events without it"
        )
    raw = json.dumps(body).encode()
    url = CASE_URL.format(source=source.name)
    for name, value in source.verifier.sign(raw, str(event_id), now, url=url).items():
        headers[name.lower()] = value
    headers.setdefault("content-type", "application/json")
    return Webhook(source, headers, raw, now, "POST", url)


def _typed(
    source: Source,
    event: EventSpec,
    body: Any,
    headers: dict[str, str],
    default_type: str | None,
) -> Any:
    """``body`` with the case's type (or the default) where the source reads it."""
    if event.type is not None:
        return _place(source.type_at, event.type, headers, body, "type")
    if default_type is not None and not source.event_type(headers, body):
        return _place(source.type_at, default_type, headers, body, "type")
    return body


def _batch(
    source: Source,
    event: EventSpec,
    body: Any,
    headers: dict[str, str],
    default_type: str | None,
) -> Any:
    """A batch's body: a case body that is one event (a mapping) is sent as a batch of
    one; the case's type goes into each element, its id into the only one."""
    path = source.batch or ""
    elements = body if path == "" else json_path(body, path)
    if not isinstance(elements, list):
        elements = [body]
        body = elements if path == "" else _nested(path, elements)
    if event.id is not None and len(elements) != 1:
        raise CaseError("give each event of a batch its id in the body, not the case's 'id'")
    for index, element in enumerate(elements):
        element = _typed(source, event, element, headers, default_type)
        if event.id is not None:
            element = _place(source.id_at, event.id, headers, element, "id")
        elements[index] = element
    return body


def _nested(path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node: dict[str, Any] = {last: value}
    for part in reversed(parents):
        node = {part: node}
    return node


def _place(locator: Locator, value: str, headers: dict[str, str], body: Any, what: str) -> Any:
    """Write ``value`` where the source reads it first: a header, else a body path, else
    the parts of a format (``person.create`` into ``{meta.entity}.{meta.action}``)."""
    if locator.headers:
        headers[locator.headers[0].lower()] = value
        return body
    if locator.paths:
        return _set(body, locator.paths[0], value, what)
    if not locator.formats:
        raise CaseError(f"the source reads the event {what} nowhere")
    fmt = locator.formats[0]
    parts = fmt.split(value)
    if parts is None:
        raise CaseError(f"the event {what} '{value}' does not have the shape of '{fmt.text}'")
    for is_header, name, part in parts:
        if is_header:
            headers[name] = part
        else:
            body = _set(body, name, part, what)
    return body


def _set(body: Any, path: str, value: str, what: str) -> Any:
    node = body
    *parents, last = path.split(".")
    for part in parents:
        if isinstance(node, dict):
            node = node.setdefault(part, {})
    if not isinstance(node, dict):
        raise CaseError(
            f"the source reads the event {what} from the body's '{path}': give a body "
            f"that is a mapping there, or write the {what} into the body yourself"
        )
    node[last] = value
    return body


def _hub_event(trigger_event: str, event: EventSpec, new_id: Callable[[], str]) -> HubEvent:
    """An event of the hub itself (source ``hub``), as the hub emits it: no headers, a
    mapping body with its ``type``."""
    if event.headers:
        raise CaseError("a hub event comes without headers: give only its type and body")
    event_type = event.type or (None if _GLOB.search(trigger_event) else trigger_event)
    if not event_type:
        raise CaseError("give the hub event's type (run.failed, quota.exhausted, ...)")
    if not isinstance(event.body, Mapping):
        raise CaseError("a hub event's body is a mapping (workflow, run_id, error, ...)")
    body = {"type": event_type, **copy.deepcopy(dict(event.body))}
    return HubEvent(event_type, event.id or new_id(), body)


def _polled(wf: Workflow, event: EventSpec, new_id: Callable[[], str]) -> PolledRecord:
    poll = wf.trigger.poll
    assert poll is not None
    if event.headers:
        raise CaseError("a polled record comes without headers: give only its body")
    if not event.type:
        raise CaseError(
            "give the record's type as the poll hands it on ('<entity>.poll', e.g. invoice.poll)"
        )
    source = event.source or poll.uses.split(".", 1)[0]
    return PolledRecord(wf, source, event.type, event.id or new_id(), event.body)


class CaseIntake:
    """One case's events through the intake of ``wf``: per event, each plan that starts a
    run, or what became of it without one (refused, a duplicate, skipped, answered)."""

    def __init__(self, wf: Workflow, sources: Mapping[str, Source], intake: Intake) -> None:
        self.wf = wf
        self.sources = sources
        self.intake = intake
        self.seen = SeenEvents()

    def plan(
        self, event: EventSpec, number: int, now: float
    ) -> tuple[list[Plan | Outcome], str | None]:
        """What event ``number`` leads to, in order (a batch's elements each): a plan to
        run, or the outcome of an event that starts none; and why the case cannot pass
        (or None)."""
        try:
            delivery = delivery_for(
                self.wf, event, self.sources, now=now, new_id=self.intake.new_id
            )
            planned = self.intake.plan(delivery)
        except CaseError as exc:
            return [Outcome(status="refused", reason=str(exc))], f"event {number}: {exc}"
        except Refused as exc:
            why = f"event {number}: the ingress answers {exc.status}: {exc.message}"
            return [Outcome(status="refused", reason=exc.message)], why
        if isinstance(planned, Reply):
            text = planned.body.decode(errors="replace")
            if planned.status >= 400:
                why = f"event {number}: the handshake is answered {planned.status}: {text}"
                return [Outcome(status="refused", reason=text)], why
            return [Outcome(status="answered", reason=text)], None
        plans = planned.plans if isinstance(planned, Batch) else [planned]
        if not plans:
            return [Outcome(status="skipped", reason="the batch holds no event")], None
        return [self._one(plan, now) for plan in plans], None

    def _one(self, plan: Plan, now: float) -> Plan | Outcome:
        event_id = plan.event.event_id
        if not self.seen.accept(plan, now):
            why = f"event id '{event_id}' from '{plan.event.source}' was accepted before"
            return Outcome(status="duplicate", reason=why)
        if plan.skipped:
            return Outcome(status="skipped", reason=plan.skipped[0].reason)
        if not plan.runs:
            why = f"no trigger matches {plan.event.source}/{plan.event.event_type}"
            return Outcome(status="skipped", reason=why)
        return plan
