from __future__ import annotations

import httpx
import pytest
import redis

from hub.errors import FatalError
from hub.http.auth import CachedTokenAuth, RedisTokenCache, Token, parse_token_response


class Grant:
    def __init__(self) -> None:
        self.issued = 0

    def build_request(self) -> httpx.Request:
        return httpx.Request("POST", "https://api.example/oauth/token", data={"grant": "x"})

    def parse(self, response: httpx.Response) -> Token:
        return parse_token_response(response.json())


def test_parse_both_token_shapes() -> None:
    a = parse_token_response(
        {"accessToken": "t1", "accessTokenExpiresAt": "2030-01-01T00:00:00.000Z"}
    )
    assert a.value == "t1" and a.expires_at == 1893456000.0
    b = parse_token_response({"access_token": "t2", "expires_in": 60}, now=lambda: 100.0)
    assert b == Token("t2", 160.0)
    with pytest.raises(FatalError, match="no access token"):
        parse_token_response({"error": "nope"})


def test_token_repr_hides_value() -> None:
    assert "secret-token" not in repr(Token("secret-token", 1.0))


def _server(valid: set[str]) -> tuple[httpx.MockTransport, list[str]]:
    issued: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            token = f"tok{len(issued) + 1}"
            issued.append(token)
            valid.add(token)
            return httpx.Response(200, json={"access_token": token, "expires_in": 3600})
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in valid:
            return httpx.Response(401, json={"message": "invalid token"})
        return httpx.Response(200, json={"ok": auth})

    return httpx.MockTransport(handler), issued


def test_token_cached_in_redis_across_clients(redis_client: redis.Redis) -> None:
    transport, issued = _server(set())
    for _ in range(3):
        cache = RedisTokenCache(redis_client, "hub:token:test")
        auth = CachedTokenAuth(cache, Grant(), service="Test")
        with httpx.Client(transport=transport, auth=auth) as client:
            assert client.get("https://api.example/people").status_code == 200
    assert issued == ["tok1"]


def test_401_refreshes_once(redis_client: redis.Redis) -> None:
    valid: set[str] = set()
    transport, issued = _server(valid)
    cache = RedisTokenCache(redis_client, "hub:token:test")
    cache.put(Token("stale", 10**10))
    auth = CachedTokenAuth(cache, Grant(), service="Test")
    with httpx.Client(transport=transport, auth=auth) as client:
        response = client.get("https://api.example/people")
    assert response.status_code == 200
    assert response.json() == {"ok": "Bearer tok1"}
    assert issued == ["tok1"]
    cached = cache.get()
    assert cached is not None and cached.value == "tok1"


def test_refused_token_request_is_fatal_without_secret(redis_client: redis.Redis) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": "bad client"})

    auth = CachedTokenAuth(RedisTokenCache(redis_client, "k"), Grant(), service="Test")
    with (
        httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client,
        pytest.raises(FatalError, match="refused the token request"),
    ):
        client.get("https://api.example/people")


def test_expired_token_not_served(redis_client: redis.Redis) -> None:
    cache = RedisTokenCache(redis_client, "k", now=lambda: 1000.0)
    cache.put(Token("t", 1200.0))  # inside the refresh margin
    assert cache.get() is None
