from __future__ import annotations

import httpx
import pytest

from hub.core.errors import FatalError, RetryableError
from hub.http.failures import (
    RetryPolicy,
    classify_response,
    classify_transport_error,
    parse_retry_after,
)


def _response(
    status: int, body: object = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    request = httpx.Request("GET", "https://api.example/people")
    return httpx.Response(
        status, json=body if body is not None else {}, headers=headers, request=request
    )


def test_full_jitter_stays_under_exponential_ceiling() -> None:
    policy = RetryPolicy(max_attempts=6, base_seconds=1.0, cap_seconds=10.0, rng=lambda: 1.0)
    assert [policy.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    zero = RetryPolicy(rng=lambda: 0.0)
    assert zero.delay(3) == 0.0


def test_retry_after_wins_over_backoff_but_is_capped() -> None:
    policy = RetryPolicy(cap_seconds=60.0, rng=lambda: 0.5)
    assert policy.delay(1, retry_after=7.0) == 7.0
    assert policy.delay(1, retry_after=600.0) == 60.0


def test_should_retry_counts_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.should_retry(n) for n in (1, 2, 3)] == [True, True, False]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retriable(status: int) -> None:
    error = classify_response(
        _response(status, {"message": "slow down"}, {"Retry-After": "3"}), service="Plutio"
    )
    assert isinstance(error, RetryableError)
    assert error.status == status
    assert error.retry_after == 3.0
    assert "slow down" in str(error)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405])
def test_client_errors_are_fatal_with_upstream_message(status: int) -> None:
    body = {"code": status, "message": "Business undefined is not enabled for this client."}
    error = classify_response(_response(status, body), service="Plutio")
    assert isinstance(error, FatalError)
    assert "Business undefined is not enabled" in str(error)
    assert "GET /people" in str(error)


def test_success_is_not_an_error() -> None:
    assert classify_response(_response(200, []), service="Plutio") is None


def test_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0
    assert parse_retry_after("nonsense") is None
    assert parse_retry_after(None) is None


def test_transport_errors_are_retriable() -> None:
    error = classify_transport_error(httpx.ConnectError("refused"), service="Plutio")
    assert isinstance(error, RetryableError)
    assert "ConnectError" in str(error)


def test_with_overrides_replaces_only_the_values_given() -> None:
    base = RetryPolicy(max_attempts=5, base_seconds=1.0, cap_seconds=300.0, rng=lambda: 1.0)
    assert base.with_overrides() == base
    step = base.with_overrides(max_attempts=2, cap_seconds=3.0)
    assert (step.max_attempts, step.base_seconds, step.cap_seconds) == (2, 1.0, 3.0)
    assert [step.delay(n) for n in (1, 2, 3)] == [1.0, 2.0, 3.0]
    assert [step.should_retry(n) for n in (1, 2)] == [True, False]
