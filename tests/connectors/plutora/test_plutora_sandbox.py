"""The Plutora sandbox, through HTTP, as Plutora's reference and sample clients describe it."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from connectors.plutora.sandbox import PlutoraSandboxConfig, create_app
from hub.sandbox.clock import FakeClock

pytestmark = pytest.mark.anyio

LOGIN = {
    "client_id": "sandbox-client",
    "client_secret": "sandbox-secret",
    "grant_type": "password",
    "username": "sandbox@example.com",
    "password": "sandbox-password",
}
RELEASE = {"identifier": "R-1", "name": "Spring", "implementationDate": "2025-05-01"}


class Plutora:
    def __init__(self, config: PlutoraSandboxConfig | None = None) -> None:
        self.clock = FakeClock()
        self.app = create_app(config, clock=self.clock, rng=random.Random(5))
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://plutora.test"
        )
        self.token: str | None = None

    async def login(self, **form: str) -> httpx.Response:
        return await self.http.post("/oauth/token", data={**LOGIN, **form})

    async def call(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        if self.token is None:
            self.token = (await self.login()).json()["access_token"]
        headers = {"Authorization": f"bearer {self.token}"}
        return await self.http.request(
            method, path, json=body, params=params or None, headers=headers
        )


@pytest.fixture
async def plutora() -> AsyncIterator[Plutora]:
    sandbox = Plutora()
    async with sandbox.http:
        yield sandbox


async def test_password_grant_and_token_expiry(plutora: Plutora) -> None:
    answer = await plutora.login()
    body = answer.json()
    assert answer.status_code == 200 and body["token_type"] == "bearer"
    assert body["expires_in"] == 12000
    plutora.token = body["access_token"]
    assert (await plutora.call("GET", "/me")).json() == {"email": "sandbox@example.com"}
    plutora.clock.advance(12000)
    expired = await plutora.call("GET", "/releases")
    assert expired.status_code == 401
    assert expired.json() == {"message": "Authorization has been denied for this request."}
    assert (await plutora.http.get("/releases")).status_code == 401


async def test_token_refusals_as_the_reference_shows(plutora: Plutora) -> None:
    wrong_client = await plutora.login(client_secret="nope")
    assert wrong_client.status_code == 400
    assert wrong_client.json() == {
        "error": "invalid_grant",
        "error_description": "The client_id or client_secret is incorrect.",
    }
    wrong_password = await plutora.login(password="nope")
    assert wrong_password.json() == {
        "error": "validation_error",
        "error_description": "Login failed, you have 4 attempts to login",
    }
    assert (await plutora.login(grant_type="client_credentials")).json()["error"] == (
        "unsupported_grant_type"
    )
    as_json = await plutora.http.post("/oauth/token", json=LOGIN)
    assert as_json.json()["error"] == "invalid_request"


async def test_repeated_failures_lock_the_account_until_reset() -> None:
    plutora = Plutora(PlutoraSandboxConfig(login_attempts=2))
    async with plutora.http:
        first = await plutora.login(password="nope")
        assert "1 attempts" in first.json()["error_description"]
        locked = await plutora.login(password="nope")
        assert locked.json()["error_description"].startswith("Your account is locked")
        still = await plutora.login()  # the right password no longer helps
        assert still.status_code == 400 and still.json()["error"] == "validation_error"
        await plutora.http.post("/_sandbox/reset")
        assert (await plutora.login()).status_code == 200


async def test_crud_and_model_errors(plutora: Plutora) -> None:
    made = await plutora.call("POST", "/releases", RELEASE)
    assert made.status_code == 201
    release = made.json()
    assert release["identifier"] == "R-1" and release["plutoraReleaseType"] == "Independent"
    path = f"/releases/{release['id']}"
    assert (await plutora.call("GET", path)).json() == release
    put = await plutora.call("PUT", path, {**release, "name": "Summer"})
    assert put.status_code == 200 and put.json()["name"] == "Summer"
    assert (await plutora.call("DELETE", path)).status_code == 204
    missing = await plutora.call("GET", path)
    assert missing.status_code == 404 and "was not found" in missing.json()["message"]
    invalid = await plutora.call("POST", "/releases", {"name": "x"})
    assert invalid.status_code == 400
    assert invalid.json() == {
        "message": "The request is invalid.",
        "modelState": {
            "release.Identifier": ["The Identifier field is required."],
            "release.ImplementationDate": ["The ImplementationDate field is required."],
        },
    }
    enterprise = await plutora.call(
        "POST", "/releases", {**RELEASE, "plutoraReleaseType": "Enterprise"}
    )
    assert enterprise.status_code == 400


async def test_json_only(plutora: Plutora) -> None:
    await plutora.call("GET", "/me")
    text = await plutora.http.post(
        "/changes",
        content=b"name=x",
        headers={"Authorization": f"bearer {plutora.token}", "Content-Type": "text/plain"},
    )
    assert text.status_code == 415
    assert text.json() == {
        "message": "The request entity's media type 'text/plain' is not supported for this "
        "resource."
    }


async def test_pages_when_page_num_is_given(plutora: Plutora, sandbox_mode: str) -> None:
    await plutora.http.post(
        "/_sandbox/seed", json={"systems": [{"name": f"s{n}"} for n in range(130)]}
    )
    legacy = (await plutora.call("GET", "/systems")).json()
    if sandbox_mode == "strict":  # the paged shape is the default since mid-2019
        assert legacy["returnCount"] == 100 and legacy["pageNum"] == 0
    else:
        assert isinstance(legacy, list) and len(legacy) == 130
    page = (await plutora.call("GET", "/systems", pageNum=1, recordsPerPage=100)).json()
    assert {k: page[k] for k in ("returnCount", "totalCount", "pageNum", "recordsPerPage")} == {
        "returnCount": 30,
        "totalCount": 130,
        "pageNum": 1,
        "recordsPerPage": 100,
    }
    assert page["resultSet"][0]["name"] == "s100"
    capped = (await plutora.call("GET", "/systems", pageNum=0, recordsPerPage=500)).json()
    assert capped["recordsPerPage"] == 100
    assert (await plutora.call("GET", "/systems", pageNum=-1)).status_code == 400


async def test_lists_filter_as_plutoras_documentation_writes_it(plutora: Plutora) -> None:
    for n in range(12):
        status = "N/A" if n % 3 == 0 else "Open"
        made = await plutora.call(
            "POST",
            "/changes",
            {"name": f"c{n}", "status": status, "priority": "High" if n < 6 else "Low"},
        )
        assert made.json()["changeId"] == n + 1

    async def ids(expression: str, **params: Any) -> list[int]:
        answer = (await plutora.call("GET", "/changes", filter=expression, **params)).json()
        return [c["changeId"] for c in answer["resultSet"]]

    assert await ids("`Status` contains `n/a`", pageNum=0) == [1, 4, 7, 10]
    assert await ids("`Status` ~ `n/a`", pageNum=1, recordsPerPage=3) == [10]
    assert await ids("`priority` = `low` and `ChangeId` >= `11`", pageNum=0) == [11, 12]
    assert await ids(
        "( `ChangeId` < `2` or `ChangeId` > `11` ) and `Status` != `Open`", pageNum=0
    ) == [1]
    bad = await plutora.call("GET", "/changes", filter="`Status` like `x`", pageNum=0)
    assert bad.status_code == 400 and "unknown operator 'like'" in bad.json()["message"]
    unquoted = await plutora.call("GET", "/changes", filter="Status = Open", pageNum=0)
    assert unquoted.status_code == 400 and "backticks" in unquoted.json()["message"]
    gone = await plutora.call("POST", "/changes/filter", {"SearchFilters": []})
    assert gone.status_code == 404  # no documented path: not served


async def test_release_types_are_plutoras(plutora: Plutora) -> None:
    for kind, status in (("Integrated", 201), ("Independent", 201), ("Project", 400)):
        made = await plutora.call(
            "POST", "/releases", {**RELEASE, "identifier": kind, "plutoraReleaseType": kind}
        )
        assert made.status_code == status, made.text
    project = await plutora.call(
        "POST", "/releases", {**RELEASE, "identifier": "P", "releaseProjectType": "IsProject"}
    )
    assert project.status_code == 201
    enterprise = await plutora.call(
        "POST", "/releases", {**RELEASE, "identifier": "E", "plutoraReleaseType": "Enterprise"}
    )
    assert enterprise.status_code == 400


async def test_quota_counts_token_requests_and_sends_no_rate_headers(sandbox_mode: str) -> None:
    plutora = Plutora(PlutoraSandboxConfig(quota_limit=2, quota_window_seconds=3600))
    async with plutora.http:
        first = await plutora.call("GET", "/me")  # the login and this call
        assert first.status_code == 200 and "X-RateLimit-Remaining" not in first.headers
        refused = await plutora.call("GET", "/me")
        assert refused.status_code == 429
        if sandbox_mode == "strict":  # Plutora documents no rate-limit headers at all
            assert "Retry-After" not in refused.headers
        else:
            assert int(refused.headers["Retry-After"]) > 3500
        assert "quota exceeded" in refused.json()["message"]
        calls = (await plutora.http.get("/_sandbox/calls")).json()
        assert calls["max_in_window"]["sandbox-client"] == {"received": 3, "admitted": 2}


async def test_injected_errors_in_plutora_shape(plutora: Plutora) -> None:
    await plutora.call("GET", "/me")
    await plutora.http.post("/_sandbox/faults", json={"scripts": [{"answers": [500]}]})
    failed = await plutora.call("GET", "/releases")
    assert failed.status_code == 500 and failed.json() == {"message": "An error has occurred."}


def test_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.plutora.sandbox import create_app_from_env

    monkeypatch.setenv("PLUTORA_SANDBOX_TOKEN_TTL_SECONDS", "60")
    monkeypatch.setenv("PLUTORA_SANDBOX_USERS", '{"ops@example.com": "pw"}')
    config = create_app_from_env().state.config
    assert (config.token_ttl_seconds, config.users) == (60, {"ops@example.com": "pw"})


async def test_a_token_request_must_carry_no_other_headers_in_strict_mode(
    plutora: Plutora, sandbox_mode: str
) -> None:
    """The reference: if an error comes instead of a token, "your Headers tab may not be
    blank"."""
    answer = await plutora.http.post(
        "/oauth/token", data=LOGIN, headers={"Authorization": "bearer stale"}
    )
    if sandbox_mode == "strict":
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    else:
        assert answer.status_code == 200
