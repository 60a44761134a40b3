"""Failed authentication is cheap and bounded: per source and client address, a 429
before any HMAC once a client failed too often, and one summary log line per window."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.core.settings import Settings
from hub.ingress.auth_failures import AuthFailures
from hub.intake import signatures as sig
from hub.intake.resolve import build_sources
from hub.intake.sources import Source, load_sources

from .conftest import SECRET, write_source, write_workflow

CRM = 'auth: { scheme: standard-webhooks, secret: "{{ secrets.CRM_SIGNING_KEY }}" }\n'
SIGNER = sig.StandardWebhooks((sig.standard_webhooks_key(SECRET),))
ATTACKER, SENDER = "203.0.113.66", "198.51.100.7"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingVerifier:
    """A source's verifier that counts the signatures it checks."""

    def __init__(self, inner: sig.Verifier) -> None:
        self.inner = inner
        self.scheme = inner.scheme
        self.checked = 0

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
        *,
        method: str = "POST",
        url: str = "",
    ) -> None:
        self.checked += 1
        self.inner.verify(headers, body, now, method=method, url=url)

    def sign(
        self, body: bytes, event_id: str, now: float, *, method: str = "POST", url: str = ""
    ) -> dict[str, str]:
        return self.inner.sign(body, event_id, now, method=method, url=url)


class Peers:
    """The app, with each request's network peer taken from its ``x-test-peer`` header
    (one test client, one event loop, many client addresses)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", []):
            if name == b"x-test-peer":
                scope["client"] = (value.decode(), 40000)
        await self.app(scope, receive, send)


def _delivery(event_id: str, *, good: bool = True, peer: str = "") -> dict[str, Any]:
    raw = json.dumps({"type": "contact.created", "id": event_id}).encode()
    headers = {"Content-Type": "application/json", **SIGNER.sign(raw, event_id, time.time())}
    if peer:
        headers["x-test-peer"] = peer
    if not good:
        headers["webhook-signature"] = "v1,Zm9yZ2VkIHNpZ25hdHVyZSwgMzIgYnl0ZXMgbG9uZyEhIQ=="
    return {"content": raw, "headers": headers}


# --- the count on its own ------------------------------------------------------------------


def test_a_pair_is_limited_after_its_refusals_others_are_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    failures = AuthFailures(3, 10.0, clock=clock)
    for _ in range(3):
        assert failures.retry_after("crm", "a") is None
        failures.refused("crm", "a", "bad signature")
    clock.now += 2.5
    assert failures.retry_after("crm", "a") == 8  # seconds left in the window, rounded up
    assert failures.retry_after("crm", "b") is None
    assert failures.retry_after("shop", "a") is None
    caplog.set_level(logging.WARNING, logger="hub.ingress")
    clock.now += 8
    assert failures.retry_after("crm", "a") is None  # a new window
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("authentication failed 3 time(s) in 10 s, 1 more deliveries")
    assert "crm from a: 3, then 1 answered 429 (bad signature)" in line


def test_limit_zero_counts_but_never_limits() -> None:
    failures = AuthFailures(0, 10.0, clock=Clock())
    for _ in range(100):
        failures.refused("crm", "a")
    assert failures.retry_after("crm", "a") is None


def test_pairs_past_the_tracked_number_share_one_count_per_source() -> None:
    failures = AuthFailures(2, 10.0, clock=Clock(), max_tracked=2)
    failures.refused("crm", "a")
    failures.refused("crm", "b")
    for client in ("c", "d"):  # not tracked one by one: both count as "(other clients)"
        failures.refused("crm", client)
    assert failures.retry_after("crm", "(other clients)") == 10
    assert failures.retry_after("crm", "a") is None


# --- in the ingress ---------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_workflow(tmp_path, "contact-created", "crm", "contact.created")
    write_source(tmp_path, "crm", CRM)
    write_source(tmp_path, "shop", CRM)
    return tmp_path


def _counted_sources(folder: Path) -> tuple[dict[str, Source], CountingVerifier]:
    settings = Settings(hub_workflows=folder, hub_secrets={"CRM_SIGNING_KEY": SECRET})
    sources = build_sources(load_sources(folder / "sources"), settings, {"crm"}, local=False)
    counting = CountingVerifier(sources["crm"].verifier)
    sources["crm"] = dataclasses.replace(sources["crm"], verifier=counting)
    return sources, counting


def test_a_flood_of_bad_signatures_is_answered_429_unchecked_while_others_get_202(
    make_client: Callable[..., TestClient],
    folder: Path,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="hub.ingress")
    clock = Clock()
    sources, counting = _counted_sources(folder)
    failures = AuthFailures(5, 60.0, clock=clock)
    app = make_client(folder, app_options={"sources": sources, "failures": failures}).app
    with TestClient(Peers(app)) as client:
        _flood(client, counting, clock, caplog)


def _flood(
    client: TestClient, counting: CountingVerifier, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    answers = []
    for n in range(200):
        bad = _delivery(f"bad-{n}", good=False, peer=ATTACKER)
        answers.append(client.post("/hooks/crm", **bad))
        if n % 20 == 0:
            good = client.post("/hooks/crm", **_delivery(f"good-{n}", peer=SENDER))
            assert good.status_code == 202, good.text
    statuses = [a.status_code for a in answers]
    assert statuses == [401] * 5 + [429] * 195
    assert all(a.headers["Retry-After"] == "60" for a in answers[5:])
    assert "too many failed authentications" in answers[5].json()["error"]
    assert counting.checked == 5 + 10  # the flood's first five, then only the sender's
    # the limited client's good delivery waits too (nothing of it is read); other
    # sources and other clients are not limited
    assert client.post("/hooks/crm", **_delivery("fixed", peer=ATTACKER)).status_code == 429
    assert client.post("/hooks/shop", **_delivery("other", peer=ATTACKER)).status_code == 202
    # no line per refusal; one summary when the window is over
    assert not [r for r in caplog.records if "refused with 401" in r.getMessage()]
    clock.now += 60
    assert client.post("/hooks/crm", **_delivery("after", peer=ATTACKER)).status_code == 202
    summaries = [
        r.getMessage() for r in caplog.records if "authentication failed" in r.getMessage()
    ]
    assert len(summaries) == 1, summaries
    assert (
        "authentication failed 5 time(s) in 60 s, 196 more deliveries answered 429"
        in (summaries[0])
    )
    assert f"crm from {ATTACKER}: 5, then 196 answered 429" in summaries[0]
    assert "webhook-signature" in summaries[0]  # the reason, never a secret
    assert SECRET[6:] not in summaries[0]


def test_behind_a_trusted_proxy_each_client_has_its_own_count(
    make_client: Callable[..., TestClient], folder: Path, redis_client: redis.Redis
) -> None:
    proxy = make_client(
        folder,
        peer=("127.0.0.1", 50000),
        hub_trusted_proxies="127.0.0.1",
        hub_auth_failure_limit=2,
    )

    def post(client: str, event_id: str, good: bool) -> int:
        delivery = _delivery(event_id, good=good)
        delivery["headers"]["X-Forwarded-For"] = client
        return int(proxy.post("/hooks/crm", **delivery).status_code)

    assert [post("6.6.6.6", f"b{n}", False) for n in range(4)] == [401, 401, 429, 429]
    assert post("198.51.100.9", "g1", True) == 202  # another client through the same proxy
