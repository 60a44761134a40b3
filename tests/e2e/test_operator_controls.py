"""Pauses and circuit breakers on real parts: Redis, the ingress, Celery worker processes
and the Plutio sandbox, running the sample ``crm-contact-to-plutio-person`` workflow.

- An outage (the sandbox failing every call): the breaker opens, the upstream sees only
  probes while it is open, and once the sandbox recovers every event gets through, none
  dead-lettered.
- A paused workflow: its events are accepted (202) and its runs held; ``hub resume``
  starts them in arrival order.
- A paused connector: its steps wait (no attempt spent, nothing sent), then go on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from hub.core.redis_server import RedisServer
from hub.history.dead_letters import DeadLetterStore
from hub.history.runs import RunStore
from tests.support.processes import ROOT, HubProcesses, wait_for
from tests.support.signing import crm_delivery

pytestmark = pytest.mark.e2e

WORKFLOW = "crm-contact-to-plutio-person"
CLIENT = "plutio:sandbox-client"  # the sandbox's API client: its budget and breaker key
BREAKER = f"hub:breaker:{CLIENT}"


@pytest.fixture
def hub(redis_server: RedisServer, redis_client: object, tmp_path: Path) -> Iterator[HubProcesses]:
    processes = HubProcesses(
        redis_url=redis_server.url,
        log_dir=tmp_path,
        extra_env={
            "HUB_BREAKER_MIN_CALLS": "4",
            "HUB_BREAKER_FAILURE_RATE": "0.5",
            "HUB_BREAKER_WINDOW_SECONDS": "30",
            "HUB_BREAKER_OPEN_SECONDS": "1",
            "HUB_BREAKER_MAX_OPEN_SECONDS": "2",
            "HUB_RETRY_CAP_SECONDS": "2",
            "HUB_PAUSE_RECHECK_SECONDS": "1",
        },
    )
    try:
        processes.start_sandbox()
        processes.start_ingress()
        yield processes
    finally:
        processes.stop()


def _send(hub: HubProcesses, number: int) -> str:
    """Post contact ``number``; its run id."""
    event_id = f"c{number:03d}"
    body = {
        "id": event_id,
        "type": "contact.created",
        "data": {"first_name": "P", "last_name": str(number), "email": f"p{number}@example.com"},
    }
    answer = httpx.post(
        f"{hub.ingress_url}/hooks/crm",
        **crm_delivery(body, event_id, **{"X-Event-Type": "contact.created"}),
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    (run,) = answer.json()["runs"]
    return str(run["run_id"])


def _calls(hub: HubProcesses, since: int = 0) -> list[dict[str, Any]]:
    found = httpx.get(f"{hub.sandbox_url}/_sandbox/calls", params={"since": since}).json()
    return list(found["calls"])


def _last_seq(hub: HubProcesses) -> int:
    return int(httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()["last_seq"])


def _people(hub: HubProcesses) -> set[str]:
    people = httpx.get(f"{hub.sandbox_url}/_sandbox/state/people").json()
    return {p["contactEmails"][0]["address"] for p in people}


def _hub(hub: HubProcesses, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hub", *args],
        env=hub.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _all_succeeded(runs: RunStore, run_ids: list[str]) -> bool:
    return runs.statuses(run_ids) == ["succeeded"] * len(run_ids)


def _transitions(client: redis.Redis, state: str) -> int:
    return int(client.hget("hub:breaker:transitions", f"{CLIENT}:{state}") or 0)


def test_an_outage_opens_the_breaker_the_upstream_sees_only_probes_and_nothing_is_lost(
    hub: HubProcesses, redis_client: redis.Redis
) -> None:
    hub.start_worker(concurrency=2)
    runs = RunStore(redis_client)
    first = _send(hub, 0)  # a token and a person before the outage
    wait_for(lambda: _all_succeeded(runs, [first]), 60, "the first run")
    httpx.post(f"{hub.sandbox_url}/_sandbox/faults", json={"error_rate": 1.0}).raise_for_status()
    run_ids = [_send(hub, n) for n in range(1, 21)]
    try:
        wait_for(lambda: redis_client.hget(BREAKER, "state") == b"open", 60, "the breaker")
        opened_at_seq, probes_before = _last_seq(hub), _transitions(redis_client, "half_open")
        wait_for(
            lambda: _transitions(redis_client, "half_open") >= probes_before + 3,
            60,
            "three probes while the sandbox fails",
        )
        outage_calls = _calls(hub, since=opened_at_seq)
        probes = _transitions(redis_client, "half_open") - probes_before
        held = _hub(hub, "quota", "--json")
        httpx.delete(f"{hub.sandbox_url}/_sandbox/faults").raise_for_status()
        wait_for(lambda: _all_succeeded(runs, run_ids), 120, "every run after the recovery")
    except TimeoutError:
        print(hub.logs())
        raise
    # while open, only probes reach the upstream (plus, at most, the calls the two worker
    # processes had already sent when it opened)
    assert len(outage_calls) <= probes + 2, (len(outage_calls), probes)
    assert all(c["fault"] == "error_rate" for c in outage_calls)
    [status] = json.loads(held)["breakers"]
    assert status["key"] == CLIENT and status["transitions"]["open"] >= 1
    assert _people(hub) == {f"p{n}@example.com" for n in range(21)}
    assert DeadLetterStore(redis_client).find() == []
    assert redis_client.hget(BREAKER, "state") == b"closed"
    print(
        f"\nbreaker figures: {len(outage_calls)} upstream calls while open, {probes} probes, "
        f"20 events held through the outage, 0 dead letters"
    )


def test_a_paused_workflow_holds_its_runs_and_resume_starts_them_in_arrival_order(
    hub: HubProcesses, redis_client: redis.Redis
) -> None:
    out = _hub(hub, "pause", "workflow", WORKFLOW, "--reason", "checking mappings", "--by", "ops")
    assert "paused" in out
    hub.start_worker(concurrency=1)
    before = _last_seq(hub)
    run_ids = [_send(hub, n) for n in range(12)]
    runs = RunStore(redis_client)
    assert runs.statuses(run_ids) == ["held"] * 12
    listed = json.loads(_hub(hub, "paused", "--json"))
    assert [(p["kind"], p["name"], p["by"], p["held"]) for p in listed] == [
        ("workflow", WORKFLOW, "ops", 12)
    ]
    assert "held" in _hub(hub, "runs", "--status", "held")
    time.sleep(1.0)  # a worker that would start a held run has had its chance
    assert _calls(hub, since=before) == []
    assert runs.statuses(run_ids) == ["held"] * 12
    out = _hub(hub, "resume", "workflow", WORKFLOW, "--by", "ops")
    assert "12 held run(s) released in arrival order" in out
    try:
        wait_for(lambda: _all_succeeded(runs, run_ids), 120, "the released runs")
    except TimeoutError:
        print(hub.logs())
        raise
    started = [r.started_at for r in runs.get_many(run_ids) if r and r.started_at]
    assert len(started) == 12 and started == sorted(started)  # one worker: arrival order
    assert _people(hub) == {f"p{n}@example.com" for n in range(12)}
    print("\npause figures: 12 runs held, 12 released on resume, in arrival order")


def test_a_paused_connector_holds_its_steps_without_spending_attempts(
    hub: HubProcesses, redis_client: redis.Redis
) -> None:
    hub.start_worker(concurrency=2)
    _hub(hub, "pause", "connector", "plutio", "--by", "ops")
    before = _last_seq(hub)
    run_ids = [_send(hub, n) for n in range(3)]
    runs = RunStore(redis_client)

    def all_held() -> bool:
        records = [r for r in runs.get_many(run_ids) if r is not None]
        waiting = [r.steps.get("person") for r in records]
        return len(waiting) == 3 and all(s and s.waiting == "paused" for s in waiting)

    try:
        wait_for(all_held, 60, "the steps to be held by the paused connector")
        wait_for(
            lambda: all(
                (s.quota_waits >= 2) for r in runs.get_many(run_ids) if r for s in r.steps.values()
            ),
            60,
            "the held steps to look again",
        )
        assert _calls(hub, since=before) == []
        [paused] = json.loads(_hub(hub, "paused", "--json"))
        assert (paused["kind"], paused["name"], paused["held"]) == ("connector", "plutio", 3)
        _hub(hub, "resume", "connector", "plutio")
        wait_for(lambda: _all_succeeded(runs, run_ids), 60, "the steps to go on")
    except TimeoutError:
        print(hub.logs())
        raise
    for record in runs.get_many(run_ids):
        assert record is not None
        assert record.steps["person"].attempts == 1  # held, never a failed attempt
    assert DeadLetterStore(redis_client).find() == []
