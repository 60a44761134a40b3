"""Run messages are what Celery and kombu themselves write to Redis, id for id."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import redis
from celery import Celery

from hub.ingress.publish import RunPublisher
from hub.worker.broker import bell_key
from hub.worker.queues import STEP_QUEUES, queue_for
from hub.workflow.compiler import compile_run
from hub.workflow.context import new_context
from hub.workflow.loader import load_folder, load_workflow_text
from hub.workflow.model import Workflow

from .conftest import ROOT

TWO_STEPS = """\
name: find-then-create
trigger:
  webhook: { source: crm, event: contact.created }
steps:
  - id: existing
    uses: plutio.people.find
    with: { query: { contactEmails.address: "{{ event.data.email }}" } }
  - id: person
    if: "{{ not steps.existing }}"
    uses: plutio.people.create
    with: { name: { first: "{{ event.data.first_name }}" } }
"""


def _workflows() -> list[Workflow]:
    return [*load_folder(ROOT / "workflows"), load_workflow_text(TWO_STEPS, "two.yaml")]


def _decode(raw: bytes | str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(raw)
    message["body"] = json.loads(base64.b64decode(message["body"]))
    return message


def _kombu(
    celery: Celery,
    client: redis.Redis,
    wf: Workflow,
    ctx: dict[str, Any],
    publisher: RunPublisher,
    **options: Any,
) -> tuple[str, dict[str, Any]]:
    """What Celery's own apply_async leaves in Redis for the same run, and its list."""
    before = set(client.keys("*"))
    sig = compile_run(celery, wf, ctx, event_id="evt-1", run_id="run-1")
    argsrepr, kwargsrepr = _reprs(publisher, wf, ctx)
    sig.apply_async(argsrepr=argsrepr, kwargsrepr=kwargsrepr, **options)
    new = set(client.keys("*")) - before - {bell_key(q).encode() for q in STEP_QUEUES}
    (key,) = [k for k in new if client.type(k) == b"list"]  # its queue (and its bell)
    (raw,) = client.lrange(key, 0, -1)
    client.delete(key)
    return key.decode() if isinstance(key, bytes) else key, _decode(raw)


def _reprs(publisher: RunPublisher, wf: Workflow, ctx: dict[str, Any]) -> tuple[str, str]:
    mine = _decode(publisher.message(wf, ctx, event_id="evt-1", run_id="run-1").payload)
    return mine["headers"]["argsrepr"], mine["headers"]["kwargsrepr"]


def _same_shape(mine: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Equal, once each side's generated ids are replaced by their order of appearance."""

    def ids(message: dict[str, Any]) -> dict[str, str]:
        found: dict[str, str] = {}
        text = json.dumps(message)
        import re

        for match in re.finditer(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", text
        ):
            found.setdefault(match.group(0), f"<id{len(found)}>")
        return found

    def normal(message: dict[str, Any]) -> str:
        text = json.dumps(message, sort_keys=True)
        for value, name in ids(message).items():
            text = text.replace(value, name)
        return text

    assert normal(mine) == normal(theirs)


@pytest.mark.parametrize("name", ["crm-contact-to-plutio-person", "find-then-create"])
def test_a_run_message_equals_what_celery_publishes(
    celery_for: Callable[..., Celery], redis_client: redis.Redis, name: str
) -> None:
    celery = celery_for()
    workflows = _workflows()
    publisher = RunPublisher(celery, workflows)
    wf = next(w for w in workflows if w.name == name)
    assert publisher.templated(wf)
    ctx = new_context(
        event={"data": {"email": "ada@example.com", "first_name": "Ada"}},
        event_id="evt-1",
        source="crm",
        event_type="contact.created",
        run_id="run-1",
    )
    message = publisher.message(wf, ctx, event_id="evt-1", run_id="run-1")
    key, theirs = _kombu(celery, redis_client, wf, ctx, publisher)
    mine = _decode(message.payload)
    assert message.key == key == queue_for(wf.priority)
    assert mine["headers"]["id"] == message.task_id
    _same_shape(mine, theirs)
    # the rest of the chain rides in the message, with its own ids and the run's kwargs
    chain = mine["body"][2]["chain"]
    assert len(chain) == len(wf.steps) - 1
    for step, signature in zip(reversed(wf.steps[1:]), chain, strict=True):
        assert signature["kwargs"]["step"] == step.id
        assert signature["options"]["shadow"] == f"{wf.name}.{step.id}"
        assert signature["options"]["task_id"] != message.task_id


def test_every_event_gets_fresh_task_ids(celery_for: Callable[..., Celery]) -> None:
    workflows = _workflows()
    publisher = RunPublisher(celery_for(), workflows)
    wf = workflows[-1]
    ctx = new_context(event={}, event_id="e", source="crm", event_type="t", run_id="r")
    first = _decode(publisher.message(wf, ctx, event_id="e", run_id="r").payload)
    second = _decode(publisher.message(wf, ctx, event_id="e", run_id="r").payload)
    assert first["headers"]["id"] != second["headers"]["id"]
    assert first["properties"]["delivery_tag"] != second["properties"]["delivery_tag"]
    assert (
        first["body"][2]["chain"][0]["options"]["task_id"]
        != second["body"][2]["chain"][0]["options"]["task_id"]
    )


def test_queue_and_priority_come_from_celery_routing(
    celery_for: Callable[..., Celery], redis_client: redis.Redis
) -> None:
    celery = celery_for(task_routes={"hub.step": {"queue": "hub.bulk", "priority": 5}})
    workflows = _workflows()
    publisher = RunPublisher(celery, workflows)
    wf = workflows[0]
    ctx = new_context(event={}, event_id="evt-1", source="crm", event_type="t", run_id="run-1")
    message = publisher.message(wf, ctx, event_id="evt-1", run_id="run-1")
    key, theirs = _kombu(celery, redis_client, wf, ctx, publisher)
    assert message.key == key == "hub.bulk\x06\x163"  # kombu's list for priority 5
    _same_shape(_decode(message.payload), theirs)


def test_a_signature_queue_option_is_honoured(
    celery_for: Callable[..., Celery], redis_client: redis.Redis
) -> None:
    celery = celery_for()

    def compile_interactive(app: Celery, wf: Workflow, ctx: Any, **ids: str) -> Any:
        sig = compile_run(app, wf, ctx, **ids)
        for task in sig.tasks:
            task.set(queue="hub.interactive")
        return sig

    workflows = _workflows()
    publisher = RunPublisher(celery, workflows, compile_interactive)
    ctx = new_context(event={}, event_id="e", source="crm", event_type="t", run_id="r")
    assert publisher.message(workflows[0], ctx, event_id="e", run_id="r").key == "hub.interactive"


def test_a_message_that_depends_on_the_clock_is_built_by_celery_each_time(
    celery_for: Callable[..., Celery], redis_client: redis.Redis
) -> None:
    celery = celery_for()

    def compile_expiring(app: Celery, wf: Workflow, ctx: Any, **ids: str) -> Any:
        sig = compile_run(app, wf, ctx, **ids)
        sig.tasks[0].set(expires=600)
        return sig

    workflows = _workflows()
    publisher = RunPublisher(celery, workflows, compile_expiring)
    wf = workflows[0]
    assert not publisher.templated(wf)
    ctx = new_context(event={"a": 1}, event_id="e", source="crm", event_type="t", run_id="r")
    message = _decode(publisher.message(wf, ctx, event_id="e", run_id="r").payload)
    assert message["headers"]["expires"] is not None
    assert message["body"][0][0] == ctx
