"""Circuit breakers on a real Redis: when they open, one probe at a time, backoff, and
what a client sends while one is open."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
import redis

from hub.core import BreakerChanged, BreakerOpen, ControlEvent, FatalError, RetryableError
from hub.http.breaker import Admission, BreakerPolicy, RedisBreaker, breaker_status
from hub.http.client import ApiClient
from hub.http.quota_claim import QuotaClaim, use_claim

POLICY = BreakerPolicy(
    min_calls=4, failure_rate=0.5, window_seconds=60, open_seconds=0.3, max_open_seconds=5
)


class Told:
    """Collects the control events a breaker tells."""

    def __init__(self) -> None:
        self.events: list[ControlEvent] = []

    def __call__(self, event: ControlEvent) -> None:
        self.events.append(event)

    def states(self) -> list[str]:
        return [e.state for e in self.events if isinstance(e, BreakerChanged)]


def _breaker(
    client: redis.Redis, told: Told | None = None, policy: BreakerPolicy = POLICY
) -> RedisBreaker:
    return RedisBreaker(client, "acme:test", policy, events=told)


def _until_admitted(breaker: RedisBreaker, limit: float = 10.0) -> Admission:
    """The first admission once the open breaker lets a call through (polls Redis)."""
    deadline = time.monotonic() + limit
    while True:
        try:
            return breaker.admit()
        except BreakerOpen:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _fail(breaker: RedisBreaker, times: int) -> None:
    for _ in range(times):
        breaker.record(breaker.admit(), failed=True)


def test_it_opens_only_after_min_calls_at_the_failure_rate(redis_client: redis.Redis) -> None:
    told = Told()
    breaker = _breaker(redis_client, told)
    _fail(breaker, 3)
    assert breaker.admit() == Admission()  # 3 failures, but fewer calls than min_calls
    breaker.record(Admission(), failed=True)
    assert told.states() == ["open"]
    opened = told.events[0]
    assert isinstance(opened, BreakerChanged)
    assert (opened.previous, opened.calls, opened.failures) == ("closed", 4, 4)
    with pytest.raises(BreakerOpen) as caught:
        breaker.admit()
    assert 0 < caught.value.wait <= POLICY.open_seconds
    assert caught.value.reason == "breaker"


def test_failures_under_the_rate_keep_it_closed(redis_client: redis.Redis) -> None:
    breaker = _breaker(redis_client)
    for number in range(20):
        breaker.record(breaker.admit(), failed=number % 5 >= 3)  # 40% fail, never 50% so far
    assert breaker.admit() == Admission()
    [status] = breaker_status(redis_client, POLICY.window_seconds)
    assert (status.state, status.calls, status.failures) == ("closed", 20, 8)


def test_half_open_lets_one_probe_through_and_its_success_closes(
    redis_client: redis.Redis,
) -> None:
    told = Told()
    breaker = _breaker(redis_client, told)
    other = _breaker(redis_client)  # another worker: the same breaker in Redis
    _fail(breaker, 4)
    probe = _until_admitted(breaker)
    assert probe.probe
    with pytest.raises(BreakerOpen):
        other.admit()  # one probe at a time
    breaker.record(probe, failed=False)
    assert other.admit() == Admission()
    assert told.states() == ["open", "half_open", "closed"]


def test_a_failed_probe_reopens_for_twice_as_long(redis_client: redis.Redis) -> None:
    told = Told()
    breaker = _breaker(redis_client, told)
    _fail(breaker, 4)
    breaker.record(_until_admitted(breaker), failed=True)
    with pytest.raises(BreakerOpen) as caught:
        breaker.admit()
    assert POLICY.open_seconds < caught.value.wait <= 2 * POLICY.open_seconds
    reopened = told.events[-1]
    assert isinstance(reopened, BreakerChanged)
    assert (reopened.previous, reopened.state, reopened.open_seconds) == ("half_open", "open", 0.6)
    breaker.record(_until_admitted(breaker), failed=False)
    assert told.states() == ["open", "half_open", "open", "half_open", "closed"]


def test_a_probe_that_never_answers_frees_its_place_after_its_lease(
    redis_client: redis.Redis,
) -> None:
    policy = BreakerPolicy(min_calls=2, failure_rate=1.0, open_seconds=0.1, probe_lease_seconds=0.3)
    breaker = _breaker(redis_client, policy=policy)
    _fail(breaker, 2)
    lost = _until_admitted(breaker)  # its worker dies: no outcome is ever recorded
    assert lost.probe
    with pytest.raises(BreakerOpen):
        breaker.admit()
    second = _until_admitted(breaker)
    assert second.probe and second.probe != lost.probe
    breaker.record(lost, failed=True)  # a late answer of a stale probe changes nothing
    breaker.record(second, failed=False)
    assert breaker.admit() == Admission()


def test_a_cancelled_probe_lets_the_next_call_probe(redis_client: redis.Redis) -> None:
    breaker = _breaker(redis_client)
    _fail(breaker, 4)
    probe = _until_admitted(breaker)
    breaker.cancel(probe)  # e.g. it found no quota slot and never went out
    assert breaker.admit().probe


def test_status_counts_the_steps_waiting_for_an_open_breaker(redis_client: redis.Redis) -> None:
    breaker = _breaker(redis_client)
    _fail(breaker, 4)
    for owner in ("task-1", "task-2", "task-1"):
        with use_claim(QuotaClaim(owner=owner)), pytest.raises(BreakerOpen):
            breaker.admit()
    [status] = breaker_status(redis_client, POLICY.window_seconds)
    assert (status.key, status.state, status.held_steps, status.opens) == (
        "acme:test",
        "open",
        2,
        1,
    )
    assert 0 < status.probe_in_seconds <= POLICY.open_seconds
    assert status.transitions == {"open": 1, "half_open": 0, "closed": 0}


@pytest.fixture(params=["own round trips", "in one batch"])
def books(request: pytest.FixtureRequest, redis_client: redis.Redis) -> redis.Redis | None:
    """Verdicts recorded each in its own round trip, or with the quota's settle in one."""
    return redis_client if request.param == "in one batch" else None


