from __future__ import annotations

import pytest

from hub.core.settings import Settings
from hub.worker.celery_app import create_celery
from hub.worker.queues import parse_queues, queue_for, route_step
from hub.worker.tasks import run_step
from hub.workflow.compiler import STEP_TASK, compile_run
from hub.workflow.model import Workflow


def test_each_priority_has_its_queue() -> None:
    assert queue_for("interactive") == "hub.interactive"
    assert queue_for("default") == "hub"
    assert queue_for("bulk") == "hub.bulk"
    assert queue_for(None) == "hub"
    assert route_step(STEP_TASK, (), {"priority": "bulk"}, {}) == {"queue": "hub.bulk"}
    assert route_step("celery.ping", (), {}, {}) is None


def test_queues_to_consume() -> None:
    # re-scheduled steps (woken at their turn) come right after interactive ones
    assert parse_queues("hub, hub.deferred, hub.interactive ,hub.bulk,hub") == [
        "hub.interactive",
        "hub.deferred",
        "hub",
        "hub.bulk",
    ]
    # a dedicated pool still takes its re-scheduled steps first
    assert parse_queues("hub.plutio") == ["hub.deferred", "hub.plutio"]
    assert parse_queues(Settings().hub_worker_queues)[:2] == ["hub.interactive", "hub.deferred"]
    with pytest.raises(ValueError, match="no queue"):
        parse_queues(" , ")


def test_the_celery_app_routes_steps_by_their_workflow_priority() -> None:
    app = create_celery(Settings(hub_redis_url="redis://127.0.0.1:1/0"))
    assert app.conf.broker_transport_options["queue_order_strategy"] == "priority"
    wf = Workflow.model_validate(
        {
            "name": "backfill",
            "priority": "bulk",
            "trigger": {"webhook": {"source": "crm", "event": "contact.created"}},
            "steps": [{"id": "echo", "uses": "core.echo", "with": {"value": 1}}],
        }
    )
    sig = compile_run(app, wf, {}, event_id="e", run_id="r")
    first = sig.tasks[0] if hasattr(sig, "tasks") else sig
    assert first.kwargs["priority"] == "bulk"
    route = app.amqp.router.route({}, STEP_TASK, (), first.kwargs)
    assert route["queue"].name == "hub.bulk"


def test_quota_waits_never_run_out_of_retries() -> None:
    # Celery reads retry(max_retries=None) as "the task's default" (3): the task
    # itself must say None, or a step fails at its fourth quota wait
    assert run_step.max_retries is None
