from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest
import redis

from hub.core.errors import FatalError, RetryableError
from hub.http.auth import CachedTokenAuth, RedisTokenCache
from hub.http.client import ApiClient
from hub.http.grants import (
    FormGrant,
    GuardedTokenAuth,
    RedisRefusalMemo,
    client_credentials_grant,
    password_grant,
)

TOKEN_URL = "https://auth.example/oauth/token"


def _grant(**options: object) -> FormGrant:
    return password_grant(
        TOKEN_URL, "cid", "csecret", "ada@example.com", "pw", service="Upstream", **options
    )


def test_password_grant_is_a_form_post_with_every_field() -> None:
    request = _grant().build_request()
    assert request.method == "POST" and str(request.url) == TOKEN_URL
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {
        "client_id": ["cid"],
        "client_secret": ["csecret"],
        "grant_type": ["password"],
        "username": ["ada@example.com"],
        "password": ["pw"],
    }
    assert "csecret" not in repr(_grant()) and "pw'" not in repr(_grant())


def test_client_credentials_grant_form() -> None:
    grant = client_credentials_grant(TOKEN_URL, "cid", "s", service="U")
    form = parse_qs(grant.build_request().content.decode())
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": ["cid"],
        "client_secret": ["s"],
    }


def test_parse_uses_expires_in_or_the_default_lifetime() -> None:
    grant = _grant(default_ttl_seconds=12000, now=lambda: 1000.0)
    given = grant.parse(httpx.Response(200, json={"access_token": "t", "expires_in": 60}))
    assert (given.value, given.expires_at) == ("t", 1060.0)
    silent = grant.parse(httpx.Response(200, json={"access_token": "t"}))
    assert silent.expires_at == 13000.0
    with pytest.raises(FatalError, match="not JSON"):
        grant.parse(httpx.Response(200, text="<html>"))


def _refusal(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("POST", TOKEN_URL)
    if isinstance(body, str):
        return httpx.Response(status, text=body, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


def test_explain_names_the_code_the_description_and_what_to_do() -> None:
    grant = _grant(hints={"validation_error": "check USER and PASSWORD"})
    error = grant.explain(
        _refusal(400, {"error": "validation_error", "error_description": "Login failed"})
    )
    assert isinstance(error, FatalError) and error.status == 400
    assert str(error) == (
        "Upstream refused the token request (400 validation_error: Login failed): "
        "check USER and PASSWORD"
    )
    standard = grant.explain(_refusal(401, {"error": "invalid_client"}))
    assert "invalid_client" in str(standard) and "check the client id and secret" in str(standard)
    text = grant.explain(_refusal(403, "Forbidden by proxy"))
    assert "Forbidden by proxy" in str(text)


def test_explain_keeps_throttling_and_server_errors_retriable() -> None:
    error = _grant().explain(_refusal(503, {"message": "down"}, {"Retry-After": "7"}))
    assert isinstance(error, RetryableError) and error.retry_after == 7.0


class Upstream:
    """A token endpoint and one API route; the token endpoint answers as told."""

    def __init__(self) -> None:
        self.token_answers: list[httpx.Response] = []
        self.token_calls = 0
        self.api_calls = 0
        self.revoked: set[str] = set()  # tokens it no longer takes

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            self.token_calls += 1
            if self.token_answers:
                return self.token_answers.pop(0)
            return httpx.Response(200, json={"access_token": f"tok{self.token_calls}"})
        self.api_calls += 1
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token.startswith("tok") and token not in self.revoked:
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(401, json={"message": "denied"})


def _client(
    redis_client: redis.Redis, upstream: Upstream, grant: FormGrant, hold: float = 60.0
) -> ApiClient:
    cache = RedisTokenCache(redis_client, "hub:token:test")
    memo = RedisRefusalMemo(redis_client, f"hub:grant-refused:{id(grant)}", hold)
    auth = GuardedTokenAuth(CachedTokenAuth(cache, grant, service="Upstream"), grant, refusals=memo)
    return ApiClient(
        service="Upstream",
        base_url="https://api.example",
        auth=auth,
        transport=httpx.MockTransport(upstream),
    )


def test_guarded_flow_fetches_once_then_uses_the_cached_token(redis_client: redis.Redis) -> None:
    upstream = Upstream()
    client = _client(redis_client, upstream, _grant())
    assert client.request("GET", "things") == {"ok": True}
    assert client.request("GET", "things") == {"ok": True}
    assert (upstream.token_calls, upstream.api_calls) == (1, 2)


def test_refused_credentials_are_not_sent_again(redis_client: redis.Redis) -> None:
    upstream = Upstream()
    refusal = {"error": "validation_error", "error_description": "Login failed, 5 attempts"}
    upstream.token_answers = [httpx.Response(400, json=refusal)]
    grant = _grant(hints={"validation_error": "check the password"})
    client = _client(redis_client, upstream, grant)
    with pytest.raises(FatalError, match=r"Login failed, 5 attempts.*check the password"):
        client.request("GET", "things")
    with pytest.raises(FatalError, match="not sent again") as again:
        client.request("GET", "things")
    assert "Login failed" in str(again.value)
    assert (upstream.token_calls, upstream.api_calls) == (1, 0)
    # other credentials (another memo key) are tried at once
    fixed = _client(redis_client, upstream, _grant())
    redis_client.delete("hub:token:test")
    assert fixed.request("GET", "things") == {"ok": True}
    assert upstream.token_calls == 2


def test_refusals_are_remembered_for_the_hold_only(redis_client: redis.Redis) -> None:
    memo = RedisRefusalMemo(redis_client, "hub:grant-refused:x", 30)
    memo.remember("no")
    assert memo.get() == "no" and 0 < redis_client.pttl("hub:grant-refused:x") <= 30_000
    memo.forget()
    assert memo.get() is None
    never = RedisRefusalMemo(redis_client, "hub:grant-refused:y", 0)
    never.remember("no")
    assert never.get() is None


def test_server_errors_on_the_token_request_stay_retriable(redis_client: redis.Redis) -> None:
    upstream = Upstream()
    upstream.token_answers = [httpx.Response(503, json={"message": "down"})]
    client = _client(redis_client, upstream, _grant())
    with pytest.raises(RetryableError):
        client.request("GET", "things")
    assert client.request("GET", "things") == {"ok": True}  # not held back
    assert upstream.token_calls == 2


def test_an_expired_token_is_refreshed_through_the_guard(redis_client: redis.Redis) -> None:
    upstream = Upstream()
    client = _client(redis_client, upstream, _grant())
    client.request("GET", "things")
    upstream.revoked.add("tok1")  # a token the upstream no longer takes
    assert client.request("GET", "things") == {"ok": True}
    assert upstream.token_calls == 2
