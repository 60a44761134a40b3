"""A step's ``retry:`` overrides the hub's retry settings, in a real Celery worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from hub.core.redis_server import RedisServer
from tests.support.processes import HubProcesses, wait_for

pytestmark = pytest.mark.e2e

WORKFLOW = """
name: {name}
trigger:
  webhook: {{ source: crm, event: {event} }}
steps:
  - id: lookup
    uses: plutio.people.find
{retry}    with:
      query: {{ name.last: "{name}" }}
"""


@pytest.fixture
def hub(redis_server: RedisServer, redis_client: object, tmp_path: Path) -> Iterator[HubProcesses]:
    folder = tmp_path / "workflows"
    folder.mkdir()
    override = "    retry: { max_attempts: 2, backoff_base_seconds: 0.05 }\n"
    (folder / "a.yaml").write_text(WORKFLOW.format(name="override", event="a", retry=override))
    (folder / "b.yaml").write_text(WORKFLOW.format(name="default", event="b", retry=""))
    processes = HubProcesses(
        redis_url=redis_server.url,
        log_dir=tmp_path,
        workflows=folder,
        extra_env={"HUB_STEP_MAX_ATTEMPTS": "4", "HUB_RETRY_BASE_SECONDS": "0.05"},
        open_sources=("crm",),
    )
    with processes.running(workers=2) as procs:
        yield procs


def test_step_retry_override_wins_over_settings(hub: HubProcesses) -> None:
    script = {"path": "/people", "answers": [503] * 20}
    httpx.post(f"{hub.sandbox_url}/_sandbox/faults", json={"scripts": [script]}).raise_for_status()
    for event in ("a", "b"):
        sent = httpx.post(
            f"{hub.ingress_url}/hooks/crm", json={"id": f"evt-{event}", "type": event}
        )
        assert sent.status_code == 202, sent.text
    worker_log = hub.log_dir / "worker.log"

    def both_gave_up() -> bool:
        text = worker_log.read_text(errors="replace")
        return "giving up after 2 attempts" in text and "giving up after 4 attempts" in text

    try:
        wait_for(both_gave_up, 60, "both steps to give up")
    except TimeoutError:
        print(hub.logs())
        raise
    calls = httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()["calls"]
    attempts: dict[str, list[int]] = {}
    for call in calls:
        if call["path"] == "/people":
            name = parse_qs(call["query"])["name.last"][0]
            attempts.setdefault(name, []).append(call["status"])
    assert attempts == {"override": [503, 503], "default": [503, 503, 503, 503]}
    text = worker_log.read_text(errors="replace")
    assert "override.lookup run" in text and "default.lookup run" in text
