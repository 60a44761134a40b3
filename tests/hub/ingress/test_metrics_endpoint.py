"""``GET /metrics`` on the ingress: events by source and outcome, counted in Redis."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from hub.intake import signatures as sig
from tests.hub.history.test_metrics import samples, value

from .conftest import SECRET, write_source, write_workflow

CRM = """\
auth: { scheme: standard-webhooks, secret: "{{ secrets.CRM_SIGNING_KEY }}" }
event_type: { header: X-Event-Type, path: type }
event_id: { header: webhook-id, path: id, required: true }
"""
SIGNER = sig.StandardWebhooks((sig.standard_webhooks_key(SECRET),))


def _post(client: TestClient, event_id: str) -> int:
    raw = json.dumps({"type": "contact.created", "data": {"first": "Ada"}}).encode()
    headers = {"Content-Type": "application/json", **SIGNER.sign(raw, event_id, time.time())}
    return int(client.post("/hooks/crm", content=raw, headers=headers).status_code)


def _folder(tmp_path: Path) -> Path:
    write_workflow(tmp_path, "contact-created", "crm", "contact.created")
    write_source(tmp_path, "crm", CRM)
    return tmp_path


def test_metrics_count_accepted_and_duplicate_events(
    make_client: Callable[..., TestClient],
    tmp_path: Path,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(_folder(tmp_path), hub_local_mode=True)  # views open: no token
    with caplog.at_level(logging.INFO, logger="hub.transitions"):
        assert [_post(client, e) for e in ("a", "b", "a", "c", "a")] == [202, 202, 200, 202, 200]
    logged = [
        (r.event_id, r.status, r.runs)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "hub.transitions"
    ]
    assert logged[:3] == [("a", "accepted", 1), ("b", "accepted", 1), ("a", "duplicate", 1)]
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)
    assert value(found, "hub_events_total", source="crm", outcome="accepted") == 3
    assert value(found, "hub_events_total", source="crm", outcome="duplicate") == 2
    assert value(found, "hub_queue_length", queue="hub") == 3


def test_metrics_need_the_admin_token_when_one_is_set(
    make_client: Callable[..., TestClient], tmp_path: Path, redis_client: redis.Redis
) -> None:
    client = make_client(_folder(tmp_path), hub_ingress_admin_token="t0ken")
    assert client.get("/metrics").status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer t0ken"})
    assert answer.status_code == 200 and "hub_queue_length" in answer.text
