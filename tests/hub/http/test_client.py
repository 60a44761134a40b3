from __future__ import annotations

import httpx
import pytest

from hub.errors import FatalError, QuotaWait, RetryableError
from hub.http.client import ApiClient


class CountingQuota:
    def __init__(self, allow: int) -> None:
        self.allow = allow
        self.taken = 0

    def acquire(self, cost: int = 1) -> None:
        if self.taken + cost > self.allow:
            raise QuotaWait("test", 1.5)
        self.taken += cost


def _client(handler: httpx.MockTransport, quota: CountingQuota | None = None) -> ApiClient:
    return ApiClient(
        service="Test",
        base_url="https://api.example/v1",
        transport=handler,
        quota=quota,
        headers={"Business": "acme"},
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


def test_transport_failure_is_retriable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(RetryableError, match="unreachable"):
        _client(httpx.MockTransport(handler)).request("GET", "people")
