"""HubSpot's two limits as two budgets: a call takes a slot from the burst and from the
day, and each adopts HubSpot's own ``X-HubSpot-RateLimit-*`` header for it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from pydantic import SecretStr

from connectors.hubspot import CONNECTOR
from connectors.hubspot.api import build_api
from connectors.hubspot.sandbox import HubSpotSandboxConfig, create_app
from connectors.hubspot.settings import HubSpotSettings
from hub.core.errors import QuotaWait
from hub.core.settings import Settings
from hub.http.budget_set import BudgetSet
from hub.http.quota import BUDGETS_KEY
from tests.support.sandboxes import Served, operate, serve

TOKEN = "pat-na1-budgets"
CONTACT = {"id": "1", "properties": {"email": "a@example.com"}}


@pytest.fixture(scope="module")
def tight_burst() -> Iterator[Served]:
    """A HubSpot whose own burst limit is 3 calls per 10 s."""
    with serve(create_app(HubSpotSandboxConfig(tokens=[TOKEN], quota_limit=3))) as served:
        yield served


@pytest.fixture(scope="module")
def tight_day() -> Iterator[Served]:
    """A HubSpot whose own daily limit is 5 calls (and its burst roomy)."""
    config = HubSpotSandboxConfig(tokens=[TOKEN], quota_limit=1000, daily_limit=5)
    with serve(create_app(config)) as served:
        yield served


def _fresh(served: Served) -> Served:
    served.control("POST", "reset")
    served.control("POST", "seed", {"contacts": [CONTACT]})
    return served


@pytest.fixture
def burst_limited(tight_burst: Served, redis_client: redis.Redis) -> Served:
    return _fresh(tight_burst)


@pytest.fixture
def hubspot(tight_day: Served, redis_client: redis.Redis) -> Served:
    return _fresh(tight_day)


def _settings(served: Served, daily_limit: int = 250_000) -> HubSpotSettings:
    return HubSpotSettings(
        base_url=served.url, access_token=SecretStr(TOKEN), daily_limit=daily_limit
    )


def test_both_limits_are_budgets_in_redis(hubspot: Served, redis_client: redis.Redis) -> None:
    api = build_api(_settings(hubspot), Settings(), redis_client)
    assert isinstance(api.client.quota, BudgetSet)
    burst, day = api.client.quota.quotas
    registered = {
        (k.decode() if isinstance(k, bytes) else k): json.loads(v)
        for k, v in redis_client.hgetall(BUDGETS_KEY).items()
    }
    assert registered[burst.budget.key]["limit"] == 100
    assert registered[burst.budget.key]["window_seconds"] == 10
    assert registered[day.budget.key] == {
        "limit": 250_000,
        "window_seconds": 86_400,
        "reserve_percent": 0.0,
        "effective_limit": 250_000,
    }
    operate(CONNECTOR, api, "contacts.get", id=1)
    # each budget adopts its own header: the day's 4 of 5 left, the burst's 999 of 1000
    assert (burst.used(), day.used()) == (1, 250_000 - 4)


def test_hubspots_burst_remaining_stops_calls_for_the_window(
    burst_limited: Served, redis_client: redis.Redis
) -> None:
    api = build_api(_settings(burst_limited), Settings(), redis_client)
    assert isinstance(api.client.quota, BudgetSet)
    burst = api.client.quota.quotas[0]
    for _ in range(3):  # the third answer says X-HubSpot-RateLimit-Remaining: 0
        operate(CONNECTOR, api, "contacts.get", id=1)
    other_worker = build_api(_settings(burst_limited), Settings(), redis_client)
    with pytest.raises(QuotaWait) as wait:
        operate(CONNECTOR, other_worker, "contacts.get", id=1)
    assert wait.value.key == burst.budget.key and 0 < wait.value.wait <= 11
    assert len(burst_limited.calls()) == 3


def test_hubspots_daily_remaining_stops_calls_for_the_day(
    hubspot: Served, redis_client: redis.Redis
) -> None:
    api = build_api(_settings(hubspot), Settings(), redis_client)
    assert isinstance(api.client.quota, BudgetSet)
    day = api.client.quota.quotas[1]
    for _ in range(3):
        operate(CONNECTOR, api, "contacts.get", id=1)
    # HubSpot says 2 of its 5 are left: the hub's own count (3 of 250,000) adopts that
    assert day.used() == 250_000 - 2
    operate(CONNECTOR, api, "contacts.get", id=1)
    operate(CONNECTOR, api, "contacts.get", id=1)
    with pytest.raises(QuotaWait) as wait:
        operate(CONNECTOR, api, "contacts.get", id=1)
    assert wait.value.key == day.budget.key and wait.value.wait > 3600
    assert len(hubspot.calls()) == 5


def test_a_call_the_day_refuses_gives_back_its_burst_slot(
    hubspot: Served, redis_client: redis.Redis
) -> None:
    api = build_api(_settings(hubspot, daily_limit=1), Settings(), redis_client)
    assert isinstance(api.client.quota, BudgetSet)
    burst, day = api.client.quota.quotas
    operate(CONNECTOR, api, "contacts.get", id=1)
    with pytest.raises(QuotaWait) as wait:
        operate(CONNECTOR, api, "contacts.get", id=1)
    assert wait.value.key == day.budget.key
    assert burst.used() == 1  # the refused call's burst slot was given back
    assert len(hubspot.calls()) == 1
