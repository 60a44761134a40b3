from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import cast

import httpx
import pytest
import redis

from hub.core import RedisBatch, trailing_writes
from hub.core.errors import FatalError, QuotaWait, RetryableError, Throttled
from hub.http.auth import CachedTokenAuth, RedisTokenCache, Token, parse_token_response
from hub.http.breaker import BreakerPolicy, RedisBreaker, breaker_status
from hub.http.client import ApiClient
from hub.http.keyauth import HeaderKeyAuth
from hub.http.pagination import PageNumber, SkipLimit
from hub.http.quota import Budget, Lease, RedisQuota, Unlimited
from hub.http.quota_claim import QuotaClaim, use_claim
from hub.http.ratelimit import X_RATELIMIT_HEADERS, Observation, RateLimitHeaders
from tests.support.round_trips import RoundTrips


class CountingQuota:
    """Grants ``allow`` slots and records what each settle was told."""

    def __init__(self, allow: int) -> None:
        self.allow = allow
        self.taken = 0
        self.settled: list[tuple[Lease | None, Observation | None]] = []
        self.given_back: list[Lease] = []

    def acquire(self, claim: QuotaClaim | None = None) -> Lease | None:
        if self.taken >= self.allow:
            raise QuotaWait("test", 1.5)
        self.taken += 1
        return Lease("test", str(self.taken))

    def settle(self, lease: Lease | None, observation: Observation | None = None) -> float | None:
        self.settled.append((lease, observation))
        return None

    def give_back(self, lease: Lease) -> None:
        self.given_back.append(lease)


def _client(handler: httpx.MockTransport, quota: object = None, **kw: object) -> ApiClient:
    return ApiClient(
        service="Test",
        base_url="https://api.example/v1",
        transport=handler,
        quota=quota,  # type: ignore[arg-type]
        headers={"Business": "acme"},
        **kw,  # type: ignore[arg-type]
    )


def test_every_request_takes_a_slot_before_it_is_sent() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=[{"_id": "1"}])

    quota = CountingQuota(allow=2)
    client = _client(httpx.MockTransport(handler), quota)
    assert client.request("GET", "people", params={"limit": 1}) == [{"_id": "1"}]
    client.request("GET", "/people")
    with pytest.raises(QuotaWait):
        client.request("GET", "people")
    assert len(sent) == 2
    assert str(sent[0].url) == "https://api.example/v1/people?limit=1"
    assert sent[0].headers["Business"] == "acme"
    # each call's slot was settled once its answer came back
    assert [lease.id for lease, _ in quota.settled if lease] == ["1", "2"]


def test_errors_are_typed() -> None:
    statuses = iter([503, 404])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(statuses), json={"message": "m"}, headers={"Retry-After": "2"})

    client = _client(httpx.MockTransport(handler))
    with pytest.raises(RetryableError) as retriable:
        client.request("GET", "people")
    assert retriable.value.retry_after == 2.0
    with pytest.raises(FatalError):
        client.request("GET", "people")


def test_transport_failure_is_retriable_and_settles_its_slot() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    quota = CountingQuota(allow=5)
    with pytest.raises(RetryableError, match="unreachable"):
        _client(httpx.MockTransport(handler), quota).request("GET", "people")
    assert quota.settled == [(Lease("test", "1"), None)]


def _redis_quota(client: redis.Redis, limit: int = 10) -> RedisQuota:
    return RedisQuota(client, Budget("test:client", limit, 60))


def test_the_upstream_remaining_count_is_adopted(redis_client: redis.Redis) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "30"}
        return httpx.Response(200, json={}, headers=headers)

    quota = _redis_quota(redis_client)
    client = _client(httpx.MockTransport(handler), quota, rate_limit_headers=X_RATELIMIT_HEADERS)
    client.request("GET", "people")
    assert quota.used() == 8  # our call, and seven the upstream counts that we did not make
    client.request("GET", "people")
    client.request("GET", "people")
    with pytest.raises(QuotaWait) as info:
        client.request("GET", "people")
    assert 29 < info.value.wait <= 30.1


def _books_client(
    redis_client: redis.Redis, statuses: list[int], headers: dict[str, str] | None = None
) -> tuple[ApiClient, RedisQuota, RoundTrips]:
    answers = iter(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), json={}, headers=headers or {})

    quota = _redis_quota(redis_client)
    breaker = RedisBreaker(redis_client, "test:client", BreakerPolicy(min_calls=5))
    books = RoundTrips(redis_client)
    client = _client(
        httpx.MockTransport(handler),
        quota,
        breaker=breaker,
        books=books,
        rate_limit_headers=X_RATELIMIT_HEADERS,
    )
    return client, quota, books


