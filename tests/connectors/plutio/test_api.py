from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import redis
from pydantic import SecretStr

from connectors.plutio.api import build_api, query_params
from connectors.plutio.settings import PlutioSettings
from hub.core.errors import ConfigError, FatalError
from hub.core.settings import Settings

#: the hub settings the connector is built with
HUB = Settings()


def _settings(**extra: Any) -> PlutioSettings:
    values: dict[str, Any] = {
        "base_url": "https://plutio.test/v1.11",
        "client_id": "cid",
        "client_secret": SecretStr("csecret"),
        "business": "acme",
        **extra,
    }
    return PlutioSettings(**values)


class FakePlutio:
    def __init__(self) -> None:
        self.people: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/oauth/token"):
            form = parse_qs(request.content.decode())
            assert form == {
                "grant_type": ["client_credentials"],
                "client_id": ["cid"],
                "client_secret": ["csecret"],
            }
            return httpx.Response(
                200, json={"accessToken": "tok", "accessTokenExpiresAt": "2099-01-01T00:00:00Z"}
            )
        assert request.headers["Authorization"] == "Bearer tok"
        if request.headers.get("Business") != "acme":
            return httpx.Response(
                400,
                json={"code": 400, "message": "Business undefined is not enabled for this client."},
            )
        if request.method == "POST":
            person = {"_id": f"p{len(self.people) + 1}", **json.loads(request.content)}
            self.people.append(person)
            return httpx.Response(200, json=person)
        params = request.url.params
        skip, limit = int(params["skip"]), int(params["limit"])
        wanted = params.get("contactEmails.address")
        found = [
            p
            for p in self.people
            if wanted is None or any(e["address"] == wanted for e in p["contactEmails"])
        ]
        return httpx.Response(200, json=found[skip : skip + limit])


def test_query_params_split_key_filters_and_q() -> None:
    assert query_params({"name.first": "leo"}, None) == {"name.first": "leo"}
    params = query_params({"tags": {"$in": ["a"]}}, {"$or": [{"role": "x"}]})
    assert json.loads(params["q"]) == {"$or": [{"role": "x"}], "tags": {"$in": ["a"]}}


def test_upsert_creates_once_then_finds(redis_client: redis.Redis) -> None:
    fake = FakePlutio()
    api = build_api(_settings(), HUB, redis_client, transport=httpx.MockTransport(fake))
    body = {"name": {"first": "Ada"}, "contactEmails": [{"address": "ada@x", "type": "work"}]}
    first = api.upsert("people", {"contactEmails.address": "ada@x"}, body)
    second = api.upsert("people", {"contactEmails.address": "ada@x"}, body)
    assert first["created"] is True and second["created"] is False
    assert second["record"]["_id"] == first["record"]["_id"]
    assert len(fake.people) == 1
    token_calls = [r for r in fake.requests if r.url.path.endswith("/oauth/token")]
    assert len(token_calls) == 1


def test_find_pages_through_everything(redis_client: redis.Redis) -> None:
    fake = FakePlutio()
    fake.people = [{"_id": str(i), "contactEmails": []} for i in range(250)]
    api = build_api(_settings(), HUB, redis_client, transport=httpx.MockTransport(fake))
    assert len(api.find("people")) == 250
    skips = [r.url.params["skip"] for r in fake.requests if r.method == "GET"]
    assert skips == ["0", "100", "200"]


def test_missing_business_error_is_fatal_and_explained(redis_client: redis.Redis) -> None:
    fake = FakePlutio()
    api = build_api(
        _settings(business="other"), HUB, redis_client, transport=httpx.MockTransport(fake)
    )
    with pytest.raises(FatalError, match="Business undefined is not enabled"):
        api.find("people")


def test_missing_settings_named(redis_client: redis.Redis) -> None:
    with pytest.raises(ConfigError, match="PLUTIO_CLIENT_SECRET, PLUTIO_BUSINESS"):
        build_api(
            PlutioSettings(client_id="x", client_secret=None, business=None),
            Settings(),
            redis_client,
        )
