"""The intake's plans: routing, the workflow-level ``if``, skip reasons, dedupe, refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count
from textwrap import dedent
from typing import Any

import pytest

from hub.intake import credentials as cred
from hub.intake import signatures as sig
from hub.intake.delivery import DeadLetterReplay, Event, HubEvent, PolledRecord, Webhook
from hub.intake.extract import Locator
from hub.intake.plan import IF_FALSE, Intake, Plan, PlannedRun, Skip
from hub.intake.sources import Source
from hub.intake.webhook import Refused
from hub.workflow.context import new_context
from hub.workflow.loader import load_workflow_text
from hub.workflow.model import Workflow

NOW = 1_700_000_000.0


def _workflow(name: str, trigger: str, condition: str | None = None) -> Workflow:
    text = f"""\
        name: {name}
        trigger: {trigger}
        {f'if: "{condition}"' if condition else ""}
        steps:
          - {{ id: log, uses: core.log, with: {{ message: hi }} }}
        """
    return load_workflow_text(dedent(text), f"{name}.yaml")


CREATED = _workflow("created", "{ webhook: { source: crm, event: contact.created } }")
ANY_CONTACT = _workflow("any-contact", '{ webhook: { source: crm, event: "contact.*" } }')
VIP = _workflow(
    "vip",
    '{ webhook: { source: crm, event: "contact.*" } }',
    "{{ event.data.vip }}",
)
BROKEN_IF = _workflow(
    "broken-if",
    '{ webhook: { source: crm, event: "contact.*" } }',
    "{{ event.data.missing.deeper }}",
)
OTHER_SOURCE = _workflow("shop", '{ webhook: { source: shop, event: "*" } }')
POLLED = _workflow(
    "polled",
    "{ poll: { uses: plutio.invoices.poll, cursor: updatedAt } }",
    "{{ event.status == 'paid' }}",
)


def _source(*, required: bool = True, verifier: sig.Verifier | None = None) -> Source:
    return Source(
        name="crm",
        verifier=verifier or cred.NoAuth(),
        type_at=Locator(("x-event-type",), ("type",)),
        id_at=Locator(("x-event-id",), ("id",)),
        id_required=required,
        max_body_bytes=1024,
        dedupe_seconds=600,
        configured=True,
    )


def _ids() -> Iterator[str]:
    return (f"id-{n}" for n in count(1))


def _intake(*workflows: Workflow) -> Intake:
    ids = _ids()
    return Intake(workflows, new_id=lambda: next(ids))


def _webhook(
    body: Any, source: Source | None = None, headers: dict[str, str] | None = None
) -> Webhook:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    given = {"content-type": "application/json", **(headers or {})}
    return Webhook(source or _source(), given, raw, NOW)


def _one(intake: Intake, delivery: Webhook) -> Plan:
    """The plan of a delivery of one event (no batch, no handshake)."""
    plan = intake.plan(delivery)
    assert isinstance(plan, Plan)
    return plan


EVENT = {"type": "contact.created", "id": "evt-1", "data": {"vip": False}}


def test_a_webhook_event_starts_every_workflow_its_source_and_type_match() -> None:
    intake = _intake(CREATED, ANY_CONTACT, OTHER_SOURCE, POLLED)
    plan = _one(intake, _webhook(EVENT))
    assert plan.event == Event("crm", "contact.created", "evt-1", EVENT, json.dumps(EVENT))
    assert [run.workflow.name for run in plan.runs] == ["created", "any-contact"]
    assert plan.skipped == []
    assert plan.dedupe_seconds == 600
    first = plan.runs[0]
    assert first == PlannedRun(
        CREATED,
        "id-1",
        new_context(
            event=EVENT, event_id="evt-1", source="crm", event_type="contact.created", run_id="id-1"
        ),
    )
    assert plan.runs[1].run_id == "id-2"


def test_the_type_is_read_where_the_source_says_header_first() -> None:
    intake = _intake(CREATED, ANY_CONTACT)
    plan = _one(intake, _webhook(EVENT, headers={"x-event-type": "contact.changed"}))
    assert plan.event.event_type == "contact.changed"
    assert [run.workflow.name for run in plan.runs] == ["any-contact"]


def test_an_event_no_workflow_listens_to_has_no_runs_and_is_still_deduped() -> None:
    plan = _one(_intake(CREATED, OTHER_SOURCE), _webhook({**EVENT, "type": "invoice.paid"}))
    assert (plan.runs, plan.skipped, plan.routed) == ([], [], False)
    assert plan.dedupe_seconds == 600


def test_the_workflow_if_keeps_events_out_with_its_reason() -> None:
    intake = _intake(VIP, BROKEN_IF, ANY_CONTACT)
    plan = _one(intake, _webhook(EVENT))
    assert [run.workflow.name for run in plan.runs] == ["any-contact"]
    vip, broken = plan.skipped
    assert vip == Skip("vip", IF_FALSE) and not vip.failed
    assert broken.workflow == "broken-if" and broken.failed
    assert broken.reason.startswith("if: workflow 'broken-if' field 'if': ")
    assert plan.routed
    wanted = _one(intake, _webhook({**EVENT, "data": {"vip": True}}))
    assert [run.workflow.name for run in wanted.runs] == ["vip", "any-contact"]


def test_routing_is_computed_once_per_source_and_type() -> None:
    intake = _intake(CREATED, ANY_CONTACT)
    first = intake.route("crm", "contact.created")
    assert first is intake.route("crm", "contact.created")
    assert [wf.name for wf in first] == ["created", "any-contact"]
    assert intake.route("shop", "contact.created") == ()


def test_an_event_without_an_id_gets_one_unless_its_source_requires_it() -> None:
    body = {"type": "contact.created"}
    plan = _one(_intake(CREATED), _webhook(body, _source(required=False)))
    assert plan.event.event_id == "id-1" and plan.runs[0].run_id == "id-2"
    with pytest.raises(Refused) as refused:
        _one(_intake(CREATED), _webhook(body))
    assert refused.value.status == 400
    assert refused.value.message == "event id missing: send a x-event-id header or a 'id' field"


@pytest.mark.parametrize(
    ("body", "headers", "status", "words"),
    [
        (EVENT, {"content-type": "text/plain"}, 415, "is not JSON"),
        (b"  ", {}, 400, "the body is empty"),
        (b"{nope", {}, 400, "not valid JSON"),
        ({"id": "e"}, {}, 400, "event type missing"),
        ({"type": "t", "id": ["e"]}, {}, 400, "a string or an integer"),
        ({"type": "t", "id": "e" * 257}, {}, 400, "event id is longer than 256 characters"),
        ({"type": "t" * 257, "id": "e"}, {}, 400, "event type is longer than 256 characters"),
        ({"type": "t", "id": "e" * 10_000}, {}, 400, "longer than 256"),
        ({"type": "t", "id": "e\n1"}, {}, 400, "event id holds the control character U+000A"),
        ({"type": "t\x00", "id": "e"}, {}, 400, "event type holds the control character U+0000"),
        ({"type": "t", "id": "e\x85"}, {}, 400, "control character U+0085"),
        (b'{"type": "t", "id": "\\ud800"}', {}, 400, "half a surrogate pair"),
        (b'{"type": "t", "id": "e", "n": NaN}', {}, 400, "NaN"),
        (b'{"type": "t", "id": "e", "n": -Infinity}', {}, 400, "-Infinity"),
        (b'{"type": "t", "id": "e", "n": 1e400}', {}, 400, "too large"),
        (b'{"type": "t", "id": "e", "id": "f"}', {}, 400, "the key 'id' appears twice"),
        (b'{"type": "t", "id": "\xff\xfe"}', {}, 400, "not UTF-8 (byte 21)"),
        (b"\xff\xfe{\x00}\x00", {}, 400, "not UTF-8"),
        (b'{"type": "t", "d": ' + b"[" * 5000 + b"]" * 5000 + b"}", {}, 400, "deeper than 64"),
        (b'{"type": "t", "n": ' + b"9" * 5000 + b"}", {}, 400, "not valid JSON"),
    ],
)
def test_refusals_name_the_status_the_ingress_answers(
    body: Any, headers: dict[str, str], status: int, words: str
) -> None:
    with pytest.raises(Refused) as refused:
        _one(_intake(CREATED), _webhook(body, headers=headers))
    assert refused.value.status == status and words in refused.value.message


def test_a_delivery_is_verified_against_its_signature_and_time() -> None:
    signer = sig.Hmac((b"k3y",), header="X-Signature")
    source = _source(verifier=signer)
    raw = json.dumps(EVENT).encode()
    good = Webhook(source, {"x-signature": signer.sign(raw, "evt-1", NOW)["X-Signature"]}, raw, NOW)
    assert _one(_intake(CREATED), good).event.event_id == "evt-1"
    forged = Webhook(source, {"x-signature": "00" * 32}, raw, NOW)
    with pytest.raises(Refused) as refused:
        _intake(CREATED).plan(forged)
    assert refused.value.status == 401
    assert refused.value.message.startswith("authentication failed: the signature in X-Signature")


def test_a_polled_record_goes_to_its_workflow_through_the_if_and_is_not_deduped() -> None:
    intake = _intake(CREATED)  # the intake's webhook workflows play no part
    record = {"_id": "inv1", "status": "paid"}
    plan = intake.plan(PolledRecord(POLLED, "plutio", "invoice.poll", "plutio-invoice:1", record))
    (run,) = plan.runs
    assert run.workflow is POLLED and plan.dedupe_seconds is None
    assert run.context == new_context(
        event=record,
        event_id="plutio-invoice:1",
        source="plutio",
        event_type="invoice.poll",
        run_id="id-1",
    )
    draft = {**record, "status": "draft"}
    kept = intake.plan(PolledRecord(POLLED, "plutio", "invoice.poll", "plutio-invoice:2", draft))
    assert kept.runs == [] and kept.skipped == [Skip("polled", IF_FALSE)]


def test_a_replay_from_the_start_is_a_fresh_context_naming_the_dead_run() -> None:
    event = Event("crm", "contact.created", "evt-1", {"data": {"vip": False}})
    plan = _intake().plan(DeadLetterReplay(VIP, "new-run", "dead-run", event))
    (run,) = plan.runs  # the if let the event in once: a replay does not ask again
    assert (run.workflow, run.run_id) == (VIP, "new-run")
    assert (plan.dedupe_seconds, plan.skipped) == (None, [])
    assert run.context == {
        **new_context(
            event=event.body,
            event_id="evt-1",
            source="crm",
            event_type="contact.created",
            run_id="new-run",
        ),
        "replay_of": "dead-run",
    }


def test_a_replay_from_the_failed_step_resumes_a_copy_of_its_context() -> None:
    event = Event("crm", "contact.created", "evt-1", {})
    failed = {
        "event": {},
        "event_id": "evt-1",
        "source": "crm",
        "event_type": "contact.created",
        "run_id": "dead-run",
        "steps": {"first": {"n": 1}},
        "error": {"step": "second", "message": "refused"},
    }
    plan = _intake().plan(DeadLetterReplay(CREATED, "new-run", "dead-run", event, failed))
    context = plan.runs[0].context
    assert context["run_id"] == "new-run" and context["replay_of"] == "dead-run"
    assert context["steps"] == {"first": {"n": 1}} and context["skipped"] == []
    assert "error" not in context
    assert failed["run_id"] == "dead-run" and "error" in failed, "the dead letter is untouched"


def test_a_hub_event_goes_to_the_workflows_listening_to_source_hub() -> None:
    alert = _hub_workflow("alert", "run.failed")
    every = _hub_workflow("every", "*")
    other = _hub_workflow("quota", "quota.exhausted")
    ids = iter(["ev-1", "run-1", "run-2"])
    intake = Intake([alert, every, other], new_id=lambda: next(ids))
    body = {"type": "run.failed", "workflow": "sync", "count": 3}
    plan = intake.plan(HubEvent("run.failed", "h-1", body))
    assert plan.event.source == "hub" and plan.event.event_id == "h-1"
    assert [run.workflow.name for run in plan.runs] == ["alert", "every"]
    ctx = plan.runs[0].context
    assert (ctx["source"], ctx["event_type"], ctx["event"]) == ("hub", "run.failed", body)
    assert plan.dedupe_seconds is None


def _hub_workflow(name: str, event: str) -> Workflow:
    return Workflow.model_validate(
        {
            "name": name,
            "trigger": {"webhook": {"source": "hub", "event": event}},
            "steps": [{"id": "say", "uses": "core.echo", "with": {"x": 1}}],
        }
    )
