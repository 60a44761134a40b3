"""`hub up --demo` shows the workflows working on every run, not only the first."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from hub.cli.samples import expected, send_samples, tagged
from hub.core.redis_server import RedisServer
from hub.core.settings import Settings
from tests.support.processes import HubProcesses
from tests.support.signing import CRM_SIGNING_KEY

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_tagging_keeps_redeliveries_together_and_runs_apart() -> None:
    first, again = (
        json.loads((ROOT / "workflows/samples" / name).read_text())
        for name in ("1-crm-contact-created.json", "3-crm-contact-created-redelivered.json")
    )
    a, b = tagged(first, "t1"), tagged(again, "t1")
    assert a["headers"]["X-Event-Id"] == b["headers"]["X-Event-Id"] == "crm-evt-1001.t1"
    assert a["body"]["id"] == "crm-evt-1001.t1"
    assert tagged(first, "t2")["body"]["id"] != a["body"]["id"]
    assert first["body"]["id"] == "crm-evt-1001"  # the sample itself is left as it was


@pytest.fixture
def hub(redis_server: RedisServer, redis_client: object, tmp_path: Path) -> Iterator[HubProcesses]:
    processes = HubProcesses(redis_url=redis_server.url, log_dir=tmp_path)
    with processes.running(workers=2) as procs:
        yield procs


def test_a_second_demo_run_on_the_same_redis_makes_the_people_again(
    hub: HubProcesses, tmp_path: Path
) -> None:
    folder = tmp_path / "samples"
    folder.mkdir()
    for path in sorted((ROOT / "workflows/samples").glob("*-crm-*.json")):
        shutil.copy(path, folder)
    settings = Settings(
        hub_workflows=ROOT / "workflows",
        hub_secrets={"CRM_SIGNING_KEY": SecretStr(CRM_SIGNING_KEY)},
    )
    samples = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    wanted = {r["contactEmails"][0]["address"] for r in expected(samples)["plutio"]["people"]}
    assert wanted == {"ada@example.com", "charles@engines.example"}
    sandboxes = {"plutio": hub.sandbox_url}

    def emails(found: dict[str, dict[str, list[Any]]]) -> set[str]:
        return {e["address"] for p in found["plutio"]["people"] for e in p["contactEmails"]}

    assert wanted <= emails(send_samples(folder, hub.ingress_url, sandboxes, settings, tag="run1"))
    hub.kill("sandbox")  # a fresh sandbox, as `hub up` starts; Redis keeps its records
    hub.start_sandbox()
    assert wanted <= emails(send_samples(folder, hub.ingress_url, sandboxes, settings, tag="run2"))
