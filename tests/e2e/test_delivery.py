"""At-least-once delivery on real parts: a task whose worker is SIGKILLed mid-call is
delivered again and completed, and its effect is applied once.

Two ways a worker dies: the whole node (main process and pool, as an OOM kill or a lost
machine) leaves its task unacknowledged in Redis until the visibility timeout; a pool
process alone is noticed by its parent, which requeues the task at once
(``task_reject_on_worker_lost``). Both tasks are killed while their ``POST /people`` is
in the sandbox, after their ``GET /people`` found nobody.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from hub.core.redis_server import RedisServer
from hub.history.runs import RunStore
from hub.worker.queues import STEP_QUEUES
from tests.support.processes import ROOT, HubProcesses, wait_for

pytestmark = pytest.mark.e2e

ENV = {
    "HUB_VISIBILITY_TIMEOUT_SECONDS": "10",  # the least allowed: a dead node's task is back soon
    "PLUTIO_TIMEOUT_SECONDS": "4",  # so an upsert's lock lapses 18 s after its holder died
    "HUB_RETRY_BASE_SECONDS": "0.05",
}


@pytest.fixture
def hub(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> Iterator[HubProcesses]:
    folder = tmp_path / "workflows"  # the CRM workflow alone, its source open to anyone
    folder.mkdir()
    shutil.copy(ROOT / "workflows" / "crm-contact-to-plutio-person.yaml", folder)
    procs = HubProcesses(
        redis_url=redis_server.url,
        log_dir=tmp_path,
        workflows=folder,
        extra_env=ENV,
        open_sources=("crm",),
    )
    try:
        procs.start_sandbox()
        procs.start_ingress()
        yield procs
    finally:
        procs.stop()


def _send(hub: HubProcesses, event_id: str, email: str) -> str:
    body = {
        "id": event_id,
        "type": "contact.created",
        "data": {"first_name": "Ada", "last_name": event_id, "email": email},
    }
    answer = httpx.post(f"{hub.ingress_url}/hooks/crm", json=body)
    assert answer.status_code == 202, answer.text
    run_id: str = answer.json()["runs"][0]["run_id"]
    return run_id


def _looked_up(hub: HubProcesses, email: str) -> int:
    calls = httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()["calls"]
    quoted = email.replace("@", "%40")
    return sum(1 for c in calls if c["method"] == "GET" and quoted in c["query"])


def test_a_sigkilled_workers_task_is_redelivered_and_applied_once(
    hub: HubProcesses, redis_client: redis.Redis
) -> None:
    slow = {"delay_ms": 2500}  # each create takes this long: time to kill its worker
    scripts = [{"method": "POST", "path": "/people", "answers": [slow, slow]}]
    httpx.post(f"{hub.sandbox_url}/_sandbox/faults", json={"scripts": scripts}).raise_for_status()
    runs = RunStore(redis_client)

    hub.start_worker("node", concurrency=1)
    node_run = _send(hub, "evt-node", "node@example.com")
    wait_for(lambda: _looked_up(hub, "node@example.com") == 1, 20, "the first lookup")
    hub.kill("node")  # main process and pool: nothing is requeued by the worker itself

    hub.start_worker("pool", concurrency=1)
    (child,) = hub.children("pool")
    pool_run = _send(hub, "evt-pool", "pool@example.com")
    wait_for(lambda: _looked_up(hub, "pool@example.com") == 1, 20, "the second lookup")
    os.kill(child, signal.SIGKILL)  # the pool process only: its parent requeues the task
    hub.start_worker("fresh", concurrency=1)

    def finished() -> bool:
        records = [runs.get(node_run), runs.get(pool_run)]
        return all(r is not None and r.status != "running" for r in records)

    try:
        wait_for(finished, 90, "both runs to finish")
    except TimeoutError:
        print(hub.logs())
        raise
    for run_id, email in ((node_run, "node@example.com"), (pool_run, "pool@example.com")):
        record = runs.get(run_id)
        assert record is not None and record.status == "succeeded", (record, hub.logs())
        assert _looked_up(hub, email) >= 2  # delivered again: it looked again
    people = httpx.get(f"{hub.sandbox_url}/_sandbox/state/people").json()
    emails = sorted(p["contactEmails"][0]["address"] for p in people)
    assert emails == ["node@example.com", "pool@example.com"]  # one person each
    assert "signal 9" in (hub.log_dir / "pool.log").read_text(errors="replace")


@pytest.mark.parametrize("moment", ["read", "unread"])
def test_a_worker_killed_right_after_its_take_loses_nothing(
    hub: HubProcesses, redis_client: redis.Redis, moment: str
) -> None:
    """The loss kombu's ``BRPOP`` allows: a worker takes a message and dies before it
    records it (``unread``: with the take's answer still in the socket)."""
    taker = subprocess.Popen(
        [sys.executable, "-m", "tests.support.take_and_die", moment],
        env=hub.env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert taker.stdout is not None and taker.stdout.readline() == b"waiting\n"
        run_id = _send(hub, "evt-taken", "taken@example.com")
        assert taker.wait(20) == -signal.SIGKILL
    finally:
        if taker.poll() is None:
            taker.kill()
    # gone from its queue, not lost: it waits in `unacked` for the visibility timeout
    assert not any(redis_client.llen(queue) for queue in STEP_QUEUES)
    assert redis_client.hlen("unacked") == 1
    runs = RunStore(redis_client)
    assert runs.get(run_id) is None  # nothing of it ran

    hub.start_worker("sweeper", concurrency=1)  # a live worker's sweep delivers it again

    def finished() -> bool:
        record = runs.get(run_id)
        return record is not None and record.status != "running"

    try:
        wait_for(finished, 60, "the redelivered run to finish")
    except TimeoutError:
        print(hub.logs())
        raise
    record = runs.get(run_id)
    assert record is not None and record.status == "succeeded"
    assert record.steps["person"].attempts == 1
    people = httpx.get(f"{hub.sandbox_url}/_sandbox/state/people").json()
    assert [p["contactEmails"][0]["address"] for p in people] == ["taken@example.com"]
    wait_for(lambda: redis_client.hlen("unacked") == 0, 10, "the redelivery's ack")


def test_a_task_whose_acknowledgement_died_with_its_worker_is_not_applied_again(
    hub: HubProcesses, redis_client: redis.Redis
) -> None:
    """A worker's acknowledgement goes with its next take: one killed in between leaves
    the task's entry in ``unacked``, and the task is delivered again after the visibility
    timeout. Its step is recorded: the redelivery calls nobody and the run stays as it
    ended."""
    run_id = _send(hub, "evt-acked", "acked@example.com")
    (queue,) = [q for q in STEP_QUEUES if redis_client.llen(q)]
    raw = redis_client.lindex(queue, 0)
    assert raw is not None
    message = json.loads(raw)
    info = message["properties"]["delivery_info"]
    tag = message["properties"]["delivery_tag"]
    runs = RunStore(redis_client)
    hub.start_worker("node", concurrency=1)

    def succeeded() -> bool:
        record = runs.get(run_id)
        return record is not None and record.status == "succeeded"

    wait_for(succeeded, 30, "the run")
    wait_for(lambda: redis_client.hlen("unacked") == 0, 10, "its acknowledgement")
    calls = len(httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()["calls"])
    # the entry a worker killed before its next take leaves behind, timed out
    entry = json.dumps([message, info["exchange"], info["routing_key"]])
    redis_client.hset("unacked", tag, entry)
    redis_client.zadd("unacked_index", {tag: time.time() - 60})

    task_id = message["headers"]["id"]

    def received() -> int:
        log = (hub.log_dir / "node.log").read_text(errors="replace")
        return sum(1 for line in log.splitlines() if task_id in line and "received" in line)

    assert received() == 1
    wait_for(lambda: received() == 2, 40, "the task delivered again")
    wait_for(lambda: redis_client.hlen("unacked") == 0, 10, "the redelivery's ack")
    record = runs.get(run_id)
    assert record is not None and record.status == "succeeded"
    assert record.steps["person"].attempts == 1
    assert len(httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()["calls"]) == calls
    people = httpx.get(f"{hub.sandbox_url}/_sandbox/state/people").json()
    assert [p["contactEmails"][0]["address"] for p in people] == ["acked@example.com"]
