from __future__ import annotations

import json
from collections.abc import Generator

import httpx
import pytest
import redis

from hub.core.errors import FatalError, LockBusy, QuotaWait, RetryableError
from hub.http.auth import CachedTokenAuth, RedisTokenCache, Token, parse_token_response


class Grant:
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


def test_401_uses_a_token_another_process_already_refreshed(redis_client: redis.Redis) -> None:
    """The run that sees the old token rejected takes the fresh one, fetching none."""
    valid = {"fresh"}
    transport, issued = _server(valid)
    cache = RedisTokenCache(redis_client, "hub:token:test")
    cache.put(Token("old", 10**10))
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") == "Bearer old":
            # meanwhile another worker was refused too and put a fresh token
            cache.put(Token("fresh", 10**10))
        return transport.handle_request(request)

    auth = CachedTokenAuth(cache, Grant(), service="Test")
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        assert client.get("https://api.example/people").json() == {"ok": "Bearer fresh"}
    assert issued == []
    assert sent == ["Bearer old", "Bearer fresh"]
    cached = cache.get()
    assert cached is not None and cached.value == "fresh"


class _CountingRedis:
    """A Redis client that counts the token reads it passes on."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self.gets = 0

    def get(self, key: str) -> bytes | str | None:
        self.gets += 1
        return self._client.get(key)

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)


def test_a_process_reads_the_token_from_redis_once_in_its_memo_time(
    redis_client: redis.Redis,
) -> None:
    clock = [1000.0]
    counting = _CountingRedis(redis_client)
    cache = RedisTokenCache(counting, "k", now=lambda: clock[0], memo_seconds=30)
    RedisTokenCache(redis_client, "k", now=lambda: clock[0]).put(Token("t1", 10**10))
    assert cache.get() == Token("t1", 10**10) and counting.gets == 1
    clock[0] += 29
    assert cache.get() == Token("t1", 10**10) and counting.gets == 1  # from memory
    # another process put a new token: this one reads it once its memo time is over
    RedisTokenCache(redis_client, "k", now=lambda: clock[0]).put(Token("t2", 10**10))
    clock[0] += 1
    assert cache.get() == Token("t2", 10**10) and counting.gets == 2


def test_the_memo_never_outlives_the_refresh_time_or_a_rejection(
    redis_client: redis.Redis,
) -> None:
    clock = [1000.0]
    cache = RedisTokenCache(
        redis_client, "k", now=lambda: clock[0], margin_seconds=300, memo_seconds=10_000
    )
    cache.put(Token("t1", 1000.0 + 3600))  # to be refreshed at 4300
    clock[0] = 4299.0
    assert cache.get() == Token("t1", 4600.0)
    clock[0] = 4300.0
    assert cache.get() is None
    cache.put(Token("t2", 10**10))
    cache.clear("t1")  # an older token's rejection leaves the memo alone
    assert cache.get() == Token("t2", 10**10)
    redis_client.delete("k")
    cache.clear("t2")  # its own token refused: the next read goes to Redis
    assert cache.get() is None


def test_clear_drops_only_the_named_token(redis_client: redis.Redis) -> None:
    cache = RedisTokenCache(redis_client, "k")
    cache.put(Token("new", 10**10))
    cache.clear("old")
    assert cache.get() == Token("new", 10**10)
    cache.clear("new")
    assert cache.get() is None


def test_refused_token_request_is_fatal_without_secret(redis_client: redis.Redis) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": "bad client"})

    auth = CachedTokenAuth(RedisTokenCache(redis_client, "k"), Grant(), service="Test")
    with (
        httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client,
        pytest.raises(FatalError, match=r"refused the token request.*bad client") as info,
    ):
        client.get("https://api.example/people")
    assert "check the client id and secret" in str(info.value)
    assert redis_client.get("k:refresh") is None  # the refresh lock was released


def test_token_request_429_is_retriable(redis_client: redis.Redis) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "7"}, json={"message": "slow down"})

    auth = CachedTokenAuth(RedisTokenCache(redis_client, "k"), Grant(), service="Test")
    with (
        httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client,
        pytest.raises(RetryableError) as info,
    ):
        client.get("https://api.example/people")
    assert info.value.retry_after == 7.0 and info.value.status == 429


def test_refresh_margin_and_short_lived_tokens(redis_client: redis.Redis) -> None:
    clock = [1000.0]
    cache = RedisTokenCache(redis_client, "k", now=lambda: clock[0], margin_seconds=300)
    cache.put(Token("long", 1000.0 + 3600))
    clock[0] = 1000.0 + 3299
    assert cache.get() == Token("long", 4600.0)
    clock[0] = 1000.0 + 3300  # inside the margin: refresh now
    assert cache.get() is None
    # a token shorter than twice the margin is refreshed half-way through its life
    clock[0] = 1000.0
    cache.put(Token("short", 1200.0))
    assert cache.get() == Token("short", 1200.0)
    clock[0] = 1100.0
    assert cache.get() is None
    assert json.loads(redis_client.get("k") or b"{}")["refresh_at"] == 1100.0


class _FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps = 0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.t += seconds


def _auth(cache: RedisTokenCache, clock: _FakeClock, **kw: float) -> CachedTokenAuth:
    return CachedTokenAuth(
        cache, Grant(), service="Test", sleep=clock.sleep, monotonic=clock.monotonic, **kw
    )


def test_waiter_takes_the_token_the_holder_puts(redis_client: redis.Redis) -> None:
    transport, issued = _server({"tok-from-holder"})
    cache = RedisTokenCache(redis_client, "k")
    holder = cache.lock()
    assert holder is not None and cache.lock() is None
    clock = _FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.sleeps == 3:  # the holder's token arrives while we poll
            cache.put(Token("tok-from-holder", 10**10))

    auth = CachedTokenAuth(cache, Grant(), service="Test", sleep=sleep, monotonic=clock.monotonic)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return transport.handle_request(request)

    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        assert client.get("https://api.example/people").status_code == 200
    assert seen == ["/people"]  # no token request of its own
    assert issued == [] and clock.sleeps == 3


def test_waiter_gives_up_with_lockbusy_and_no_request(redis_client: redis.Redis) -> None:
    cache = RedisTokenCache(redis_client, "k")
    assert cache.lock() is not None  # a holder that never answers
    clock = _FakeClock()
    sent: list[httpx.Request] = []
    auth = _auth(cache, clock, wait_seconds=5.0, poll_seconds=0.05)
    with (
        httpx.Client(transport=httpx.MockTransport(sent.append), auth=auth) as client,  # type: ignore[arg-type]
        pytest.raises(LockBusy) as info,
    ):
        client.get("https://api.example/people")
    assert sent == []
    assert 99 <= clock.sleeps <= 101  # polled for the whole bounded wait, then deferred
    assert info.value.wait > 0


def test_free_lock_after_failed_holder_is_taken_by_a_waiter(redis_client: redis.Redis) -> None:
    transport, issued = _server(set())
    cache = RedisTokenCache(redis_client, "k")
    holder = cache.lock()
    assert holder is not None
    clock = _FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        cache.unlock(holder)  # the holder failed and let go, without a token

    auth = CachedTokenAuth(cache, Grant(), service="Test", sleep=sleep, monotonic=clock.monotonic)
    with httpx.Client(transport=transport, auth=auth) as client:
        assert client.get("https://api.example/people").status_code == 200
    assert issued == ["tok1"]


def _flow_sends(auth: CachedTokenAuth) -> Generator[httpx.Request, httpx.Response, None]:
    return auth.auth_flow(httpx.Request("GET", "https://api.example/people"))


def test_lock_released_when_the_token_request_is_abandoned(redis_client: redis.Redis) -> None:
    """A quota wait raised while the token request is sent closes the flow: lock freed."""
    cache = RedisTokenCache(redis_client, "k")
    flow = _flow_sends(CachedTokenAuth(cache, Grant(), service="Test"))
    token_request = next(flow)
    assert token_request.url.path == "/oauth/token"
    assert redis_client.get("k:refresh") is not None
    flow.close()
    assert redis_client.get("k:refresh") is None


def test_lock_released_when_a_request_hook_refuses_the_token_request(
    redis_client: redis.Redis,
) -> None:
    """As the shared client's quota hook does when no slot is free (QuotaWait)."""

    def no_slot(request: httpx.Request) -> None:
        raise QuotaWait("test", 1.0)

    transport, issued = _server(set())
    auth = CachedTokenAuth(RedisTokenCache(redis_client, "k"), Grant(), service="Test")
    with (
        httpx.Client(transport=transport, auth=auth, event_hooks={"request": [no_slot]}) as client,
        pytest.raises(QuotaWait),
    ):
        client.get("https://api.example/people")
    assert issued == [] and redis_client.get("k:refresh") is None
