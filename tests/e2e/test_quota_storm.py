"""A storm of bare 429s (no Retry-After, no rate-limit headers, as Plutora answers them):
real workers wait it out as they wait for quota, nothing is dead-lettered, and the
upstream sees only a trickle of probes while it lasts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from hub.core.redis_server import RedisServer, free_port
from hub.history.dead_letters import DeadLetterStore
from hub.history.runs import RunStore
from tests.support.processes import HubProcesses, wait_for

pytestmark = pytest.mark.e2e

EVENTS = 20
STORM_SECONDS = 4.0
WINDOW = 4.0  # the budget's window: the longest pause

WORKFLOW = """\
name: storm-systems
trigger:
  webhook: { source: load, event: system.created }
steps:
  - id: system
    uses: plutora.systems.create
    with: { name: "{{ event.data.name }}" }
"""


@pytest.fixture
def hub(redis_server: RedisServer, redis_client: object, tmp_path: Path) -> Iterator[HubProcesses]:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "storm-systems.yaml").write_text(WORKFLOW)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs = HubProcesses(
        redis_url=redis_server.url,
        log_dir=tmp_path,
        workflows=workflows,
        open_sources=("load",),
        extra_env={
            "PLUTORA_AUTH_URL": f"{url}/oauth/token",
            "PLUTORA_BASE_URL": url,
            "PLUTORA_CLIENT_ID": "sandbox-client",
            "PLUTORA_CLIENT_SECRET": "sandbox-secret",
            "PLUTORA_USERNAME": "sandbox@example.com",
            "PLUTORA_PASSWORD": "sandbox-password",
            "PLUTORA_QUOTA_WINDOW_SECONDS": str(WINDOW),
            "HUB_STEP_MAX_ATTEMPTS": "2",  # were a 429 an attempt, the storm would end runs
            "HUB_RETRY_BASE_SECONDS": "0.1",
            "HUB_RETRY_CAP_SECONDS": "0.2",
        },
    )
    try:
        procs.start_named_sandbox("plutora", port)
        procs.sandbox_port = port
        procs.start_ingress()
        procs.start_worker(concurrency=2)
        yield procs
    finally:
        procs.stop()


def test_a_storm_of_bare_429s_is_waited_out_with_few_probes(
    hub: HubProcesses, redis_client: redis.Redis
) -> None:
    ingress = httpx.Client(base_url=hub.ingress_url, timeout=10)

    def send(n: int) -> None:
        answer = ingress.post(
            "/hooks/load",
            json={"id": f"s{n}", "data": {"name": f"system {n}"}},
            headers={"X-Event-Type": "system.created"},
        )
        assert answer.status_code == 202, answer.text

    def systems() -> int:
        return len(httpx.get(f"{hub.sandbox_url}/_sandbox/state/systems").json())

    def all_through(count: int) -> None:
        try:
            wait_for(lambda: systems() >= count, 120, f"{count} systems", interval=0.5)
        except TimeoutError:
            print(hub.logs())
            raise

    send(0)  # the token is fetched before the storm: the storm meets the calls themselves
    all_through(1)
    storm = {"storm": {"seconds": STORM_SECONDS, "retry_after": None}}
    httpx.post(f"{hub.sandbox_url}/_sandbox/faults", json=storm).raise_for_status()
    began = time.monotonic()
    for n in range(1, EVENTS + 1):
        send(n)
    all_through(EVENTS + 1)
    ingress.close()
    assert systems() == EVENTS + 1  # every event through, each once
    assert DeadLetterStore(redis_client).find() == []
    runs = [r for r in RunStore(redis_client).get_many(RunStore(redis_client).recent(100)) if r]
    steps = [r.steps["system"] for r in runs]
    assert len(steps) == EVENTS + 1 and {s.attempts for s in steps} == {1}  # no attempt spent
    assert sum(s.quota_waits for s in steps) > 0  # they waited as for quota
    calls = httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()["calls"]
    stormed = [c for c in calls if c["fault"] == "storm"]
    assert stormed, "the storm was not met"
    # the first calls out, then one probe per pause (1, 2, 4 s): a trickle, not a flood
    assert len(stormed) <= 8, [(c["t"], c["path"]) for c in stormed]
    assert time.monotonic() - began >= STORM_SECONDS
    logs = (hub.log_dir / "worker.log").read_text(errors="replace")
    assert "budget is paused" in logs and "giving up" not in logs
