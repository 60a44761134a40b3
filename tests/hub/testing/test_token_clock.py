"""`hub test`: connectors read token expiry on the runner's fake clock, so a token is
fetched once and reused until it expires there."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import redis
import yaml

from hub.connector.registry import sandboxes
from tests.hub.testing.cases import run_cases, run_folder

WORKFLOW = """\
name: tokens
trigger: { webhook: { source: app, event: go } }
steps:
  - { id: first, uses: plutio.people.list }
  - { id: second, uses: plutio.people.list }
  - { id: third, uses: plutio.people.create, with: { name: { first: Ada } } }
"""

ONE_TOKEN = """\
cases:
  - name: several calls share one token
    event: { body: {} }
    expect:
      status: succeeded
      calls: { plutio: { "POST /oauth/token": 1, "GET /people": 2, "POST /people": 1 } }
"""


def _waiting(name: str, wait: int, tokens: int) -> dict[str, Any]:
    """A case whose second step's first call answers 503 with ``Retry-After: wait``: the
    retry waits ``wait`` seconds on the fake clock."""
    script = {
        "method": "GET",
        "path": "/people",
        "answers": [None, {"status": 503, "retry_after": wait}],
    }
    calls = {"POST /oauth/token": tokens, "GET /people": 3, "POST /people": 1}
    return {
        "name": name,
        "given": {"plutio": {"faults": {"scripts": [script]}}},
        "event": {"body": {}},
        "expect": {"status": "succeeded", "delays": {"second": [wait]}, "calls": {"plutio": calls}},
    }


#: with the sandbox's tokens living 250 s (refreshed half-way, at 125 s), a 60 s wait
#: keeps the token and a 300 s one outlives it: a new token, asked for before the call
#: (not after a 401, which would make a fourth ``GET /people``)
EXPIRY = {
    "cases": [
        _waiting("a wait shorter than the token's life keeps the token", 60, 1),
        _waiting("a wait past the token's expiry fetches a second token", 300, 2),
    ]
}


def test_hub_test_fetches_one_token_for_several_calls(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    ok, lines = run_folder(
        tmp_path, redis_client, {"tokens.yaml": WORKFLOW, "tokens.test.yaml": ONE_TOKEN}
    )
    assert lines == [
        f"PASS  {tmp_path / 'tokens.test.yaml'}:2  several calls share one token",
        "1 passed, 0 failed",
    ]
    assert ok


def test_a_token_expired_on_the_fake_clock_is_fetched_again(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    workflow, spec = tmp_path / "tokens.yaml", tmp_path / "tokens.test.yaml"
    workflow.write_text(WORKFLOW)
    spec.write_text(yaml.safe_dump(EXPIRY))
    kinds = sandboxes()
    kinds["plutio"] = dataclasses.replace(
        kinds["plutio"], test_config=lambda: {"token_ttl_seconds": 250}
    )
    results = run_cases(workflow, spec, redis_client, sandboxes=kinds)
    assert [(r.name, r.failures) for r in results] == [
        ("a wait shorter than the token's life keeps the token", []),
        ("a wait past the token's expiry fetches a second token", []),
    ]
