"""The hub on Redis Sentinel: every client through the sentinels, and a failover.

One primary, one replica and three sentinels run as local processes; the ingress and a
worker reach them through a ``redis+sentinel://`` HUB_REDIS_URL and wait for a replica's
acknowledgement before answering 202 (``HUB_INGRESS_MIN_REPLICAS_ACKED=1``). Signed events
go in at a steady rate, retried on 503 and connection errors as a sender does; part way
through, the primary is killed with SIGKILL. The sentinels promote the replica, the old
primary comes back (as a supervisor would restart it) and the sentinels make it the new
primary's replica. Every event answered 202 (or 200, found accepted already) must then be
upstream exactly once: one person per event's email in the Plutio sandbox.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from hub.core import Settings, redis_client
from hub.worker.queues import STEP_QUEUES
from tests.support.processes import ROOT, HubProcesses, wait_for
from tests.support.redis_sentinel import SentinelGroup
from tests.support.signing import crm_delivery
from tests.workflows.invoice_export import fast_workflows, invoice

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WORKFLOW = ROOT / "workflows" / "crm-contact-to-plutio-person.yaml"
EVENTS = 80
PER_SECOND = 10
#: the primary dies once this many events were answered
KILL_AFTER = EVENTS // 3
LOGIN = ("ops", "flower-sentinel-password")


@pytest.fixture
def group(tmp_path: Path) -> Iterator[SentinelGroup]:
    group = SentinelGroup(tmp_path / "redis").start()
    try:
        yield group
    finally:
        group.stop()


@pytest.fixture
def hub(group: SentinelGroup, tmp_path: Path) -> Iterator[HubProcesses]:
    folder = tmp_path / "workflows"
    folder.mkdir()
    shutil.copy(WORKFLOW, folder / WORKFLOW.name)
    shutil.copytree(ROOT / "workflows" / "sources", folder / "sources")
    (tmp_path / "logs").mkdir()
    procs = HubProcesses(
        redis_url=group.url(),
        log_dir=tmp_path / "logs",
        workflows=folder,
        extra_env={
            "HUB_INGRESS_MIN_REPLICAS_ACKED": "1",
            "HUB_INGRESS_FSYNC": "always",  # Redis 7.0: appendfsync always, checked at start
            "HUB_VISIBILITY_TIMEOUT_SECONDS": "10",
            "HUB_RETRY_BASE_SECONDS": "0.05",
            "HUB_RETRY_CAP_SECONDS": "1",
            "HUB_STEP_MAX_ATTEMPTS": "40",
        },
    )
    try:
        procs.start_sandbox()
        procs.start_ingress()
        procs.start_worker(concurrency=2)
        yield procs
    finally:
        procs.stop()


class Sender:
    """Sends event ``n`` until the ingress answers it 200/202, retrying as a sender does."""

    def __init__(self, ingress_url: str, deadline: float) -> None:
        self.url = f"{ingress_url}/hooks/crm"
        self.deadline = deadline
        self.accepted: dict[str, str] = {}  # event id -> email
        self.retries = Counter[int]()  # status (0: no answer) -> times
        self.lock = threading.Lock()

    def send(self, n: int) -> None:
        event_id, email = f"failover-{n}", f"f{n}@example.com"
        body = {
            "id": event_id,
            "type": "contact.created",
            "data": {"first_name": "Fail", "last_name": str(n), "email": email},
        }
        with httpx.Client(timeout=10) as client:
            while time.monotonic() < self.deadline:
                try:
                    answer = client.post(self.url, **crm_delivery(body, event_id))
                    status = answer.status_code
                except httpx.HTTPError:
                    status = 0
                if status in (200, 202):
                    with self.lock:
                        self.accepted[event_id] = email
                    return
                assert status in (0, 409, 429) or status >= 500, f"{event_id}: {status}"
                with self.lock:
                    self.retries[status] += 1
                time.sleep(0.3)


def _fail_over(group: SentinelGroup, sender: Sender) -> tuple[int, float]:
    """Once :data:`KILL_AFTER` events are in, SIGKILL the primary; when the sentinels
    have promoted a replica, start the old primary again. The port promoted, and the
    seconds to the promotion."""
    wait_for(lambda: len(sender.accepted) >= KILL_AFTER, 60, "events before the failover")
    old = group.primary_port()
    assert old == group.primary.port
    group.primary.kill()
    killed = time.monotonic()
    port = group.wait_failed_over(old, 30)
    promoted = time.monotonic() - killed
    group.primary.start()  # the sentinels make it the new primary's replica
    return port, promoted


def _people(hub: HubProcesses) -> Counter[str]:
    records = httpx.get(f"{hub.sandbox_url}/_sandbox/state/people", timeout=30).json()
    return Counter(e["address"] for p in records for e in p.get("contactEmails", []))


def _in_flight(group: SentinelGroup) -> int:
    """Messages queued, or taken and not acknowledged, on the current primary."""
    client = redis_client(Settings(), group.url())
    return sum(client.llen(q) for q in STEP_QUEUES) + client.hlen("unacked")


def test_every_accepted_event_is_upstream_once_after_the_primary_dies(
    group: SentinelGroup, hub: HubProcesses
) -> None:
    start = time.monotonic()
    sender = Sender(hub.ingress_url, deadline=start + 90)

    def one(n: int) -> None:
        time.sleep(max(0.0, start + n / PER_SECOND - time.monotonic()))
        sender.send(n)

    with ThreadPoolExecutor(16) as pool:
        sent = pool.map(one, range(1, EVENTS + 1))
        port, promoted = _fail_over(group, sender)
        list(sent)
    # the replica took over (a stalled machine may fail over again later, back to the old
    # primary, now its replica: the events must reach the upstream once all the same)
    assert port == group.replica.port
    assert len(sender.accepted) == EVENTS, f"not accepted in time: {sender.retries}"

    emails = set(sender.accepted.values())
    try:
        wait_for(lambda: emails <= set(_people(hub)), 60, "every event upstream", interval=1)
    except TimeoutError:
        print(hub.logs())
        raise
    # a redelivered step would make a duplicate: wait until no message is left to deliver
    wait_for(lambda: _in_flight(group) == 0, 60, "the queues to drain", interval=0.5)
    people = _people(hub)
    assert {e: people[e] for e in emails if people[e] != 1} == {}
    print(f"promoted in {promoted:.1f}s; retried answers: {dict(sender.retries)}")


def test_every_part_of_the_hub_finds_the_primary_through_the_sentinels(
    group: SentinelGroup, tmp_path: Path
) -> None:
    folder = fast_workflows(tmp_path / "workflows")  # the invoice exports, polling every 1s
    shutil.copy(WORKFLOW, folder)
    shutil.copytree(ROOT / "workflows" / "sources", folder / "sources")
    (tmp_path / "logs").mkdir()
    hub = HubProcesses(
        redis_url=group.url(),
        log_dir=tmp_path / "logs",
        workflows=folder,
        extra_env={
            "HUB_FLOWER_BASIC_AUTH": ":".join(LOGIN),
            "HUB_DATA_DIR": str(tmp_path / "data"),
            "ACCOUNTING_EXPORT_DIR": str(tmp_path / "exports"),
        },
    )
    try:
        for start in (hub.start_sandbox, hub.start_ingress, hub.start_worker, hub.start_beat):
            start()
        hub.start_flower()
        _check_the_spine(group, hub)
    except BaseException:
        print(hub.logs())
        raise
    finally:
        hub.stop()


def _check_the_spine(group: SentinelGroup, hub: HubProcesses) -> None:
    person = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
    event = {"id": "s-1", "type": "contact.created", "data": person}
    answer = httpx.post(f"{hub.ingress_url}/hooks/crm", **crm_delivery(event, "s-1"))
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["runs"][0]["run_id"]
    wait_for(lambda: "ada@example.com" in _people(hub), 60, "the person upstream")
    runs = subprocess.run(  # run history, read by the CLI
        [sys.executable, "-m", "hub", "runs", "--json"],
        cwd=ROOT,
        env={**os.environ, **hub.env()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert runs.returncode == 0 and run_id in runs.stdout, runs.stderr
    # Flower: the workers answer its broadcast through the broker, its broker page asks a
    # sentinel for the primary and reads the queues there

    def flower_sees_the_worker() -> bool:
        url = f"{hub.flower_url}/api/workers?refresh=1"
        return bool(httpx.get(url, auth=LOGIN, timeout=30).json())

    wait_for(flower_sees_the_worker, 60, "Flower to see the worker", interval=1)
    queues = httpx.get(f"{hub.flower_url}/api/queues/length", auth=LOGIN, timeout=30)
    assert queues.status_code == 200, queues.text
    assert "hub" in {q["name"] for q in queues.json()["active_queues"]}
    # beat fires the poll under its lock; the invoice it finds moves the poll's cursor
    seeded = httpx.post(f"{hub.sandbox_url}/_sandbox/seed", json={"invoices": [invoice(1)]})
    seeded.raise_for_status()
    primary = redis_client(Settings(), group.url())
    cursor = "hub:cursor:plutio-invoice-poll-to-accounting-export"
    wait_for(lambda: bool(primary.exists(cursor)), 60, "beat's poll to move its cursor")
