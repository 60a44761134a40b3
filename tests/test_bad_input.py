"""Bad input, in one place: each case gets a clear error that says what is wrong and
where, and no event the ingress accepted is lost among them.

Here, on real processes: what a sender can get wrong at the ingress, Redis going away
under it, the hub started without Redis or settings, invalid workflow files and template
injection attempts. Covered in depth elsewhere:

- every kind of invalid workflow file, each with its ``file:line:column`` message:
  ``tests/hub/workflow/broken/`` (one file per problem, checked by
  ``tests/hub/workflow/test_loader.py``);
- template escapes refused at run time by the sandbox:
  ``tests/hub/workflow/test_templates.py::test_sandbox_refuses_escapes``;
- wrong, missing and replayed webhook signatures: the ingress's per-source
  authentication tests (``tests/hub/ingress/``);
- upstream refusals (400, 401, 403, 404) and what they tell the operator:
  ``tests/connectors/plutio/test_errors_and_tokens.py``;
- a step that fails on bad data ends as a dead letter with its reason:
  ``tests/hub/history/test_dead_letters.py``.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from hub.core.redis_server import RedisServer
from hub.core.settings import Settings
from tests.hub.worker.fakes import LocalHub
from tests.support.processes import ROOT, HubProcesses

WORKFLOW = """\
name: shop-order
trigger:
  webhook: { source: shop, event: "order.*" }
steps:
  - id: note
    uses: core.log
    with: { message: "order {{ event.id }}" }
