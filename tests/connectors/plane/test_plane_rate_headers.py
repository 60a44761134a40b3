"""Plane's own rate-limit signals, as the shared layer should adopt them.

Plane answers every admitted call with ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``
(UTC epoch seconds) and throttles with 429 + ``Retry-After``. When Plane's count is lower
than the hub's (the key is shared with another tool, or the instance is configured
tighter), the hub should stop calling until the reset instead of collecting 429s.

That adoption is generic (hub/http/quota.py and client.py): the Plane connector only
declares which headers Plane sends (``connectors.plane.api.RATE_LIMIT_HEADERS``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from pydantic import SecretStr

from connectors.plane import CONNECTOR
from connectors.plane.api import build_api
from connectors.plane.sandbox import PlaneSandboxConfig, create_app
from connectors.plane.settings import PlaneSettings
from hub.core.errors import QuotaWait, Throttled
from hub.core.settings import Settings
from tests.support.sandboxes import Served, operate, serve

#: the hub settings the connector is built with
HUB = Settings()


@pytest.fixture(scope="module")
def tight(sandbox_mode: str) -> Iterator[Served]:
    """A Plane that allows 3 calls a minute on the real clock (its Reset is real time)."""
    with serve(create_app(PlaneSandboxConfig(quota_limit=3, quota_window_seconds=60))) as s:
        yield s


@pytest.fixture
def plane(tight: Served, redis_client: redis.Redis) -> Served:
    tight.control("POST", "reset")
    return tight


def _settings(served: Served) -> PlaneSettings:
    return PlaneSettings(
        base_url=served.url,
        api_key=SecretStr("plane_api_sandbox"),
        workspace_slug="sandbox",
        quota_limit=60,
    )


def test_remaining_zero_stops_calls_until_the_reset(
    plane: Served, redis_client: redis.Redis
) -> None:
    api = build_api(_settings(plane), HUB, redis_client)
    for _ in range(3):
        operate(CONNECTOR, api, "projects.list")  # the third answer says Remaining: 0
    other_worker = build_api(_settings(plane), HUB, redis_client)
    with pytest.raises(QuotaWait) as wait:
        operate(CONNECTOR, other_worker, "projects.list")
    assert 0 < wait.value.wait <= 61
    assert len(plane.calls()) == 3  # the fourth call never reached Plane


def test_a_429_pauses_every_worker_for_retry_after(
    plane: Served, redis_client: redis.Redis
) -> None:
    plane.control(
        "POST", "faults", {"scripts": [{"answers": [{"status": 429, "retry_after": 30}]}]}
    )
    api = build_api(_settings(plane), HUB, redis_client)
    with pytest.raises(Throttled):
        operate(CONNECTOR, api, "projects.list")
    with pytest.raises(QuotaWait) as wait:
        operate(CONNECTOR, build_api(_settings(plane), HUB, redis_client), "projects.list")
    # at least Retry-After; longer when Plane's own reset header says so
    assert 25 < wait.value.wait <= 61
    assert len(plane.calls()) == 1
