"""Messages, events and Flower's view of a step task show its ids, never its context."""

from __future__ import annotations

from typing import Any

from celery.contrib.testing.mocks import TaskMessage

from hub.core.settings import Settings
from hub.worker.celery_app import create_celery
from hub.worker.task_data import IdsOnlyAMQP, PrivateRequest

CTX = {"event": {"data": {"first_name": "Ada", "email": "ada@example.com"}}, "steps": {}}
KWARGS = {
    "workflow": "crm-contact",
    "revision": "abc123",
    "step": "person",
    "event_id": "evt-1",
    "run_id": "r1",
    "attempt": 2,
    "item": {"email": "ada@example.com"},
    "quota": {"tickets": {"plutio": "t"}},
}


def _celery() -> Any:
    return create_celery(Settings(hub_redis_url="redis://127.0.0.1:1/0"))


def test_the_app_publishes_with_ids_only_reprs() -> None:
    app = _celery()
    assert isinstance(app.amqp, IdsOnlyAMQP)
    message = app.amqp.as_task_v2("task-1", "hub.step", (CTX,), KWARGS, create_sent_event=True)
    shown = [message.headers["argsrepr"], message.headers["kwargsrepr"]]
    shown += [message.sent_event["args"], message.sent_event["kwargs"]]
    assert not any("ada@example.com" in text or "Ada" in text for text in shown)
    assert message.headers["argsrepr"] == "(<run context>,)"
    assert "'run_id': 'r1'" in message.headers["kwargsrepr"]
    assert "'attempt': 2" in message.headers["kwargsrepr"]
    assert message.body[0] == (CTX,)  # the message itself is whole


def test_a_sender_s_own_reprs_are_kept() -> None:
    message = _celery().amqp.as_task_v2(
        "task-1", "hub.step", (CTX,), KWARGS, argsrepr="(context)", kwargsrepr="item=0"
    )
    assert (message.headers["argsrepr"], message.headers["kwargsrepr"]) == ("(context)", "item=0")


def test_a_task_sent_without_reprs_shows_ids_only() -> None:
    """As a chain going on, a retry or beat sends its tasks: through apply_async."""
    from hub.ingress.celery_message import capture

    app = _celery()
    sig = app.signature("hub.step", args=(CTX,), kwargs=KWARGS)
    (headers,) = [p.headers for p in capture(sig) if "argsrepr" in p.headers]
    assert headers["argsrepr"] == "(<run context>,)"
    assert "ada@example.com" not in headers["kwargsrepr"]
    assert "'event_id': 'evt-1'" in headers["kwargsrepr"]


class _Events:
    enabled = True

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send(self, type: str, **fields: Any) -> None:
        self.sent.append((type, fields))


def _request(events: _Events) -> PrivateRequest:
    app = _celery()
    import hub.worker.tasks

    message = TaskMessage(
        "hub.step", "task-1", args=(CTX,), kwargs=KWARGS, argsrepr="(c,)", kwargsrepr="ids"
    )
    return PrivateRequest(message, app=app, eventer=events, task=hub.worker.tasks.run_step)


def test_a_succeeded_event_carries_no_result() -> None:
    events = _Events()
    _request(events).send_event("task-succeeded", result=repr(CTX), runtime=0.1)
    ((kind, fields),) = events.sent
    assert kind == "task-succeeded"
    assert fields["result"] == "(not shown: `hub runs show r1` says what the run did)"
    assert fields["runtime"] == 0.1


def test_flowers_view_of_a_running_step_shows_the_reprs() -> None:
    info = _request(_Events()).info()
    assert (info["args"], info["kwargs"]) == ("(c,)", "ids")
