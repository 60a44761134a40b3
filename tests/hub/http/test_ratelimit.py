from __future__ import annotations

from hub.http.ratelimit import RETRY_AFTER_ONLY, X_RATELIMIT_HEADERS, Observation, RateLimitHeaders

#: ``X-RateLimit-Reset`` as a UTC epoch time in seconds
EPOCH_HEADERS = RateLimitHeaders(
    remaining="X-RateLimit-Remaining", reset="X-RateLimit-Reset", reset_format="epoch_seconds"
)


def test_remaining_and_reset_in_seconds() -> None:
    headers = {"X-RateLimit-Remaining": "45", "X-RateLimit-Reset": "12"}
    seen = X_RATELIMIT_HEADERS.observe(200, headers)
    assert seen == Observation(45, 12.0, None, succeeded=True)


def test_an_epoch_reset_is_read_as_seconds_from_now() -> None:
    headers = {"X-RateLimit-Remaining": "45", "X-RateLimit-Reset": "1700000030"}
    seen = EPOCH_HEADERS.observe(200, headers, now=lambda: 1700000000.0)
    assert seen == Observation(45, 30.0, None, succeeded=True)


def test_a_429_empties_the_budget_until_retry_after() -> None:
    seen = X_RATELIMIT_HEADERS.observe(429, {"Retry-After": "7"})
    assert seen == Observation(remaining=0, reset_seconds=7.0, pause_seconds=7.0)
    # without Retry-After the reset header says when
    headers = {"X-RateLimit-Reset": "4", "X-RateLimit-Remaining": "0"}
    seen = X_RATELIMIT_HEADERS.observe(429, headers)
    assert seen == Observation(remaining=0, reset_seconds=4.0, pause_seconds=4.0)


def test_a_bare_429_is_a_throttle_and_a_success_says_so() -> None:
    # a 429 that says nothing about when: the quota holds off on its own
    assert RETRY_AFTER_ONLY.observe(429, {}) == Observation(throttled=True)
    assert X_RATELIMIT_HEADERS.observe(429, {"X-RateLimit-Remaining": "0"}) == Observation(
        remaining=0, throttled=True
    )
    assert X_RATELIMIT_HEADERS.observe(200, {}) == Observation(succeeded=True)
    assert RETRY_AFTER_ONLY.observe(201, {"X-RateLimit-Remaining": "0"}) == Observation(
        succeeded=True
    )


def test_nothing_to_adopt() -> None:
    assert X_RATELIMIT_HEADERS.observe(500, {}) is None
    assert RETRY_AFTER_ONLY.observe(404, {"X-RateLimit-Remaining": "0"}) is None
    assert X_RATELIMIT_HEADERS.observe(503, {"X-RateLimit-Remaining": "soon"}) is None
