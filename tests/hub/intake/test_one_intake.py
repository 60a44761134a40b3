"""One intake: the ingress, the poll task, replay and ``hub test`` plan the same event alike.

Each entry point is driven for real (the ingress over HTTP, a poll against a fake
upstream page with Celery sending to the session Redis, a replay of a real dead letter,
``hub test``'s delivery of a case event) and what it started is compared with the plan
:class:`~hub.intake.plan.Intake` makes for the same event.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from starlette.testclient import TestClient

from hub.core.settings import Settings
from hub.history.replay import Replayer
from hub.intake.delivery import DeadLetterReplay, Event, PolledRecord
from hub.intake.plan import Intake, Plan
from hub.intake.sources import Source
from hub.polling.cursors import CursorStore
from hub.polling.poll_task import build_poller
from hub.testing.deliveries import CaseIntake, CaseSources, signed_webhook
from hub.testing.expect import Outcome
from hub.testing.spec import EventSpec
from hub.workflow.context import RunContext
from hub.workflow.loader import load_folder, load_workflow_text
from hub.workflow.model import Workflow
from hub.workflow.revisions import WorkflowStore
from tests.hub.ingress.conftest import SECRET, queued, write_source, write_workflow
from tests.hub.worker.fakes import LocalHub

CRM = """\
auth: { scheme: standard-webhooks, secret: "{{ secrets.CRM_SIGNING_KEY }}" }
event_type: { header: X-Event-Type, path: type }
event_id: { header: webhook-id, path: id, required: true }
"""
PAID_ONLY = "{{ event.status == 'paid' }}"
REPLAYED = """
name: replayed
trigger: { webhook: { source: src } }
if: "{{ event.n > 100 }}"
steps:
  - { id: only, uses: core.fail, with: { message: "refused {{ event.n }}" } }
"""


def _folder(tmp_path: Path) -> Path:
    write_workflow(tmp_path, "invoice-any", "crm", "invoice.*")
    write_workflow(tmp_path, "invoice-paid", "crm", "invoice.*", condition=PAID_ONLY)
    write_workflow(tmp_path, "contact", "crm", "contact.*")
    write_source(tmp_path, "crm", CRM)
    return tmp_path


def _sources(folder: Path, workflows: list[Workflow]) -> dict[str, Source]:
    case_sources = CaseSources.load(folder / "sources", workflows)
    return case_sources.resolve(Settings(), {"CRM_SIGNING_KEY": SECRET})


def _without_run_id(context: RunContext) -> RunContext:
    return {key: value for key, value in context.items() if key != "run_id"}


def _summary(plan: Plan) -> tuple[Any, ...]:
    event = plan.event
    runs = [(run.workflow.name, _without_run_id(run.context)) for run in plan.runs]
    skipped = [(skip.workflow, skip.reason) for skip in plan.skipped]
    return event.source, event.event_type, event.event_id, runs, skipped


def test_the_ingress_starts_what_the_intake_plans_for_hub_tests_delivery(
    make_client: Callable[..., TestClient], tmp_path: Path, redis_client: redis.Redis
) -> None:
    folder = _folder(tmp_path)
    client = make_client(folder)
    workflows = load_folder(folder)
    event = EventSpec(type="invoice.edit", id="evt-7", body={"status": "draft", "n": 7})
    delivery = signed_webhook(
        _sources(folder, workflows)["crm"], event, default_type=None, now=time.time()
    )
    plan = Intake(workflows).plan(delivery)
    assert isinstance(plan, Plan)

    answer = client.post("/hooks/crm", content=delivery.body, headers=dict(delivery.headers))
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    (message,) = queued(redis_client)
    started = message["body"][0][0]
    assert _summary(plan) == (
        accepted["source"],
        accepted["event_type"],
        accepted["event_id"],
        [(accepted["runs"][0]["workflow"], _without_run_id(started))],
        [(skip["workflow"], skip["reason"]) for skip in accepted["skipped"]],
    )
    assert _summary(plan)[3:] == (
        [("invoice-any", _without_run_id(plan.runs[0].context))],
        [("invoice-paid", "if: false")],
    )
    assert started["run_id"] == accepted["runs"][0]["run_id"]


def test_hub_test_plans_a_case_event_as_the_intake_plans_that_delivery(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    workflows = {wf.name: wf for wf in load_folder(folder)}
    paid_only = workflows["invoice-paid"]
    sources = _sources(folder, list(workflows.values()))
    case = CaseIntake(paid_only, sources, Intake([paid_only]))
    now = time.time()

    paid = EventSpec(type="invoice.create", id="evt-1", body={"status": "paid"})
    (planned,), problem = case.plan(paid, 1, now)
    delivery = signed_webhook(sources["crm"], paid, default_type=None, now=now)
    direct = Intake([paid_only]).plan(delivery)
    assert isinstance(planned, Plan) and isinstance(direct, Plan) and problem is None
    assert _summary(planned) == _summary(direct) and len(direct.runs) == 1

    draft = EventSpec(type="invoice.create", id="evt-2", body={"status": "draft"})
    (outcome,), problem = case.plan(draft, 2, now)
    delivery = signed_webhook(sources["crm"], draft, default_type=None, now=now)
    direct = Intake([paid_only]).plan(delivery)
    assert isinstance(outcome, Outcome) and isinstance(direct, Plan) and problem is None
    assert direct.runs == [] and [s.reason for s in direct.skipped] == ["if: false"]
    assert (outcome.status, outcome.reason) == ("skipped", "if: false")


class _PlutioPage:
    """A Plutio API that answers every poll page with ``records``."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    def page(self, resource: str, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return self.records if resource == "invoices" else []


