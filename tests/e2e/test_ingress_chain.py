"""A two-step chain published by the ingress's own message writer runs on a real worker."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.core.redis_server import RedisServer
from tests.support.processes import ROOT, HubProcesses, wait_for
from tests.support.signing import crm_delivery

pytestmark = pytest.mark.e2e

TWO_STEPS = """\
name: crm-find-then-create
trigger:
  webhook: { source: crm, event: contact.created }
steps:
  - id: existing
    uses: plutio.people.find
    with: { query: { contactEmails.address: "{{ event.data.email }}" } }
  - id: person
    if: "{{ not steps.existing }}"
    uses: plutio.people.create
    with:
      name: { first: "{{ event.data.first_name }}", last: "{{ event.data.last_name }}" }
      contactEmails: [ { address: "{{ event.data.email }}", type: work } ]
"""


@pytest.fixture
def hub(redis_server: RedisServer, redis_client: object, tmp_path: Path) -> Iterator[HubProcesses]:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "two.yaml").write_text(TWO_STEPS)
    shutil.copytree(ROOT / "workflows" / "sources", folder / "sources")
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = HubProcesses(redis_url=redis_server.url, log_dir=logs, workflows=folder)
    with processes.running(workers=1) as procs:
        yield procs


def test_both_steps_of_the_chain_run(hub: HubProcesses) -> None:
    body = {
        "type": "contact.created",
        "data": {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"},
    }
    answer = httpx.post(f"{hub.ingress_url}/hooks/crm", **crm_delivery(body, "chain-1"))
    assert answer.status_code == 202, answer.text
    assert [r["workflow"] for r in answer.json()["runs"]] == ["crm-find-then-create"]

    def created() -> bool:
        return bool(httpx.get(f"{hub.sandbox_url}/_sandbox/state/people").json())

    try:
        wait_for(created, 30, "the second step to create the person")
    except TimeoutError:
        print(hub.logs())
        raise
    (person,) = httpx.get(f"{hub.sandbox_url}/_sandbox/state/people").json()
    assert person["name"] == {"first": "Grace", "last": "Hopper"}
    worker_log = (hub.log_dir / "worker.log").read_text()
    assert "crm-find-then-create.existing[" in worker_log
    assert "crm-find-then-create.person[" in worker_log
