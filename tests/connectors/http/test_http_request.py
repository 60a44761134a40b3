"""``http.request`` on the shared HTTP layer: what it sends, what it answers, its errors
(never showing the URL's path), its named quotas; and the webhook sandbox's answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from pydantic import ValidationError

from connectors.http import CONNECTOR, HttpRequestApi
from connectors.http.request import Request, send_request
from connectors.http.sandbox import create_app
from connectors.http.settings import HttpRequestSettings
from hub.core import ConfigError, FatalError, QuotaWait, RetryableError, Settings, isolated
from hub.sandbox import serve_in_thread

HOOK = "https://hooks.example.com/services/T0001/B0001/s3cr3tp4th"


@pytest.fixture(scope="module")
def sandbox_mode() -> str:
    return "lenient"  # one sandbox mode: the webhook sandbox has no strict rules


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with serve_in_thread(create_app()) as url:
        yield url


def _api(redis_client: redis.Redis, **values: Any) -> HttpRequestApi:
    settings = isolated(HttpRequestSettings, values)
    api: HttpRequestApi = CONNECTOR.build(settings, isolated(Settings, {}), redis_client)
    return api


def _call(api: HttpRequestApi, **arguments: Any) -> Any:
    return send_request(api, Request.model_validate(arguments))


def test_a_message_to_an_incoming_webhook(redis_client: redis.Redis, sandbox_url: str) -> None:
    api = _api(redis_client, HTTP_REQUEST_SEND_TO=sandbox_url)
    answer = _call(api, url=HOOK, json={"text": "3 runs of sync failed"})
    assert answer == {"status": 200, "body": "ok"}
    state = httpx.get(f"{sandbox_url}/_sandbox/state").json()
    (message,) = state["messages"]
    assert message["_path"] == "/services/T0001/B0001/s3cr3tp4th"
    assert message["text"] == "3 runs of sync failed"


def test_the_sandbox_refuses_as_an_incoming_webhook_does(
    redis_client: redis.Redis, sandbox_url: str
) -> None:
    api = _api(redis_client, HTTP_REQUEST_SEND_TO=sandbox_url)
    with pytest.raises(FatalError) as no_text:
        _call(api, url=HOOK, json={"username": "hub"})
    assert no_text.value.status == 400 and "no_text" in str(no_text.value)
    with pytest.raises(FatalError) as invalid:
        _call(api, url=HOOK, json=["not", "an", "object"])
    assert invalid.value.status == 400 and "invalid_payload" in str(invalid.value)
    revoked = "/services/T0001/B0001/revoked"
    httpx.post(
        f"{sandbox_url}/_sandbox/seed", json={"hooks": [{"path": revoked, "state": "revoked"}]}
    )
    with pytest.raises(FatalError) as gone:
        _call(api, url=f"https://hooks.example.com{revoked}", json={"text": "x"})
    assert gone.value.status == 404 and "no_service" in str(gone.value)
    assert "revoked" not in str(gone.value) and "T0001" not in str(gone.value)


def test_what_is_sent_headers_params_and_body(redis_client: redis.Redis) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": 7})

    settings = isolated(HttpRequestSettings, {})
    api = HttpRequestApi(settings, redis_client, transport=httpx.MockTransport(answer))
    out = _call(
        api,
        method="PUT",
        url="https://api.example.com/v1/alerts?team=ops",
        headers={"Authorization": "Bearer tok-123", "Idempotency-Key": "run-1"},
        params={"verbose": True, "n": 2},
        json={"summary": "down"},
    )
    assert out == {"status": 201, "body": {"id": 7}}
    (request,) = seen
    assert request.method == "PUT" and request.url.host == "api.example.com"
    assert request.url.path == "/v1/alerts"
    assert dict(request.url.params) == {"team": "ops", "verbose": "true", "n": "2"}
    assert request.headers["authorization"] == "Bearer tok-123"
    assert request.headers["idempotency-key"] == "run-1"
    assert json.loads(request.content) == {"summary": "down"}


def test_errors_are_typed_and_never_show_the_path(redis_client: redis.Redis) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("busy"):
            return httpx.Response(503, headers={"Retry-After": "4"}, text="try later")
        raise httpx.ConnectError("refused", request=request)

    api = HttpRequestApi(
        isolated(HttpRequestSettings, {}), redis_client, transport=httpx.MockTransport(answer)
    )
    with pytest.raises(RetryableError) as busy:
        _call(api, url="https://alerts.example.com/hook/SECRET-1/busy", json={"text": "x"})
    assert (busy.value.status, busy.value.retry_after) == (503, 4.0)
    assert "alerts.example.com" in str(busy.value) and "SECRET-1" not in str(busy.value)
    with pytest.raises(RetryableError) as down:
        _call(api, url="https://alerts.example.com/hook/SECRET-2", json={"text": "x"})
    assert "unreachable" in str(down.value) and "SECRET-2" not in str(down.value)
    assert busy.value.__suppress_context__ and down.value.__suppress_context__


def test_a_named_quota_is_shared_by_the_cluster(redis_client: redis.Redis) -> None:
    redis_client.flushdb()
    quotas = {"chat": {"limit": 1, "window_seconds": 60}}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="ok"))

    def worker() -> HttpRequestApi:
        settings = isolated(HttpRequestSettings, {"HTTP_REQUEST_QUOTAS": quotas})
        return HttpRequestApi(settings, redis_client, transport=transport)

    assert _call(worker(), url=HOOK, json={"text": "1"}, quota="chat")["status"] == 200
    with pytest.raises(QuotaWait):  # another worker: the one slot of the window is used
        _call(worker(), url=HOOK, json={"text": "2"}, quota="chat")
    assert _call(worker(), url=HOOK, json={"text": "3"})["status"] == 200  # no quota named
    with pytest.raises(ConfigError, match="no quota 'other' in HTTP_REQUEST_QUOTAS"):
        _call(worker(), url=HOOK, json={"text": "4"}, quota="other")


def test_a_url_that_is_not_absolute_is_refused_without_showing_it() -> None:
    with pytest.raises(ValidationError) as caught:
        Request.model_validate({"url": "hooks/s3cr3t", "json": {"text": "x"}})
    assert "absolute http:// or https:// URL" in str(caught.value)
    with pytest.raises(ValidationError):
        Request.model_validate({"url": HOOK, "method": "TRACE"})
