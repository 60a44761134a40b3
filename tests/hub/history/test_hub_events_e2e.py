"""Alerts as workflows on real parts: Redis, the ingress, a worker process and the webhook
sandbox (`hub sandbox http`) standing in for a Slack incoming webhook.

Failing runs of `sync` emit `run.failed`; the sample `alert-failed-runs-to-slack` posts
one message per workflow and error class per window, the next one carrying the count
held back; nobody outside can post to `/hooks/hub`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from hub.core.redis_server import RedisServer, free_port
from tests.support.processes import HubProcesses, wait_for
from tests.support.signing import SAMPLE_SECRETS

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
HOOK_PATH = "/services/T0E2E/B0E2E/e2e-hook-secret"
WINDOW_SECONDS = 15

SYNC = """
name: sync
trigger: { webhook: { source: shop } }
steps:
  - id: push
    uses: core.fail
    with: { message: "refused: order {{ event.order }} is not valid" }
"""


@pytest.fixture
def hub(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[HubProcesses, str]]:
    redis.Redis.from_url(redis_server.url).flushdb()
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "sync.yaml").write_text(SYNC)
    sample = "alert-failed-runs-to-slack.yaml"
    shutil.copy(ROOT / "workflows" / sample, folder / sample)
    port = free_port()
    secrets = {**SAMPLE_SECRETS, "SLACK_ALERT_WEBHOOK_URL": f"https://hooks.slack.com{HOOK_PATH}"}
    procs = HubProcesses(
        redis_url=redis_server.url,
        log_dir=tmp_path,
        workflows=folder,
        open_sources=("shop",),
        extra_env={
            "HUB_SECRETS": json.dumps(secrets),
            "HTTP_REQUEST_SEND_TO": f"http://127.0.0.1:{port}",
            "HUB_ALERT_WINDOW_SECONDS": str(WINDOW_SECONDS),
        },
    )
    try:
        url = procs.start_named_sandbox("http", port)
        procs.start_ingress()
        procs.start_worker(concurrency=2)
        yield procs, url
    finally:
        procs.stop()


def _messages(sandbox: str) -> list[dict[str, Any]]:
    state = httpx.get(f"{sandbox}/_sandbox/state/messages", timeout=10).json()
    return list(state)


def _order(procs: HubProcesses, n: int) -> None:
    answer = httpx.post(
        f"{procs.ingress_url}/hooks/shop",
        json={"order": n},
        headers={"X-Event-Type": "order.created", "X-Event-Id": f"order-{n}"},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text


def test_failed_runs_alert_once_per_window_with_the_count(
    hub: tuple[HubProcesses, str], redis_server: RedisServer
) -> None:
    procs, sandbox = hub
    client = redis.Redis.from_url(redis_server.url)
    forged = httpx.post(
        f"{procs.ingress_url}/hooks/hub",
        json={"type": "run.failed", "workflow": "payroll", "count": 99},
        headers={"X-Event-Type": "run.failed"},
        timeout=30,
    )
    assert forged.status_code == 403, forged.text
    for n in range(5):
        _order(procs, n)
    group = "hub:events:group:run.failed:sync:FatalError"
    held = "hub:events:held:run.failed:sync:FatalError"

    def all_failed() -> bool:
        return int(client.get(held) or 0) == 4

    wait_for(all_failed, 120, "five failed runs, four held back", interval=0.2)
    wait_for(lambda: len(_messages(sandbox)) == 1, 120, "the first alert", interval=0.2)
    (first,) = _messages(sandbox)
    assert first["_path"] == HOOK_PATH
    assert first["text"].startswith(":rotating_light: 1 failed run(s) of *sync* at step `push`")
    assert "FatalError." in first["text"]
    assert "is not valid" not in first["text"]  # the message stays in `hub runs show`
    wait_for(lambda: not client.exists(group), WINDOW_SECONDS + 30, "the window to end")
    _order(procs, 99)
    wait_for(lambda: len(_messages(sandbox)) == 2, 120, "the next alert", interval=0.2)
    second = _messages(sandbox)[1]
    assert second["text"].startswith(":rotating_light: 5 failed run(s) of *sync*")
    logs = procs.logs()
    assert HOOK_PATH not in logs and "e2e-hook-secret" not in logs
    print(f"failed runs: 6; alert messages posted: {len(_messages(sandbox))} (counts 1 and 5)")