"""
TEN_MB = b'{"type": "order.placed", "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'

# name, path, body, headers, statuses accepted, words the error must hold (any of them)
INGRESS_CASES = [
    ("broken JSON", "shop", b'{"type": "order.placed",', {}, {400}, ["not valid JSON"]),
    ("empty body", "shop", b"", {}, {400}, ["JSON", "empty"]),
    (
        "wrong content type",
        "shop",
        b"a=1&b=2",
        {"Content-Type": "application/x-www-form-urlencoded"},
        {400, 415},
        ["JSON"],
    ),
    ("10 MB body", "shop", TEN_MB, {}, {413}, ["bytes"]),
    ("no event type", "shop", b'{"data": {}}', {}, {400}, ["X-Event-Type"]),
    ("unknown source", "nope", b'{"type": "order.placed"}', {}, {404}, ["unknown source 'nope'"]),
]


@pytest.fixture
def ingress(tmp_path: Path) -> Iterator[tuple[HubProcesses, RedisServer]]:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "shop-order.yaml").write_text(WORKFLOW)
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    procs = HubProcesses(
        redis_url=server.url, log_dir=tmp_path, workflows=folder, open_sources=("shop",)
    )
    try:
        procs.start_ingress()
        yield procs, server
    finally:
        procs.stop()
        server.stop()


def _queued_event_ids(client: redis.Redis) -> list[str]:
    ids = []
    for raw in client.lrange("hub", 0, -1):
        _, kwargs, _ = json.loads(base64.b64decode(json.loads(raw)["body"]))
        ids.append(kwargs["event_id"])
    return sorted(ids)


def _good(procs: HubProcesses, event_id: str) -> httpx.Response:
    body = {"id": event_id, "type": "order.placed"}
    return httpx.post(f"{procs.ingress_url}/hooks/shop", json=body, timeout=10)


def test_the_ingress_refuses_bad_input_clearly_and_loses_no_accepted_event(
    ingress: tuple[HubProcesses, RedisServer],
) -> None:
    procs, server = ingress
    answers = []
    for n, (name, source, body, headers, statuses, words) in enumerate(INGRESS_CASES):
        answer = httpx.post(
            f"{procs.ingress_url}/hooks/{source}", content=body, headers=headers, timeout=30
        )
        answers.append(_good(procs, f"good-{n}").status_code)  # one good event between each
        assert answer.status_code in statuses, (name, answer.status_code, answer.text[:300])
        error = answer.json()["error"]
        assert any(word in error for word in words), (name, error)
        assert len(error) < 500, (name, "an error names the problem, it does not echo input")
    assert answers == [202] * len(INGRESS_CASES)

    # Redis gone: the ingress says so (503, retry later) and takes nothing it might lose
    server.stop()
    down = _good(procs, "during-outage")
    assert down.status_code == 503 and down.headers["Retry-After"]
    assert "retry later" in down.json()["error"]
    server.start()
    assert _good(procs, "during-outage").status_code == 202  # the sender's retry

    client = redis.Redis.from_url(server.url)
    expected = sorted([f"good-{n}" for n in range(len(INGRESS_CASES))] + ["during-outage"])
    assert _queued_event_ids(client) == expected  # every accepted event, each once


def _hub(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PLUTIO_"))}
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


BROKEN = ROOT / "tests" / "hub" / "workflow" / "broken"

# name, hub arguments, environment, exit code, what stderr must say
START_CASES = [
    (
        "worker, Redis unreachable",
        ["worker"],
        {"HUB_REDIS_URL": "redis://:pw-not-shown@127.0.0.1:9/0"},
        2,
        "error: cannot reach Redis at redis://127.0.0.1:9/0 (HUB_REDIS_URL)",
    ),
    (
        "ingress, Redis unreachable",
        ["serve"],
        {"HUB_REDIS_URL": "redis://127.0.0.1:9/0"},
        2,
        "cannot reach Redis",
    ),
    ("worker, no Redis set", ["worker"], {}, 2, "error: HUB_REDIS_URL is not set"),
    (
        "worker, no sentinel answers",
        ["worker"],
        {"HUB_REDIS_URL": "redis+sentinel://:pw-not-shown@127.0.0.1:9,127.0.0.1:11/main/0"},
        2,
        "error: no sentinel at redis+sentinel://127.0.0.1:9,127.0.0.1:11/main/0 (HUB_REDIS_URL)",
    ),
    (
        "ingress, a sentinel URL in kombu's form",
        ["serve"],
        {"HUB_REDIS_URL": "sentinel://:pw-not-shown@127.0.0.1:9"},
        2,
        "error: HUB_REDIS_URL is not a Redis URL (HUB_REDIS_URL: write a Sentinel deployment",
    ),
    (
        "invalid YAML",
        ["validate", str(BROKEN / "02-yaml-unclosed-quote.yaml")],
        {},
        1,
        f"{BROKEN / '02-yaml-unclosed-quote.yaml'}:",
    ),
    (
        "template injection",
        ["validate", str(BROKEN / "52-dunder-on-a-literal.yaml")],
        {},
        1,
        f"{BROKEN / '52-dunder-on-a-literal.yaml'}:9:11: access to '__class__' is not allowed",
    ),
    (
        "template include",
        ["validate", str(BROKEN / "42-include-tag.yaml")],
        {},
        1,
        "is not allowed in templates",
    ),
]


@pytest.mark.parametrize(
    ("args", "env", "code", "says"),
    [case[1:] for case in START_CASES],
    ids=[case[0] for case in START_CASES],
)
def test_starting_wrong_exits_with_a_located_message_not_a_traceback(
    args: list[str], env: dict[str, str], code: int, says: str
) -> None:
    result = _hub(*args, **env)
    assert result.returncode == code, result.stderr
    assert says in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert "pw-not-shown" not in result.stderr


def test_a_step_without_its_settings_fails_clearly_and_is_kept(redis_client: redis.Redis) -> None:
    hub = LocalHub(redis_client, settings=Settings())  # no PLUTIO_* credentials
    wf = hub.load(
        """
        name: needs-plutio
        trigger: { webhook: { source: crm } }
        steps:
          - id: person
            uses: plutio.people.find
            with: { query: { name.first: Ada } }
        """
    )
    run_id, record = hub.run(wf)
    assert record.status == "failed"
    letter = hub.flow.dead_letters.get(run_id)
    assert letter is not None and letter.step == "person"
    message = letter.error["message"]
    assert "Plutio is not configured: set PLUTIO_CLIENT_ID, PLUTIO_CLIENT_SECRET" in message
