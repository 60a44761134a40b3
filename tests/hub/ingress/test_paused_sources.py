"""Pauses as a sender sees them, on the session Redis: a paused source answers 503 with
``Retry-After`` and keeps nothing; a paused workflow's events are accepted (202) and its
runs held until it is resumed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from hub.core import PauseStore
from hub.history import RunStore
from hub.intake import signatures as sig

from .conftest import SECRET, queued, write_source, write_workflow

CRM = """\
auth: { scheme: standard-webhooks, secret: "{{ secrets.CRM_SIGNING_KEY }}" }
event_id: { header: webhook-id, path: id, required: true }
"""
SIGNER = sig.StandardWebhooks((sig.standard_webhooks_key(SECRET),))
EVENT = {"type": "contact.created", "data": {"first": "Ada"}}


@pytest.fixture
def client(make_client: Callable[..., TestClient], tmp_path: Path) -> TestClient:
    write_workflow(tmp_path, "contact-created", "crm", "contact.created")
    write_source(tmp_path, "crm", CRM)
    return make_client(tmp_path, hub_paused_source_retry_after_seconds=120)


def _post(client: TestClient, event_id: str) -> Any:
    raw = json.dumps(EVENT).encode()
    headers = {"Content-Type": "application/json", **SIGNER.sign(raw, event_id, time.time())}
    return client.post("/hooks/crm", content=raw, headers=headers)


def _until(post: Callable[[], Any], status: int) -> Any:
    """Post until the answer is ``status``: a pause reaches the ingress within 0.5 s."""
    deadline = time.monotonic() + 10
    while True:
        answer = post()
        if answer.status_code == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def test_a_paused_source_answers_503_with_retry_after_and_keeps_nothing(
    client: TestClient, redis_client: redis.Redis
) -> None:
    pauses = PauseStore(redis_client)
    pauses.pause("source", "crm", by="ops", reason="migrating")
    answer = _until(lambda: _post(client, "evt-1"), 503)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "120"
    assert "paused" in answer.json()["error"]
    assert queued(redis_client) == []
    assert redis_client.get("hub:ingress:seen:crm:evt-1") is None  # not deduped: send again
    pauses.resume("source", "crm", by="ops")
    answer = _until(lambda: _post(client, "evt-1"), 202)
    assert answer.status_code == 202, answer.text
    assert len(queued(redis_client)) == 1


def test_a_paused_workflows_event_is_accepted_and_its_run_held_until_resumed(
    client: TestClient, redis_client: redis.Redis
) -> None:
    pauses = PauseStore(redis_client)
    pauses.pause("workflow", "contact-created", by="ops")
    run_ids: list[str] = []
    for number in range(3):
        answer = _post(client, f"evt-{number}")
        assert answer.status_code == 202, answer.text
        body: dict[str, Any] = answer.json()
        run_ids.append(body["runs"][0]["run_id"])
    assert queued(redis_client) == []
    runs = RunStore(redis_client)
    assert [r.status if r else None for r in runs.get_many(run_ids)] == ["held"] * 3
    assert pauses.resume("workflow", "contact-created", by="ops") == 3
    released = [m["body"][0][0]["run_id"] for m in queued(redis_client)]
    assert released == run_ids  # in arrival order
