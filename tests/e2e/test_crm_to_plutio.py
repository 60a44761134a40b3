"""The spine, on real parts: Redis, a Celery worker process, the ingress, the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.core.redis_server import RedisServer
from tests.support.processes import HubProcesses, wait_for
from tests.support.signing import crm_delivery

pytestmark = pytest.mark.e2e


@pytest.fixture
def hub(redis_server: RedisServer, redis_client: object, tmp_path: Path) -> Iterator[HubProcesses]:
    processes = HubProcesses(redis_url=redis_server.url, log_dir=tmp_path)
    with processes.running(workers=2) as procs:
        yield procs


def _contact(event_id: str, email: str) -> dict[str, Any]:
    body = {
        "id": event_id,
        "type": "contact.created",
        "data": {"first_name": "Ada", "last_name": "Lovelace", "email": email},
    }
    return crm_delivery(body, event_id, **{"X-Event-Type": "contact.created"})


def test_two_events_same_email_make_one_person(hub: HubProcesses) -> None:
    first = httpx.post(f"{hub.ingress_url}/hooks/crm", **_contact("e1", "ada@example.com"))
    second = httpx.post(f"{hub.ingress_url}/hooks/crm", **_contact("e2", "Ada@Example.com"))
    again = httpx.post(f"{hub.ingress_url}/hooks/crm", **_contact("e1", "ada@example.com"))
    assert first.status_code == 202, first.text
    assert second.status_code == 202, second.text
    assert [r["workflow"] for r in first.json()["runs"]] == ["crm-contact-to-plutio-person"]
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["runs"] == first.json()["runs"]

    def both_runs_looked_up() -> bool:
        calls = httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()
        calls = calls["calls"] if isinstance(calls, dict) else calls
        gets = [
            c
            for c in calls
            if c["method"] == "GET" and c["path"] == "/people" and c["status"] == 200
        ]
        return len(gets) >= 2

    try:
        wait_for(both_runs_looked_up, 30, "both runs to look the person up")
    except TimeoutError:
        print(hub.logs())
        raise
    people = httpx.get(f"{hub.sandbox_url}/_sandbox/state/people").json()
    assert len(people) == 1, people
    person = people[0]
    assert person["name"] == {"first": "Ada", "last": "Lovelace"}
    assert person["contactEmails"] == [{"address": "ada@example.com", "type": "work"}]
    # tasks carry the workflow and step in their name, as Flower and the logs show them
    worker_log = (hub.log_dir / "worker.log").read_text()
    assert "crm-contact-to-plutio-person.person[" in worker_log


def test_unknown_source_and_broken_json(hub: HubProcesses) -> None:
    unknown = httpx.post(f"{hub.ingress_url}/hooks/nope", json={"type": "x"})
    assert unknown.status_code == 404
    assert "unknown source 'nope'" in unknown.json()["error"]
    unsigned = httpx.post(f"{hub.ingress_url}/hooks/crm", json={"type": "x"})
    assert unsigned.status_code == 401
    # signed over the broken bytes, as a sender with a JSON bug would sign them
    broken = httpx.post(f"{hub.ingress_url}/hooks/crm", **crm_delivery(b"{not json", "e-b"))
    assert broken.status_code == 400
    assert "not valid JSON" in broken.json()["error"]
