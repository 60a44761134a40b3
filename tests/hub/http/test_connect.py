from __future__ import annotations

import httpx
import pytest
import redis

from hub.errors import ConfigError, QuotaWait
from hub.http.connect import Upstream, connect, require_settings
from hub.http.keyauth import HeaderKeyAuth
from hub.http.quota import Budget


def test_require_settings_names_every_missing_one() -> None:
    require_settings("Plane", {"PLANE_API_KEY": "k", "PLANE_WORKSPACE_SLUG": "w"})
    with pytest.raises(ConfigError) as info:
        require_settings("Plane", {"PLANE_API_KEY": None, "PLANE_WORKSPACE_SLUG": ""}, "or else")
    assert str(info.value) == (
        "Plane is not configured: set PLANE_API_KEY, PLANE_WORKSPACE_SLUG (or else)"
    )


def test_connect_takes_slots_from_the_redis_budget(redis_client: redis.Redis) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"n": len(sent)})

    upstream = Upstream(
        service="Thing",
        base_url="https://thing.test/api",
        budget=Budget("thing:test", 2, 60),
        headers={"Accept": "application/json"},
    )
    client = connect(
        upstream, redis_client, HeaderKeyAuth("X-Key", "k"), transport=httpx.MockTransport(handler)
    )
    assert client.request("GET", "a") == {"n": 1}
    assert client.request("GET", "b") == {"n": 2}
    with pytest.raises(QuotaWait) as wait:
        client.request("GET", "c")
    assert wait.value.key == "thing:test" and wait.value.wait > 0
    assert len(sent) == 2  # the refused call never left
    assert str(sent[0].url) == "https://thing.test/api/a"
    assert sent[0].headers["X-Key"] == "k" and sent[0].headers["Accept"] == "application/json"
    assert redis_client.zcard("hub:quota:thing:test:log") == 2


def test_upstream_from_a_connectors_settings() -> None:
    from hub.http.connect import upstream_from_settings
    from hub.settings import Settings

    settings = Settings(plane_quota_limit=5, plane_quota_window_seconds=10, plane_timeout_seconds=3)
    upstream = upstream_from_settings(
        settings, "plane", service="Plane", base_url="https://p.test", budget_key="plane:k"
    )
    assert upstream.budget == Budget("plane:k", 5, 10.0)
    assert (upstream.timeout, upstream.service, upstream.base_url) == (
        3.0,
        "Plane",
        "https://p.test",
    )
