"""Batched deliveries in the intake: one plan per element, each with its own type and id."""

from __future__ import annotations

import json
from itertools import count
from textwrap import dedent
from typing import Any

import pytest

from hub.intake.credentials import NoAuth
from hub.intake.delivery import Webhook
from hub.intake.extract import Locator
from hub.intake.plan import Batch, Intake
from hub.intake.sources import Source
from hub.intake.webhook import Refused
from hub.workflow.loader import load_workflow_text
from hub.workflow.model import Workflow

NOW = 1_700_000_000.0


def _workflow(name: str, event: str) -> Workflow:
    text = f"""\
        name: {name}
        trigger: {{ webhook: {{ source: crm, event: "{event}" }} }}
        steps:
          - {{ id: log, uses: core.log, with: {{ message: hi }} }}
        """
    return load_workflow_text(dedent(text), f"{name}.yaml")


CREATED = _workflow("created", "contact.creation")
DELETED = _workflow("deleted", "contact.deletion")


def _source(batch: str = "", *, required: bool = False) -> Source:
    return Source(
        name="crm",
        verifier=NoAuth(),
        type_at=Locator((), ("subscriptionType",)),
        id_at=Locator((), ("eventId",)),
        id_required=required,
        max_body_bytes=10_000,
        dedupe_seconds=600,
        configured=True,
        id_fallback="content",
        batch=batch,
    )


def _batch(body: Any, source: Source | None = None) -> Batch:
    ids = (f"run-{n}" for n in count(1))
    delivery = Webhook(source or _source(), {}, json.dumps(body).encode(), NOW)
    plan = Intake([CREATED, DELETED], new_id=lambda: next(ids)).plan(delivery)
    assert isinstance(plan, Batch)
    return plan


def _event(event_id: int | None, kind: str = "contact.creation", **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"subscriptionType": kind, "objectId": 500, **extra}
    if event_id is not None:
        event["eventId"] = event_id
    return event


def test_each_element_is_routed_on_its_own_type_in_order() -> None:
    batch = _batch([_event(1), _event(2, "contact.deletion"), _event(3, "contact.merge")])
    assert [(p.event.event_id, [r.workflow.name for r in p.runs]) for p in batch.plans] == [
        ("1", ["created"]),
        ("2", ["deleted"]),
        ("3", []),
    ]
    first = batch.plans[0]
    assert first.runs[0].context["event"] == _event(1)
    assert first.dedupe_seconds == 600 and first.event.text is None


def test_the_array_may_be_at_a_path() -> None:
    batch = _batch({"portal": 7, "events": [_event(1), _event(2)]}, _source("events"))
    assert [p.event.event_id for p in batch.plans] == ["1", "2"]


def test_elements_without_an_id_get_one_from_their_content() -> None:
    batch = _batch([_event(None, objectId=1), _event(None, objectId=2), _event(None, objectId=1)])
    ids = [p.event.event_id for p in batch.plans]
    assert all(p.event.id_from_content for p in batch.plans)
    assert ids[0] == ids[2] != ids[1] and ids[0].startswith("content-")
    again = _batch([{"objectId": 1, "subscriptionType": "contact.creation"}])
    assert again.plans[0].event.event_id == ids[0]  # key order does not change the id


def test_an_empty_batch_plans_nothing() -> None:
    assert _batch([]).plans == []


@pytest.mark.parametrize(
    ("body", "source", "message"),
    [
        ({"eventId": 1}, _source(), "this source takes a JSON array of events, not an object"),
        (
            {"events": "x"},
            _source("events"),
            "this source takes an array of events at 'events', not a string",
        ),
        (
            [_event(1), 7],
            _source(),
            "event 2 of the batch: an event is a JSON object, not a number",
        ),
        (
            [_event(1), {"eventId": 2}],
            _source(),
            "event 2 of the batch: event type missing or not a short string: "
            "send a 'subscriptionType' field",
        ),
        (
            [_event(None)],
            _source(required=True),
            "event 1 of the batch: event id missing: send a 'eventId' field",
        ),
    ],
)
def test_an_unusable_batch_is_refused_whole_naming_the_element(
    body: Any, source: Source, message: str
) -> None:
    delivery = Webhook(source, {}, json.dumps(body).encode(), NOW)
    with pytest.raises(Refused) as caught:
        Intake([CREATED]).plan(delivery)
    assert caught.value.status == 400 and caught.value.message == message
