"""The sandbox's rolling-window limiter."""

from __future__ import annotations

import pytest

from hub.sandbox.clock import FakeClock
from hub.sandbox.quota import RollingWindowLimiter, rate_limit_headers


def test_admits_up_to_the_limit_then_refuses_until_the_oldest_call_leaves() -> None:
    clock = FakeClock(start=0.0)
    limiter = RollingWindowLimiter(3, 10.0, clock)
    for t in (0.0, 1.0, 2.5):
        clock.advance(t - clock.monotonic())
        assert limiter.acquire("c").allowed
    clock.advance(4.0 - clock.monotonic())
    refused = limiter.acquire("c")
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.retry_after == pytest.approx(6.0)  # the call at 0.0 leaves at 10.0
    assert refused.retry_after_header == "6"
    clock.advance(6.0)  # t = 10.0: (0, 10] no longer holds the call at 0.0
    assert limiter.acquire("c").allowed
    assert not limiter.acquire("c").allowed


def test_keys_are_independent_and_reset_forgets() -> None:
    limiter = RollingWindowLimiter(1, 60.0, FakeClock())
    assert limiter.acquire("a").allowed
    assert limiter.acquire("b").allowed
    assert not limiter.acquire("a").allowed
    assert limiter.seen() == ["a", "b"]
    limiter.reset()
    assert limiter.acquire("a").allowed


def test_remaining_and_reset_seconds_track_the_window() -> None:
    clock = FakeClock(start=0.0)
    limiter = RollingWindowLimiter(5, 5.0, clock)
    first = limiter.acquire("c")
    assert (first.remaining, first.reset_seconds) == (4, 5.0)
    clock.advance(1.5)
    second = limiter.acquire("c")
    assert second.remaining == 3
    assert second.reset_seconds == pytest.approx(3.5)
    peek = limiter.peek("c")
    assert peek.remaining == 3  # peeking counts nothing
    assert rate_limit_headers(second) == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "3",
        "X-RateLimit-Reset": "4",
    }


def test_retry_after_rounds_up_and_is_at_least_one_second() -> None:
    clock = FakeClock(start=0.0)
    limiter = RollingWindowLimiter(1, 1.0, clock)
    limiter.acquire("c")
    clock.advance(0.999)
    refused = limiter.acquire("c")
    assert refused.retry_after == pytest.approx(0.001)
    assert refused.retry_after_header == "1"


def test_counting_refused_calls_keeps_a_hammering_client_out() -> None:
    clock = FakeClock(start=0.0)
    limiter = RollingWindowLimiter(2, 10.0, clock, count_refused=True)
    assert limiter.acquire("c").allowed
    clock.advance(1)
    assert limiter.acquire("c").allowed
    clock.advance(1)
    assert not limiter.acquire("c").allowed  # t=2, counted
    clock.advance(8.5)  # t=10.5: the call at 0 left, but 1 and 2 are still inside
    refused = limiter.acquire("c")
    assert not refused.allowed
    # the refused calls at 2 and 10.5 both count: room only once the one at 2 leaves
    assert refused.retry_after == pytest.approx(1.5)


def test_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError):
        RollingWindowLimiter(0, 1.0, FakeClock())
    with pytest.raises(ValueError):
        RollingWindowLimiter(1, 0.0, FakeClock())