def test_the_poller_starts_what_the_intake_plans_for_a_polled_record(
    redis_client: redis.Redis, celery_for: Callable[..., Any]
) -> None:
    wf = load_workflow_text(
        f"""\
name: invoices
trigger: {{ poll: {{ uses: plutio.invoices.poll, cursor: updatedAt }} }}
if: "{PAID_ONLY}"
steps:
  - {{ id: log, uses: core.log, with: {{ message: "{{{{ event._id }}}}" }} }}
""",
        "invoices.yaml",
    )
    records = [
        {"_id": "inv1", "status": "paid", "updatedAt": "2024-03-12T09:30:00.000Z"},
        {"_id": "inv2", "status": "draft", "updatedAt": "2024-03-12T09:31:00.000Z"},
    ]
    poller = build_poller(
        wf,
        settings=Settings(),
        celery=celery_for(),
        cursors=CursorStore(redis_client),
        api=_PlutioPage(records),
        lock=None,
    )
    result = poller.run(max_pages=1)
    assert (result.handed_on, result.filtered) == (1, 1)
    (message,) = queued(redis_client)
    started = message["body"][0][0]

    intake = Intake([])
    for record in records:
        event_id = f"plutio-invoice:{record['_id']}:{record['updatedAt']}"
        plan = intake.plan(PolledRecord(wf, "plutio", "invoice.poll", event_id, record))
        if record["status"] == "paid":
            assert _summary(plan)[3] == [("invoices", _without_run_id(started))]
        else:
            assert _summary(plan)[3:] == ([], [("invoices", "if: false")])


def test_a_replay_from_the_start_starts_what_the_intake_plans(redis_client: redis.Redis) -> None:
    hub = LocalHub(redis_client)
    wf = hub.load(REPLAYED)
    workflows = WorkflowStore(redis_client)
    workflows.publish([wf])
    dead, record = hub.run(wf, {"n": 7})
    letter = hub.flow.dead_letters.get(dead)
    assert record.status == "failed" and letter is not None
    sent: list[Any] = []
    replayer = Replayer(
        hub.app, hub.flow.dead_letters, workflows, hub.runs, new_id=lambda: "r2", send=sent.append
    )
    replayer.replay(dead, from_start=True)
    (chain,) = sent
    started = chain.tasks[0].args[0]

    event = Event(letter.source, letter.event_type, letter.event_id, letter.event)
    plan = Intake([]).plan(DeadLetterReplay(wf, "r2", dead, event))
    assert plan.runs[0].context == started
    assert started["replay_of"] == dead and started["event"] == {"n": 7}
