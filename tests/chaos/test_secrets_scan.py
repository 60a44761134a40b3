"""Secrets stay secret, proven by a scan: the chaos suite's event mix (workers killed,
Redis restarted, upstream 500s and 429s, events designed to fail) runs with HUB_SECRETS,
connector credentials, the admin token and Flower's login set; then every log file,
Flower's task pages and API, ``hub runs --json``, ``hub dlq list/show --json``, the
ingress's views and every metrics output are searched for each secret value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.chaos import ChaosConfig, run_chaos
from tests.support.processes import ADMIN_TOKEN, ROOT, HubProcesses
from tests.support.signing import CRM_SIGNING_KEY, SAMPLE_SECRETS

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

FLOWER = ("ops", "flower-pw-3f9a1c7e")
PLUTIO_SECRET = "plutio-client-secret-8b2d4f6a"
#: setting -> value; each value must appear in nothing the hub shows or writes
SECRET_SETTINGS = {
    "HUB_SECRETS": json.dumps({**SAMPLE_SECRETS, "UNUSED_API_KEY": "unused-api-key-c41e9d07"}),
    "PLUTIO_CLIENT_SECRET": PLUTIO_SECRET,
    "PLUTIO_SANDBOX_CLIENT_SECRET": PLUTIO_SECRET,  # the sandbox accepts it
    "PLANE_API_KEY": "plane-api-key-2a7c5e19",
    "PLUTORA_CLIENT_SECRET": "plutora-client-secret-6d3b8f20",
    "PLUTORA_PASSWORD": "plutora-password-9e1f4a73",
    "ACCOUNTING_TOKEN": "accounting-token-5c8a2d61",
}


def _secret_values() -> dict[str, str]:
    values = {
        **SAMPLE_SECRETS,  # the sample sources' signing secrets
        "CRM_SIGNING_KEY (base64 part)": CRM_SIGNING_KEY.removeprefix("whsec_"),
        "UNUSED_API_KEY": "unused-api-key-c41e9d07",
        "HUB_INGRESS_ADMIN_TOKEN": ADMIN_TOKEN,
        "Flower password": FLOWER[1],
    }
    values.update({k: v for k, v in SECRET_SETTINGS.items() if k != "HUB_SECRETS"})
    return values


def _cli(procs: HubProcesses, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=ROOT,
        env={**os.environ, **procs.env()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (args, result.stderr[-2000:])
    return result.stdout + result.stderr


def _flower(procs: HubProcesses) -> dict[str, str]:
    pages: dict[str, str] = {}
    get = lambda path, **kw: httpx.get(f"{procs.flower_url}{path}", auth=FLOWER, timeout=30, **kw)  # noqa: E731
    tasks = get("/api/tasks").json()
    pages["flower /api/tasks"] = json.dumps(tasks)
    assert tasks, "Flower saw tasks"
    by_state: dict[str, list[str]] = {}
    for uuid, task in tasks.items():
        by_state.setdefault(task.get("state", "?"), []).append(uuid)
    for state, uuids in by_state.items():  # a few task pages of every state
        for uuid in uuids[:5]:
            pages[f"flower /task/{uuid} ({state})"] = get(f"/task/{uuid}").text
    table = {"draw": 1, "start": 0, "length": 1000, "order[0][column]": 0}
    table["columns[0][data]"] = "name"  # type: ignore[assignment]
    pages["flower /tasks/datatable"] = get("/tasks/datatable", params=table).text
    for path in ("/tasks", "/workers", "/metrics", "/api/workers"):
        pages[f"flower {path}"] = get(path).text
    return pages


def _hub_outputs(procs: HubProcesses) -> dict[str, str]:
    outputs = {
        "hub runs --json": _cli(procs, "runs", "--json", "--limit", "2000"),
        "hub dlq list --json": _cli(procs, "dlq", "list", "--json"),
        "hub metrics": _cli(procs, "metrics"),
    }
    letters = json.loads(outputs["hub dlq list --json"])
    assert letters, "the run made dead letters to show"
    for letter in letters[:20]:
        run_id = letter["run_id"]
        outputs[f"hub dlq show --json {run_id}"] = _cli(procs, "dlq", "show", run_id, "--json")
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for path in ("/metrics", "/events?limit=1000", "/sources", "/workflows"):
        outputs[f"ingress {path}"] = httpx.get(
            f"{procs.ingress_url}{path}", headers=admin, timeout=30
        ).text
    return outputs


def test_no_secret_appears_in_logs_flower_runs_dead_letters_or_metrics(tmp_path: Path) -> None:
    shown: dict[str, str] = {}
    token: list[str] = []

    def collect(procs: HubProcesses) -> None:
        shown.update(_flower(procs))
        shown.update(_hub_outputs(procs))
        cached = redis.Redis.from_url(procs.redis_url).get("hub:token:plutio:sandbox-client")
        if cached:  # the access token the workers share is a secret too
            token.append(json.loads(cached)["value"])

    config = ChaosConfig(
        events=200,
        replay=False,  # the dead letters stay, with their context, to be shown
        extra_env=SECRET_SETTINGS,
        flower_login=":".join(FLOWER),
        settle_seconds=180,
    )
    report = run_chaos(config, tmp_path, before_stop=collect)
    for line in report.lines():
        print(line)
    assert report.settled and report.accepted == config.events
    assert report.kills >= 1 and report.redis_restarts == 1 and report.dead_lettered > 0
    for log in sorted((tmp_path / "logs").glob("*.log")):
        shown[f"log {log.name}"] = log.read_text(errors="replace")
    secrets = _secret_values()
    if token:
        secrets["Plutio access token"] = token[0]
    # the scan reads what it should: the events, runs and dead letters are all there
    everything = "\n".join(shown.values())
    assert "chaos-1" in everything and "crm-contact-to-plutio-person" in everything
    assert any(name.startswith("log worker") for name in shown)
    found = [
        f"{what} in {where}"
        for what, value in secrets.items()
        for where, text in shown.items()
        if value in text
    ]
    print(
        f"scanned {len(shown)} outputs ({len(everything):,} characters) for {len(secrets)} secrets"
    )
    assert found == []