def test_an_answers_settle_and_breaker_verdict_go_in_one_round_trip(
    redis_client: redis.Redis,
) -> None:
    headers = {"X-RateLimit-Remaining": "5", "Retry-After": "20"}
    client, quota, books = _books_client(redis_client, [200, 429], headers)
    client.request("GET", "people")
    assert books.round_trips == [["EVAL", "EVAL"]]  # the settle, then the verdict
    assert quota.used() == 5  # the settle adopted the upstream's count
    [status] = breaker_status(redis_client, 60)
    assert status.calls == 1 and status.failures == 0
    with pytest.raises(Throttled):  # a 429: the settle pauses; no verdict on the upstream
        client.request("GET", "people")
    assert books.round_trips[1] == ["EVAL"]
    assert quota.raw_status().paused_ms > 19_000
    assert breaker_status(redis_client, 60)[0].calls == 1


def test_in_a_step_a_successful_answer_settles_with_the_next_round_trip(
    redis_client: redis.Redis,
) -> None:
    client, quota, books = _books_client(redis_client, [200, 201])
    with trailing_writes(books):
        client.request("GET", "people")
        client.request("POST", "people")
        assert books.round_trips == []  # nothing waits for the settles' answers
        assert quota.raw_status().in_flight == 2  # both slots still on their lease
        next_trip = RedisBatch(books)
        pong = next_trip.add("PING")
        next_trip.send()
        assert pong.value is True
    # the two settles and verdicts rode ahead of the step's own command
    assert books.round_trips == [["EVAL", "EVAL", "EVAL", "EVAL", "PING"]]
    assert quota.raw_status().in_flight == 0 and quota.used() == 2
    assert breaker_status(redis_client, 60)[0].calls == 2


def test_a_settle_sent_later_counts_its_slot_from_the_answer(redis_client: redis.Redis) -> None:
    def redis_ms() -> int:
        seconds, micros = redis_client.time()
        return int(seconds) * 1000 + int(micros) // 1000

    client, quota, books = _books_client(redis_client, [200])
    with trailing_writes(books):
        client.request("GET", "people")
        answered = redis_ms()
        time.sleep(0.3)  # the step's next round trip comes late
        sent = redis_ms()
    log = cast(
        list[tuple[bytes, float]], redis_client.zrange(quota._keys[0], 0, -1, withscores=True)
    )
    [(_, counts_from)] = log
    assert answered - 5 <= counts_from <= answered + 50 < sent  # not from when it was sent


def test_settles_left_at_a_steps_end_are_sent_even_when_it_failed(
    redis_client: redis.Redis,
) -> None:
    client, quota, books = _books_client(redis_client, [200])
    with pytest.raises(RuntimeError), trailing_writes(books):
        client.request("GET", "people")
        raise RuntimeError("the step failed after its call")
    assert books.round_trips == [["EVAL", "EVAL"]]
    assert quota.raw_status().in_flight == 0 and quota.used() == 1


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (500, {}),  # its breaker verdict may open the breaker: the caller raises that
        (429, {"Retry-After": "20"}),  # the pause is read from the settle's answer
        (200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"}),  # no call left
    ],
)
def test_an_answer_that_stops_calls_settles_at_once_in_a_step(
    redis_client: redis.Redis, status: int, headers: dict[str, str]
) -> None:
    client, quota, books = _books_client(redis_client, [status], headers)
    with trailing_writes(books):
        with contextlib.suppress(RetryableError, Throttled):
            client.request("GET", "people")
        assert len(books.round_trips) == 1  # settled before the answer was handed on
        assert quota.raw_status().in_flight == 0


def test_a_quota_set_after_the_client_was_built_is_the_one_settled(
    redis_client: redis.Redis,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={}, headers={"Retry-After": "20"})

    quota = _redis_quota(redis_client)
    breaker = RedisBreaker(redis_client, "test:client", BreakerPolicy(min_calls=5))
    client = _client(httpx.MockTransport(handler), quota, breaker=breaker, books=redis_client)
    counting = CountingQuota(allow=5)
    client.quota = counting  # as `hub test` leaves the hub's own quota out
    with pytest.raises(RetryableError):  # no budget paused: a plain retriable 429
        client.request("GET", "people")
    assert len(counting.settled) == 1 and quota.used() == 0


