"""foreach, on_failure and run records on real parts: Redis, a Celery worker, the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from hub.core.redis_server import RedisServer
from hub.history.runs import RunRecord, RunStore
from tests.support.processes import HubProcesses, wait_for
from tests.support.signing import crm_delivery

pytestmark = pytest.mark.e2e


@pytest.fixture
def hub(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> Iterator[HubProcesses]:
    processes = HubProcesses(redis_url=redis_server.url, log_dir=tmp_path)
    with processes.running(workers=2) as procs:
        yield procs


def _company(event_id: str, contacts: list[dict[str, str]]) -> dict[str, object]:
    return {
        "id": event_id,
        "type": "company.created",
        "data": {"name": "Engines", "contacts": contacts},
    }


def _finished(runs: RunStore, run_id: str, hub: HubProcesses) -> RunRecord:
    def done() -> bool:
        record = runs.get(run_id)
        return record is not None and record.status != "running"

    try:
        wait_for(done, 45, f"run {run_id} to finish")
    except TimeoutError:
        print(hub.logs())
        raise
    record = runs.get(run_id)
    assert record is not None
    return record


def test_foreach_items_run_as_tasks_and_a_failing_item_runs_on_failure(
    hub: HubProcesses, redis_client: redis.Redis
) -> None:
    runs = RunStore(redis_client)
    contacts = [
        {"first_name": "Charles", "last_name": "Babbage", "email": "charles@example.com"},
        {"first_name": "Front", "last_name": "Desk"},
        {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
    ]
    answer = httpx.post(
        f"{hub.ingress_url}/hooks/crm", **crm_delivery(_company("c1", contacts), "c1")
    )
    assert answer.status_code == 202, answer.text
    run = answer.json()["runs"][0]
    assert run["workflow"] == "crm-company-to-plutio-people"
    record = _finished(runs, run["run_id"], hub)
    assert record.status == "succeeded", record
    assert record.revision == run["revision"]
    assert record.steps["people"].items == 3
    assert record.steps["summary"].status == "succeeded"
    people = httpx.get(f"{hub.sandbox_url}/_sandbox/state/people").json()
    assert sorted(p["contactEmails"][0]["address"] for p in people) == [
        "ada@example.com",
        "charles@example.com",
    ]

    # the next create is refused for good: that item fails, the run runs on_failure
    faults = {"scripts": [{"method": "POST", "path": "/people", "answers": [400]}]}
    assert httpx.post(f"{hub.sandbox_url}/_sandbox/faults", json=faults).status_code == 200
    new = [{"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"}]
    answer = httpx.post(f"{hub.ingress_url}/hooks/crm", **crm_delivery(_company("c2", new), "c2"))
    record = _finished(runs, answer.json()["runs"][0]["run_id"], hub)
    assert record.status == "failed"
    assert record.error is not None
    assert (record.error["step"], record.error["status"], record.error["index"]) == (
        "people",
        400,
        0,
    )
    assert record.steps["report"].status == "succeeded"
    assert "summary" not in record.steps
    log = (hub.log_dir / "worker.log").read_text()
    assert "crm-company-to-plutio-people.people[0]" in log
    assert "stopped at step people" in log  # the report step's line
    # the failing item task itself ends FAILED, as Flower shows it
    assert "people[0][" in log.split("raised unexpected: FatalError")[0].rsplit("\n", 1)[-1]
