"""`hub test` cases are isolated: nothing one case leaves behind reaches the next.

What a case could leave: cached tokens, a remembered refused login and quota or fault
state (Redis and the sandboxes), and cookies or connections (the connector clients).
Each test runs cases back to back in one run, the first leaving that state behind.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import httpx
import redis

from tests.hub.testing.cases import run_cases, run_folder

WORKFLOW = """\
name: who
trigger: { webhook: { source: app, event: ping } }
steps:
  - { id: people, uses: plutio.people.list }
  - { id: me, uses: plutora.me }
"""

# case 1 uses a token, leaves a refused login on hold, a fault rule that would hold for
# later calls and a 429 that made the step wait; cases 2 and 3 must see none of it
LEAKY_CASES = """\
cases:
  - name: leaves tokens, a refused login, faults and a wait behind
    given:
      plutio:
        people: [ { _id: p1, name: { first: Ada } } ]
        faults:
          scripts: [ { method: GET, path: /people, answers: [ { status: 429, retry_after: 7 } ] } ]
      plutora:
        faults:
          scripts:
            - method: POST
              path: /oauth/token
              repeat: true
              answers:
                - status: 400
                  body: { error: validation_error, error_description: Login failed }
    event: { body: {} }
    expect:
      status: failed
      delays: { people: [7] }
      error: { step: me, type: FatalError }
      calls: { plutio: { "GET /people": 2 }, plutora: { "POST /oauth/token": 1, "GET /me": 0 } }
  - name: the next case logs in afresh and sees only its own records
    event: { body: {} }
    expect: &fresh
      status: succeeded
      delays: { people: [] }
      steps: { people: [] }
      upstream: { plutio: { people: { count: 0 } } }
      calls:
        plutio: { "POST /oauth/token": 1, "GET /people": 1 }
        plutora: { "POST /oauth/token": 1, "GET /me": 1 }
  - name: and so does the one after it
    event: { body: {} }
    expect: *fresh
"""


def test_no_token_refused_login_fault_or_wait_carries_over_to_the_next_case(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    ok, lines = run_folder(
        tmp_path, redis_client, {"who.yaml": WORKFLOW, "who.test.yaml": LEAKY_CASES}
    )
    assert lines[-1] == "3 passed, 0 failed", "\n".join(lines)
    assert ok


class CookieProbe(httpx.BaseTransport):
    """Passes requests on to the sandbox, notes the cookie each carries, and answers
    every one with a cookie of its own (``session=<name>-<n>``), as an upstream with
    sessions would."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.inner = httpx.HTTPTransport()
        self.sent: list[str | None] = []
        self.closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.headers.get("cookie"))
        response = self.inner.handle_request(request)
        response.headers["set-cookie"] = f"session={self.name}-{len(self.sent)}; Path=/"
        return response

    def close(self) -> None:
        self.closed = True
        self.inner.close()


def test_cookies_and_connections_stay_with_their_case(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    workflow = tmp_path / "who.yaml"
    workflow.write_text(
        WORKFLOW.replace(
            "- { id: me, uses: plutora.me }", "- { id: again, uses: plutio.people.list }"
        )
    )
    spec = tmp_path / "who.test.yaml"
    spec.write_text(
        dedent(
            """\
            cases:
              - { name: first, event: { body: {} }, expect: { status: succeeded } }
              - { name: second, event: { body: {} }, expect: { status: succeeded } }
            """
        )
    )
    probes: list[CookieProbe] = []

    def transport() -> httpx.BaseTransport:
        probes.append(CookieProbe(f"t{len(probes) + 1}"))
        return probes[-1]

    results = run_cases(workflow, spec, redis_client, transport=transport)
    assert [r.failures for r in results] == [[], []]
    assert [probe.name for probe in probes] == ["t1", "t2"], "one transport a case"
    assert all(probe.closed for probe in probes), "a case's transports close with it"
    # each case: token, list (sets cookies), list (the same token, from the cache)
    for probe in probes:
        assert len(probe.sent) == 3
        assert probe.sent[0] is None, "a case starts with no cookie"
        assert probe.sent[2] == f"session={probe.name}-2", "a client keeps its cookies"