def test_epoch_resets_and_retry_after_dates_are_read_on_the_clients_clock() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/busy"):
            # an HTTP date 90 s after the client's clock (2024-01-01T00:00:00Z)
            return httpx.Response(503, headers={"Retry-After": "Mon, 01 Jan 2024 00:01:30 GMT"})
        headers = {"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "1704067260"}
        return httpx.Response(200, json={}, headers=headers)

    quota = CountingQuota(allow=2)
    client = _client(
        httpx.MockTransport(handler),
        quota,
        rate_limit_headers=RateLimitHeaders(
            remaining="X-RateLimit-Remaining",
            reset="X-RateLimit-Reset",
            reset_format="epoch_seconds",
        ),
        now=lambda: 1704067200.0,
    )
    client.request("GET", "people")
    assert quota.settled[0][1] == Observation(remaining=5, reset_seconds=60.0, succeeded=True)
    with pytest.raises(RetryableError) as info:
        client.request("GET", "busy")
    assert info.value.retry_after == 90.0


def test_headers_a_connector_does_not_declare_are_ignored(redis_client: redis.Redis) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={}, headers={"X-RateLimit-Remaining": "0"})

    quota = _redis_quota(redis_client)
    _client(httpx.MockTransport(handler), quota).request("GET", "people")
    assert quota.used() == 1


def test_a_429_with_retry_after_pauses_every_worker(redis_client: redis.Redis) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"message": "slow down"}, headers={"Retry-After": "3"})

    quota = _redis_quota(redis_client, limit=100)
    with pytest.raises(Throttled) as info:  # a wait, not an attempt
        _client(httpx.MockTransport(handler), quota).request("GET", "people")
    assert info.value.status == 429 and 2.5 < info.value.wait <= 3.0
    assert "Test answered 429 for GET /v1/people: slow down" in str(info.value)
    elsewhere = RedisQuota(redis_client, quota.budget)  # another process, same client
    with pytest.raises(QuotaWait) as wait:
        elsewhere.acquire()
    assert 2.5 < wait.value.wait <= 3.01


def test_a_429_without_a_budget_to_pause_is_retriable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"message": "slow down"})

    with pytest.raises(RetryableError) as info:  # `hub test` runs with no budget
        _client(httpx.MockTransport(handler), Unlimited()).request("GET", "people")
    assert info.value.status == 429 and info.value.retry_after is None


def test_token_requests_take_slots_too(redis_client: redis.Redis) -> None:
    class Grant:
        def build_request(self) -> httpx.Request:
            return httpx.Request("POST", "https://api.example/oauth/token", data={"g": "x"})

        def parse(self, response: httpx.Response) -> Token:
            return parse_token_response(response.json())

    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(200, json={"ok": True})

    quota = _redis_quota(redis_client, limit=2)
    auth = CachedTokenAuth(RedisTokenCache(redis_client, "hub:token:t"), Grant(), service="T")
    client = _client(httpx.MockTransport(handler), quota, auth=auth)
    client.request("GET", "people")
    assert paths == ["/oauth/token", "/v1/people"]
    assert quota.used() == 2
    with pytest.raises(QuotaWait):
        client.request("GET", "people")


def test_in_a_step_a_token_request_and_the_declared_calls_take_slots_together(
    redis_client: redis.Redis,
) -> None:
    class Grant:
        def build_request(self) -> httpx.Request:
            return httpx.Request("POST", "https://api.example/oauth/token", data={"g": "x"})

        def parse(self, response: httpx.Response) -> Token:
            return parse_token_response(response.json())

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(200, json={"ok": True})

    quota = _redis_quota(redis_client, limit=3)
    auth = CachedTokenAuth(RedisTokenCache(redis_client, "hub:token:t"), Grant(), service="T")
    client = _client(httpx.MockTransport(handler), quota, auth=auth)
    claim = QuotaClaim()
    with use_claim(claim):
        claim.expect(2)  # a find, then a create
        client.request("GET", "people")
        assert quota.used() == 3  # the token request's slot, and both declared calls'
        client.request("POST", "people")  # its slot was taken with the others
    assert quota.used() == 3
    assert quota.raw_status().repeated == 0


def test_per_request_headers_are_merged_over_the_clients(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, text="accepted")  # not JSON: send() does not read it

    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore"):  # another test may have quietened them
        caplog.set_level(logging.DEBUG, logger=name)
    client = _client(httpx.MockTransport(handler), auth=HeaderKeyAuth("X-Key", "k3y"))
    headers = {"Idempotency-Key": "idem-s3cret", "Business": "other", "X-Key": "forged"}
    answer = client.send("POST", "rows", json={"a": 1}, headers=headers)
    assert answer.status_code == 201 and answer.text == "accepted"
    first = sent[0].headers
    assert first["Idempotency-Key"] == "idem-s3cret" and first["Business"] == "other"
    assert first["X-Key"] == "k3y"  # the auth flow sets its own header last
    with pytest.raises(ValueError):  # request() decodes, and this answer is not JSON
        client.request("GET", "rows")
    assert "Idempotency-Key" not in sent[1].headers and sent[1].headers["Business"] == "acme"
    assert caplog.records, "expected httpx/httpcore debug logs to check"
    assert "idem-s3cret" not in caplog.text and "k3y" not in caplog.text


