"""Refusals, retriable failures and token handling, against the sandbox."""

from __future__ import annotations

import json
import logging
import time

import pytest
import redis

from connectors.plutio.api import PlutioApi, build_api
from connectors.plutio.sandbox import PlutioSandboxConfig, create_app
from hub.core.errors import FatalError, QuotaWait, RetryableError, Throttled
from hub.core.settings import Settings
from hub.sandbox.serve import serve_in_thread
from tests.connectors.plutio.conftest import Sandbox, plutio_settings

#: the hub settings the connector is built with
HUB = Settings()


def _tokens(sandbox: Sandbox) -> list[int | None]:
    return [c["status"] for c in sandbox.calls() if c["path"] == "/oauth/token"]


def test_business_not_enabled_is_explained(sandbox: Sandbox, redis_client: redis.Redis) -> None:
    api = build_api(plutio_settings(sandbox.url, business="other"), HUB, redis_client)
    with pytest.raises(FatalError) as info:
        api.find("people")
    message = str(info.value)
    assert info.value.status == 400
    assert "Business other is not enabled for this client." in message
    assert "set PLUTIO_BUSINESS" in message and "enable the workspace on the API client" in message
    assert [c["status"] for c in sandbox.calls() if c["path"] == "/people"] == [400]


@pytest.mark.parametrize(
    ("method", "path", "status", "upstream"),
    [
        ("GET", "nope", 404, "Not found"),
        ("GET", "roles", 405, "Method GET is not allowed here."),
        ("PUT", "people", 405, "Update with PUT /people/bulk and _ids."),
        ("DELETE", "people/p1", 405, "Method DELETE is not allowed here."),
    ],
)
def test_refusals_fail_at_once_with_the_upstream_message(
    sandbox: Sandbox, api: PlutioApi, method: str, path: str, status: int, upstream: str
) -> None:
    with pytest.raises(FatalError) as info:
        api.client.request(method, path)
    assert info.value.status == status and upstream in str(info.value)
    assert f"Plutio answered {status} for {method} /{path}" in str(info.value)
    assert len([c for c in sandbox.calls() if c["path"] == f"/{path}"]) == 1


def test_forbidden_is_explained(sandbox: Sandbox, api: PlutioApi) -> None:
    body = {"code": 403, "message": "Forbidden: not allowed for this role"}
    sandbox.faults(scripts=[{"path": "/people", "answers": [{"status": 403, "body": body}]}])
    with pytest.raises(FatalError, match="not allowed for this role - check the role") as info:
        api.find("people")
    assert info.value.status == 403


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retriable_with_retry_after(
    sandbox: Sandbox, api: PlutioApi, status: int
) -> None:
    api.find("people")  # token first, so the script hits the resource call
    sandbox.faults(scripts=[{"path": "/people", "answers": [{"status": status, "retry_after": 3}]}])
    with pytest.raises(RetryableError) as info:
        api.find("people")
    assert info.value.status == status and info.value.retry_after == 3.0
    assert api.find("people") == []  # the script is spent: the next attempt goes through


def test_a_429_is_a_quota_wait_for_every_worker(sandbox: Sandbox, api: PlutioApi) -> None:
    api.find("people")
    sandbox.faults(scripts=[{"path": "/people", "answers": [{"status": 429, "retry_after": 3}]}])
    with pytest.raises(Throttled) as info:  # no attempt spent
        api.find("people")
    assert info.value.status == 429 and 2.0 < info.value.wait <= 3.0
    # the client's budget is paused for every worker until its Retry-After
    with pytest.raises(QuotaWait) as paused:
        api.find("people")
    assert 2.0 < paused.value.wait <= 3.1


def test_dropped_connection_is_retriable(sandbox: Sandbox, api: PlutioApi) -> None:
    sandbox.faults(scripts=[{"path": "/people", "answers": [{"drop": True}]}])
    with pytest.raises(RetryableError, match="Plutio unreachable"):
        api.find("people")


def test_expired_tokens_refresh_exactly_once(sandbox: Sandbox, redis_client: redis.Redis) -> None:
    settings = plutio_settings(sandbox.url)
    first, second = (
        build_api(settings, HUB, redis_client),
        build_api(settings, HUB, redis_client),
    )
    first.find("people")
    second.find("people")
    assert _tokens(sandbox) == [200]
    assert sandbox.expire_tokens() == 1
    first.find("people")  # 401, one refresh, resent
    # the other process still holds the old token in memory: refused once, it takes the
    # fresh one from the shared cache and fetches none
    second.find("people")
    assert _tokens(sandbox) == [200, 200]
    statuses = [c["status"] for c in sandbox.calls() if c["path"] == "/people"]
    assert statuses == [200, 200, 401, 200, 401, 200]
    second.find("people")  # from then on, the fresh token at once
    statuses = [c["status"] for c in sandbox.calls() if c["path"] == "/people"]
    assert statuses[-1] == 200 and len(statuses) == 7


def test_token_refreshed_before_expiry_without_a_401(
    sandbox: Sandbox, redis_client: redis.Redis
) -> None:
    clock = [time.time()]
    api = build_api(plutio_settings(sandbox.url), HUB, redis_client, now=lambda: clock[0])
    api.find("people")
    clock[0] += 72 * 3600 - 299  # the sandbox's 72-hour token is inside the 5-minute margin
    api.find("people")
    clock[0] += 60
    api.find("people")
    assert _tokens(sandbox) == [200, 200]
    assert [c["status"] for c in sandbox.calls() if c["path"] == "/people"] == [200, 200, 200]


def test_oauth2_token_shape_accepted(redis_client: redis.Redis) -> None:
    with serve_in_thread(create_app(PlutioSandboxConfig(token_shape="oauth2"))) as url:
        api = build_api(plutio_settings(url), HUB, redis_client)
        assert api.create("people", {"name": {"first": "Ada"}})["name"] == {"first": "Ada"}
        assert len(api.find("people")) == 1


def test_token_and_secret_never_logged(
    sandbox: Sandbox, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore"):  # hub processes keep these at WARNING
        caplog.set_level(logging.DEBUG, logger=name)
    api = build_api(plutio_settings(sandbox.url), HUB, redis_client)
    api.find("people")
    sandbox.expire_tokens()
    api.find("people")
    token = redis_client.get("hub:token:plutio:sandbox-client")
    assert token is not None
    value = json.loads(token)["value"]
    assert len(value) >= 32
    assert caplog.records, "expected httpx/httpcore debug logs to check"
    assert value not in caplog.text and "sandbox-secret" not in caplog.text
    bad = build_api(
        plutio_settings(sandbox.url, client_id="other", client_secret="s3cr3t!"),
        Settings(),
        redis_client,
    )
    with pytest.raises(FatalError, match="refused the token request") as info:
        bad.find("people")
    assert "s3cr3t!" not in str(info.value) and "s3cr3t!" not in caplog.text
