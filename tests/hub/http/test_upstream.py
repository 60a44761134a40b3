from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
import redis

from hub.core.errors import ConfigError, FatalError, QuotaWait
from hub.core.settings import Settings
from hub.http.client_spec import ClientSpec, HeaderKey, OAuthToken
from hub.http.grants import RedisRefusalMemo, client_credentials_form, client_credentials_grant
from hub.http.keyauth import HeaderKeyAuth
from hub.http.quota import Budget
from hub.http.upstream import (
    Upstream,
    build_client,
    connect,
    require_fields,
    require_settings,
    token_auth,
    upstream_for,
)
from tests.support.thing_settings import ThingSettings


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


def test_the_upstream_of_a_spec_takes_its_budget_and_timeout_from_settings() -> None:
    settings = ThingSettings(quota_limit=5, quota_window_seconds=10, timeout_seconds=3)
    spec = ClientSpec(
        service="Thing", base_url="https://t.test", budget_key="thing:k", headers={"A": "b"}
    )
    upstream = upstream_for(spec, settings, Settings(hub_quota_ticket_grace_seconds=2))
    assert upstream.budget == Budget("thing:k", 5, 10.0, 5.0)
    assert (upstream.timeout, upstream.service, upstream.base_url) == (
        3.0,
        "Thing",
        "https://t.test",
    )
    assert (upstream.headers, upstream.ticket_grace_seconds) == ({"A": "b"}, 2.0)


def test_require_fields_names_the_variables_of_empty_settings() -> None:
    settings = ThingSettings(quota_limit=0, quota_window_seconds=0)
    with pytest.raises(ConfigError) as info:
        require_fields(
            "Thing", settings, ("quota_limit", "timeout_seconds", "quota_window_seconds")
        )
    assert str(info.value) == (
        "Thing is not configured: set THING_QUOTA_LIMIT, THING_QUOTA_WINDOW_SECONDS"
    )


def _token_upstream(
    token_calls: list[str], on_token: Callable[[], None] = lambda: None
) -> httpx.MockTransport:
    """A token endpoint (client ``cid`` only) and one API route that wants its token."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            token_calls.append(request.content.decode())
            on_token()
            if b"client_id=cid" not in request.content:
                return httpx.Response(401, json={"error": "invalid_client"})
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})
        assert request.headers["Authorization"] == "Bearer tok"
        return httpx.Response(200, json={"ok": True})

    return httpx.MockTransport(handler)


def _thing(timeout: float = 7.0) -> Upstream:
    return Upstream(
        service="Thing",
        base_url="https://thing.test/api",
        budget=Budget("thing:cid", 10, 60),
        timeout=timeout,
    )


def test_token_auth_shares_one_token_per_budget_key(redis_client: redis.Redis) -> None:
    token_calls: list[str] = []
    lock_ttls: list[int] = []
    upstream = _thing(timeout=7.0)
    grant = client_credentials_grant("https://thing.test/oauth/token", "cid", "s", service="Thing")
    transport = _token_upstream(
        token_calls, lambda: lock_ttls.append(redis_client.pttl("hub:token:thing:cid:refresh"))
    )
    clients = [
        connect(
            upstream, redis_client, token_auth(upstream, redis_client, grant), transport=transport
        )
        for _ in range(2)
    ]
    assert [c.request("GET", "a") for c in clients] == [{"ok": True}, {"ok": True}]
    assert len(token_calls) == 1  # the second client found the first one's token
    # the fetch is held single-flight for a little longer than the token request may take
    assert len(lock_ttls) == 1 and 11_000 < lock_ttls[0] <= 12_000
    assert json.loads(redis_client.get("hub:token:thing:cid") or "")["value"] == "tok"
    assert redis_client.zcard("hub:quota:thing:cid:log") == 3  # the token request counts


def test_token_auth_explains_a_refusal_and_holds_the_credentials_back(
    redis_client: redis.Redis,
) -> None:
    token_calls: list[str] = []
    upstream = _thing()
    grant = client_credentials_grant(
        "https://thing.test/oauth/token", "other", "s3cr3t", service="Thing"
    )
    memo = RedisRefusalMemo(redis_client, "hub:grant-refused:test", 60)
    auth = token_auth(upstream, redis_client, grant, cache_key="hub:token:t", refusals=memo)
    client = connect(upstream, redis_client, auth, transport=_token_upstream(token_calls))
    with pytest.raises(FatalError, match="Thing refused the token request") as first:
        client.request("GET", "a")
    with pytest.raises(FatalError, match="not sent again"):
        client.request("GET", "a")
    assert len(token_calls) == 1
    assert "s3cr3t" not in str(first.value)


def test_a_spec_with_a_header_key_is_built_into_a_client_on_its_budget(
    redis_client: redis.Redis,
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"ok": True})

    spec = ClientSpec(
        service="Thing",
        base_url="https://thing.test/api",
        budget_key="thing:key-1",
        auth=HeaderKey("X-Key", "k3y"),
        headers={"Accept": "application/json"},
    )
    assert "k3y" not in repr(spec)
    client = build_client(
        spec, ThingSettings(), Settings(), redis_client, transport=httpx.MockTransport(handler)
    )
    assert client.request("GET", "a") == {"ok": True}
    assert sent[0].headers["X-Key"] == "k3y" and sent[0].headers["Accept"] == "application/json"
    assert redis_client.zcard("hub:quota:thing:key-1:log") == 1


def test_a_spec_with_an_oauth_token_shares_it_and_holds_refused_credentials_back(
    redis_client: redis.Redis,
) -> None:
    token_calls: list[str] = []
    transport = _token_upstream(token_calls)

    def client(client_id: str) -> object:
        spec = ClientSpec(
            service="Thing",
            base_url="https://thing.test/api",
            budget_key=f"thing:{client_id}",
            auth=OAuthToken(
                "https://thing.test/oauth/token",
                client_credentials_form(client_id, "s3cr3t"),
                refusal_hold_seconds=60,
            ),
        )
        assert "s3cr3t" not in repr(spec)
        return build_client(spec, ThingSettings(), Settings(), redis_client, transport=transport)

    good = [client("cid"), client("cid")]
    assert [c.request("GET", "a") for c in good] == [{"ok": True}, {"ok": True}]  # type: ignore[attr-defined]
    assert len(token_calls) == 1  # one token for the API client, under hub:token:<budget>
    assert json.loads(redis_client.get("hub:token:thing:cid") or "")["value"] == "tok"
    bad = client("other")
    with pytest.raises(FatalError, match="Thing refused the token request"):
        bad.request("GET", "a")  # type: ignore[attr-defined]
    with pytest.raises(FatalError, match="not sent again"):
        bad.request("GET", "a")  # type: ignore[attr-defined]
    assert len(token_calls) == 2
    assert redis_client.exists("hub:grant-refused:thing:other")