def test_per_request_headers_go_with_a_401_resend(redis_client: redis.Redis) -> None:
    class Grant:
        def build_request(self) -> httpx.Request:
            return httpx.Request("POST", "https://api.example/oauth/token")

        def parse(self, response: httpx.Response) -> Token:
            return parse_token_response(response.json())

    sent: list[tuple[str, str]] = []
    tokens = iter(["old", "new"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": next(tokens), "expires_in": 3600})
        sent.append((request.headers["Authorization"], request.headers["Idempotency-Key"]))
        if request.headers["Authorization"] == "Bearer old":
            return httpx.Response(401, json={"message": "expired"})
        return httpx.Response(200, json={"ok": True})

    auth = CachedTokenAuth(RedisTokenCache(redis_client, "hub:token:t"), Grant(), service="T")
    client = _client(httpx.MockTransport(handler), auth=auth)
    assert client.request("POST", "rows", json={}, headers={"Idempotency-Key": "k1"}) == {
        "ok": True
    }
    assert sent == [("Bearer old", "k1"), ("Bearer new", "k1")]


def test_iterate_pages_a_get_in_its_query_with_the_clients_paginator() -> None:
    asked: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        asked.append(params)
        skip, limit = int(params["skip"]), int(params["limit"])
        return httpx.Response(200, json=list(range(5))[skip : skip + limit])

    client = _client(httpx.MockTransport(handler), paginator=SkipLimit(2))
    assert list(client.iterate("GET", "things", params={"q": "x"})) == [0, 1, 2, 3, 4]
    assert asked == [
        {"q": "x", "skip": "0", "limit": "2"},
        {"q": "x", "skip": "2", "limit": "2"},
        {"q": "x", "skip": "4", "limit": "2"},
    ]
    assert list(client.iterate("GET", "things", max_items=3)) == [0, 1, 2]


def test_iterate_pages_other_methods_in_their_json_body() -> None:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        start = body["Page"] * body["PageSize"]
        return httpx.Response(200, json=list(range(3))[start : start + body["PageSize"]])

    pages = PageNumber(2, page_param="Page", size_param="PageSize", items_field=None)
    client = _client(httpx.MockTransport(handler))
    found = client.iterate("POST", "search", json={"Filter": "a"}, paginator=pages)
    assert list(found) == [0, 1, 2]
    assert bodies == [
        {"Filter": "a", "Page": 0, "PageSize": 2},
        {"Filter": "a", "Page": 1, "PageSize": 2},
    ]
    with pytest.raises(TypeError, match="no paginator"):
        list(client.iterate("GET", "things"))


def test_a_refusal_is_explained_by_the_connectors_explain() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        status = 400 if request.url.path.endswith("/bad") else 404
        return httpx.Response(status, json={"message": "nope"})

    def explain(error: FatalError) -> FatalError:
        if error.status != 400:
            return error
        return FatalError(f"{error} - fix the input", status=error.status)

    client = _client(httpx.MockTransport(handler), explain=explain)
    with pytest.raises(FatalError, match="nope - fix the input") as explained:
        client.request("GET", "bad")
    assert isinstance(explained.value.__cause__, FatalError)
    with pytest.raises(FatalError) as plain:
        client.request("GET", "missing")
    assert plain.value.status == 404 and "fix the input" not in str(plain.value)


def test_a_call_that_never_connected_gives_its_slot_back_at_once(
    redis_client: redis.Redis,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    quota = _redis_quota(redis_client, limit=1)
    client = _client(httpx.MockTransport(refuse), quota)
    with pytest.raises(RetryableError):
        client.request("GET", "people")
    assert quota.used() == 0  # the upstream never saw it: the next caller may have it


def test_a_call_that_timed_out_reading_keeps_its_slot(redis_client: redis.Redis) -> None:
    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    quota = _redis_quota(redis_client, limit=1)
    client = _client(httpx.MockTransport(stall), quota)
    with pytest.raises(RetryableError):
        client.request("GET", "people")
    assert quota.used() == 1  # the upstream may have counted it: it counts for a window
