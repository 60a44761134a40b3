"""The Plutora connector against its sandbox over real HTTP, tokens and quotas in real Redis."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
import redis
from pydantic import SecretStr

from connectors.plutora import CONNECTOR
from connectors.plutora.api import PlutoraApi, build_api
from connectors.plutora.sandbox import PlutoraSandboxConfig, create_app
from connectors.plutora.settings import PlutoraSettings
from hub.core.errors import ConfigError, FatalError, QuotaWait, RetryableError
from hub.core.settings import Settings
from hub.sandbox.clock import FakeClock
from tests.support.sandboxes import Served, operate, serve

RELEASE = {"identifier": "R-1", "name": "Spring", "implementationDate": "2025-05-01"}

#: the hub settings the connector is built with
HUB = Settings()


def settings_for(served: Served, **extra: Any) -> PlutoraSettings:
    values: dict[str, Any] = {
        "auth_url": f"{served.url}/oauth/token",
        "base_url": served.url,
        "client_id": "sandbox-client",
        "client_secret": SecretStr("sandbox-secret"),
        "username": "sandbox@example.com",
        "password": SecretStr("sandbox-password"),
        **extra,
    }
    return PlutoraSettings(**values)


@pytest.fixture(scope="module")
def served(sandbox_mode: str) -> Iterator[Served]:
    app = create_app(
        PlutoraSandboxConfig(login_attempts=3), clock=FakeClock(), rng=random.Random(9)
    )
    with serve(app) as sandbox:
        yield sandbox


@pytest.fixture
def plutora(served: Served, redis_client: redis.Redis) -> Served:
    served.control("POST", "reset")
    return served


def op(api: PlutoraApi, uses: str, /, **args: Any) -> Any:
    return operate(CONNECTOR, api, uses, **args)


def _token_calls(plutora: Served) -> list[dict[str, Any]]:
    return [c for c in plutora.calls() if c["path"] == "/oauth/token"]


def test_one_token_for_every_process_until_it_nears_expiry(
    plutora: Served, redis_client: redis.Redis
) -> None:
    op(build_api(settings_for(plutora), HUB, redis_client), "me")
    op(build_api(settings_for(plutora), HUB, redis_client), "me")  # another worker, same cache
    assert len(_token_calls(plutora)) == 1
    raw = redis_client.get(next(iter(redis_client.keys("hub:token:plutora:*"))))
    assert raw is not None
    cached = json.loads(raw)
    assert cached["value"] and "sandbox-password" not in str(redis_client.keys("*"))
    # renewed before expires_in runs out, not after: expire the cache as the margin would
    redis_client.delete(*redis_client.keys("hub:token:plutora:*"))
    op(build_api(settings_for(plutora), HUB, redis_client), "me")
    assert len(_token_calls(plutora)) == 2


def test_an_expired_token_is_replaced_once(plutora: Served, redis_client: redis.Redis) -> None:
    api = build_api(settings_for(plutora), HUB, redis_client)
    op(api, "me")
    plutora.control("POST", "expire-tokens")
    assert op(api, "me") == {"email": "sandbox@example.com"}
    assert len(_token_calls(plutora)) == 2


def test_entities_crud_and_update_merges_before_put(
    plutora: Served, redis_client: redis.Redis
) -> None:
    api = build_api(settings_for(plutora), HUB, redis_client)
    release = op(api, "releases.create", **RELEASE, summary="first cut", customField="kept")
    assert release["customField"] == "kept"
    updated = op(api, "releases.update", id=release["id"], data={"name": "Summer"})
    assert (updated["name"], updated["summary"], updated["customField"]) == (
        "Summer",
        "first cut",
        "kept",
    )
    puts = [c for c in plutora.calls() if c["method"] == "PUT"]
    assert len(puts) == 1
    for entity, fields in (("systems", {"name": "CRM"}), ("environments", {"name": "UAT"})):
        made = op(api, f"{entity}.create", **fields)
        assert op(api, f"{entity}.get", id=made["id"])["name"] == fields["name"]
        assert op(api, f"{entity}.delete", id=made["id"]) == {"deleted": True, "id": made["id"]}
    with pytest.raises(FatalError, match="400 for POST /releases: The request is invalid") as bad:
        api.create("releases", {"name": "no identifier"})
    assert '"release.Identifier": ["The Identifier field is required."]' in str(bad.value)


def test_lists_page_with_page_num(plutora: Served, redis_client: redis.Redis) -> None:
    plutora.control("POST", "seed", {"changes": [{"name": f"c{n}"} for n in range(205)]})
    api = build_api(settings_for(plutora), HUB, redis_client)
    assert len(op(api, "changes.list")) == 205
    pages = [c["query"] for c in plutora.calls() if c["path"] == "/changes"]
    assert pages == [f"pageNum={n}&recordsPerPage=100" for n in range(3)]
    assert [c["name"] for c in op(api, "changes.list", limit=2)] == ["c0", "c1"]


def test_change_search_pages_through_filters(plutora: Served, redis_client: redis.Redis) -> None:
    api = build_api(settings_for(plutora), HUB, redis_client)
    for n in range(150):
        api.create("changes", {"name": f"c{n}", "status": "Open" if n % 2 else "Closed"})
    found = op(
        api,
        "changes.search",
        filters=[
            {"Property": "Status", "Operator": "Equals", "Value": "Open"},
            {"Property": "ChangeId", "Direction": "DESC"},
        ],
    )
    assert len(found) == 75 and found[0]["changeId"] == 150 and found[-1]["changeId"] == 2
    # the documented filter of GET /changes, pages from 0 (no undocumented path)
    read = [
        parse_qs(c["query"])
        for c in plutora.calls()
        if c["path"] == "/changes" and c["method"] == "GET"
    ]
    assert [q["filter"] for q in read] == [["`Status` = `Open`"]]
    assert [q["pageNum"] for q in read] == [["0"]]
    assert not [c for c in plutora.calls() if c["path"] == "/changes/filter"]
    first = op(
        api,
        "changes.search",
        filters=[
            {"Property": "Status", "Operator": "Contains", "Value": "clo"},
            {"Property": "ChangeId", "Operator": "GreaterOrEqual", "Value": 100},
        ],
        limit=3,
    )
    assert [c["changeId"] for c in first] == [101, 103, 105]


def test_a_release_takes_plutoras_own_type_values() -> None:
    release = {"identifier": "R-1", "name": "Spring", "implementationDate": "2025-05-01"}
    create = CONNECTOR.operations["releases.create"].input
    for kind in ("Independent", "Integrated"):
        create.model_validate({**release, "plutoraReleaseType": kind})
    create.model_validate({**release, "releaseProjectType": "IsProject"})
    with pytest.raises(ValueError, match="Enterprise ones, can be created"):
        create.model_validate({**release, "plutoraReleaseType": "Enterprise"})
    with pytest.raises(ValueError, match="plutoraReleaseType"):
        create.model_validate({**release, "plutoraReleaseType": "Project"})


def test_refused_logins_are_explained_and_not_repeated(
    plutora: Served, redis_client: redis.Redis
) -> None:
    bad = settings_for(plutora, password=SecretStr("wrong"))
    with pytest.raises(FatalError) as first:
        op(build_api(bad, HUB, redis_client), "me")
    message = str(first.value)
    assert "validation_error: Login failed, you have 2 attempts to login" in message
    assert "check PLUTORA_USERNAME and PLUTORA_PASSWORD" in message and "wrong" not in message
    for _ in range(3):  # more runs, more workers: the account is not locked by retries
        with pytest.raises(FatalError, match="not sent again"):
            op(build_api(bad, HUB, redis_client), "me")
    assert len(_token_calls(plutora)) == 1
    assert op(build_api(settings_for(plutora), HUB, redis_client), "me")["email"]  # fixed: works


def test_a_wrong_client_secret_says_which_settings(
    plutora: Served, redis_client: redis.Redis
) -> None:
    bad = settings_for(plutora, client_secret=SecretStr("regenerated"))
    with pytest.raises(FatalError) as info:
        op(build_api(bad, HUB, redis_client), "me")
    assert "invalid_grant: The client_id or client_secret is incorrect." in str(info.value)
    assert "PLUTORA_CLIENT_ID and PLUTORA_CLIENT_SECRET" in str(info.value)


def test_token_requests_take_quota_slots_too(plutora: Served, redis_client: redis.Redis) -> None:
    api = build_api(settings_for(plutora, quota_limit=2), HUB, redis_client)
    op(api, "me")  # a token request and the call
    with pytest.raises(QuotaWait) as wait:
        op(api, "me")
    assert wait.value.key == "plutora:sandbox-client" and wait.value.wait > 3000
    assert len(plutora.calls()) == 2


def test_server_errors_are_retriable(plutora: Served, redis_client: redis.Redis) -> None:
    api = build_api(settings_for(plutora), HUB, redis_client)
    op(api, "me")
    plutora.control("POST", "faults", {"scripts": [{"path": "/releases", "answers": [502]}]})
    with pytest.raises(RetryableError) as info:
        op(api, "releases.list")
    assert info.value.status == 502
    assert op(api, "releases.list") == []


def test_regions_pick_the_hosts(redis_client: redis.Redis) -> None:
    settings = PlutoraSettings(region="au")
    assert settings.token_url == "https://auoauth.plutora.com/oauth/token"
    assert settings.api_url == "https://auapi.plutora.com"
    with pytest.raises(ConfigError, match="set PLUTORA_CLIENT_ID, PLUTORA_CLIENT_SECRET"):
        build_api(settings, HUB, redis_client)