def _client(
    breaker: RedisBreaker,
    answer: Callable[[httpx.Request], httpx.Response],
    books: redis.Redis | None = None,
) -> ApiClient:
    return ApiClient(
        service="Acme",
        base_url="https://acme.test",
        transport=httpx.MockTransport(answer),
        breaker=breaker,
        books=books,
    )


def test_an_open_breaker_stops_a_clients_calls_before_they_go_out(
    redis_client: redis.Redis,
    books: redis.Redis | None,
) -> None:
    sent: list[str] = []

    def down(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(503, json={"message": "down"})

    client = _client(_breaker(redis_client), down, books)
    for _ in range(3):
        with pytest.raises(RetryableError):
            client.request("GET", "/things")
    # the failure that opens it is a wait too, not a failed attempt
    with pytest.raises(BreakerOpen) as opened:
        client.request("GET", "/things")
    assert isinstance(opened.value.__cause__, RetryableError)
    with pytest.raises(BreakerOpen):
        client.request("GET", "/things")
    assert len(sent) == 4


def test_a_failed_probe_is_a_wait_and_a_good_one_goes_on(
    redis_client: redis.Redis, books: redis.Redis | None
) -> None:
    up = {"now": False}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"ok": 1}) if up["now"] else httpx.Response(502)

    breaker = _breaker(redis_client)
    _fail(breaker, 4)
    client = _client(breaker, answer, books)
    deadline = time.monotonic() + 10
    cause: BaseException | None = None
    while cause is None:  # until the probe goes out and fails: a wait, not a failed attempt
        with pytest.raises(BreakerOpen) as waited:
            client.request("GET", "/x")
        cause = waited.value.__cause__
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert isinstance(cause, RetryableError)
    up["now"] = True
    while True:
        try:
            assert client.request("GET", "/x") == {"ok": 1}
            break
        except BreakerOpen:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert client.request("GET", "/x") == {"ok": 1}  # closed again


def test_transport_errors_count_and_4xx_and_429_do_not(
    redis_client: redis.Redis, books: redis.Redis | None
) -> None:
    answers = iter([404, 429, 400, 429])
    refused: list[int] = []

    def mixed(request: httpx.Request) -> httpx.Response:
        status = next(answers, None)
        if status is None:
            refused.append(1)
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(status, json={})

    client = _client(_breaker(redis_client), mixed, books)
    for _ in range(4):
        with pytest.raises((FatalError, RetryableError)):
            client.request("GET", "/x")
    [status] = breaker_status(redis_client, POLICY.window_seconds)
    assert (status.state, status.calls, status.failures) == ("closed", 2, 0)
    with pytest.raises(RetryableError):
        client.request("GET", "/x")
    with pytest.raises(BreakerOpen):  # 2 failures of 4 calls reach the rate (and min_calls)
        client.request("GET", "/x")
    with pytest.raises(BreakerOpen):
        client.request("GET", "/x")
    assert len(refused) == 2


def test_a_failure_that_finds_it_open_is_a_wait_and_a_success_changes_nothing(
    redis_client: redis.Redis,
) -> None:
    breaker = _breaker(redis_client)
    early, other = breaker.admit(), breaker.admit()  # sent before it opened
    for _ in range(3):
        assert breaker.record(breaker.admit(), failed=True) is None
    opened = breaker.record(breaker.admit(), failed=True)
    assert opened == POLICY.open_seconds
    waited = breaker.record(early, failed=True)
    assert waited is not None and 0 < waited <= POLICY.open_seconds
    assert breaker.record(other, failed=False) is None
    [status] = breaker_status(redis_client, POLICY.window_seconds)
    assert (status.state, status.transitions["open"]) == ("open", 1)


def test_a_process_that_saw_it_closed_trusts_that_for_a_quarter_second(
    redis_client: redis.Redis,
) -> None:
    now = [100.0]
    here = RedisBreaker(redis_client, "acme:test", POLICY, monotonic=lambda: now[0])
    elsewhere = _breaker(redis_client)
    here.record(here.admit(), failed=False)  # closed, and a success of its own
    _fail(elsewhere, 3)  # another process opens it
    with pytest.raises(BreakerOpen):
        elsewhere.admit()
    now[0] += 0.2
    assert here.admit() == Admission()  # no Redis round trip: still trusted
    now[0] += 0.05
    with pytest.raises(BreakerOpen):
        here.admit()


def test_a_failure_of_its_own_ends_the_trust_at_once(redis_client: redis.Redis) -> None:
    now = [100.0]
    here = RedisBreaker(redis_client, "acme:test", POLICY, monotonic=lambda: now[0])
    here.record(here.admit(), failed=False)
    here.record(here.admit(), failed=True)  # the upstream fails: ask Redis from now on
    _fail(_breaker(redis_client), 2)  # opened elsewhere
    with pytest.raises(BreakerOpen):
        here.admit()
