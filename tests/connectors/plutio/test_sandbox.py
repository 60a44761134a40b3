"""The Plutio sandbox, through HTTP, as the connector sees it."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from connectors.plutio.sandbox import PlutioSandboxConfig, SandboxClient, create_app
from hub.sandbox.calllog import max_calls_in_window
from hub.sandbox.clock import FakeClock, SystemClock, iso_utc
from hub.sandbox.serve import serve_in_thread

pytestmark = pytest.mark.anyio

CREDS = {
    "grant_type": "client_credentials",
    "client_id": "sandbox-client",
    "client_secret": "sandbox-secret",
}


class Plutio:
    """A sandbox on a fake clock, and an in-process client for it."""

    def __init__(self, config: PlutioSandboxConfig | None = None, *, real_clock: bool = False):
        self.clock = FakeClock()
        self.app = create_app(
            config, clock=SystemClock() if real_clock else self.clock, rng=random.Random(7)
        )
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://plutio.test"
        )
        self._token: str | None = None

    async def token(self, **form: str) -> httpx.Response:
        return await self.http.post("/oauth/token", data={**CREDS, **form})

    async def login(self) -> httpx.Response:
        """Request a token and use it from now on."""
        response = await self.token()
        self._token = response.json().get("accessToken")
        return response

    async def headers(self, business: str = "sandbox") -> dict[str, str]:
        if self._token is None:
            await self.login()
        return {"Authorization": f"Bearer {self._token}", "Business": business}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params, headers=await self.headers())

    async def send(self, method: str, path: str, body: Any) -> httpx.Response:
        return await self.http.request(method, path, json=body, headers=await self.headers())

    async def seed(self, data: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        response = await self.http.post("/_sandbox/seed", json=data)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def calls(self) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = (await self.http.get("/_sandbox/calls")).json()["calls"]
        return calls


@pytest.fixture
async def sb() -> AsyncIterator[Plutio]:
    sandbox = Plutio()
    async with sandbox.http:
        yield sandbox


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["_id"] for r in records]


# --- tokens ----------------------------------------------------------------------------


async def test_token_default_shape(sb: Plutio) -> None:
    response = await sb.token()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"accessToken", "accessTokenExpiresAt", "refreshToken"}
    assert body["refreshToken"] is None
    assert body["accessTokenExpiresAt"] == iso_utc(sb.clock.now() + timedelta(hours=72))


async def test_token_oauth2_shape() -> None:
    sandbox = Plutio(PlutioSandboxConfig(token_shape="oauth2", token_ttl_seconds=90))
    async with sandbox.http:
        body = (await sandbox.token()).json()
    assert body.keys() == {"access_token", "expires_in", "token_type"}
    assert (body["expires_in"], body["token_type"]) == (90, "Bearer")


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"client_secret": "wrong"}, 401, "Invalid client"),
        ({"client_id": "stranger"}, 401, "Invalid client"),
        ({"grant_type": "password"}, 400, "Unsupported grant type"),
        ({"grant_type": ""}, 400, "missing parameter"),
    ],
)
async def test_token_refusals(sb: Plutio, form: dict[str, str], status: int, message: str) -> None:
    response = await sb.token(**form)
    assert response.status_code == status
    assert response.json()["code"] == status and message in response.json()["message"]


async def test_token_must_be_form_encoded(sb: Plutio) -> None:
    response = await sb.http.post("/oauth/token", json=CREDS)
    assert response.status_code == 400 and "x-www-form-urlencoded" in response.json()["message"]


async def test_token_expiry_and_expire_route() -> None:
    sandbox = Plutio(PlutioSandboxConfig(token_ttl_seconds=60))
    async with sandbox.http:
        assert (await sandbox.get("/people")).status_code == 200
        sandbox.clock.advance(60)
        expired = await sandbox.get("/people")
        assert expired.status_code == 401
        assert expired.json() == {"code": 401, "message": "Invalid token: access token has expired"}
        await sandbox.login()
        assert (await sandbox.get("/people")).status_code == 200
        assert (await sandbox.http.post("/_sandbox/expire-tokens")).json() == {"expired": 1}
        assert (await sandbox.get("/people")).status_code == 401


async def test_missing_and_unknown_tokens(sb: Plutio) -> None:
    missing = await sb.http.get("/people", headers={"Business": "sandbox"})
    assert missing.status_code == 401 and missing.json()["code"] == 401
    unknown = await sb.http.get(
        "/people", headers={"Business": "sandbox", "Authorization": "Bearer nope"}
    )
    assert unknown.json() == {"code": 401, "message": "Invalid token: access token is invalid"}


# --- the Business header -----------------------------------------------------------------


async def test_business_header(sb: Plutio) -> None:
    auth = {"Authorization": (await sb.headers())["Authorization"]}
    missing = await sb.http.get("/people", headers=auth)
    assert missing.status_code == 400
    assert missing.json() == {
        "code": 400,
        "message": "Business undefined is not enabled for this client.",
    }
    other = await sb.http.get("/people", headers={**auth, "Business": "acme"})
    assert other.json() == {"code": 400, "message": "Business acme is not enabled for this client."}
    lower = await sb.http.get("/people", headers={**auth, "business": "sandbox"})
    assert lower.status_code == 200


async def test_several_clients_and_data_kept_per_business() -> None:
    config = PlutioSandboxConfig(
        businesses=["one", "two"],
        extra_clients=[SandboxClient(client_id="c2", client_secret="s2", businesses=["three"])],
    )
    sandbox = Plutio(config)
    async with sandbox.http:
        created = await sandbox.http.post(
            "/people", json={"name": {"first": "A"}}, headers=await sandbox.headers("two")
        )
        assert created.status_code == 200
        assert (
            await sandbox.http.get("/people", headers=await sandbox.headers("one"))
        ).json() == []
        assert len((await sandbox.http.get("/_sandbox/state/people?business=two")).json()) == 1
        assert (await sandbox.http.get("/_sandbox/state/people")).json() == []  # default: one
        other = (await sandbox.token(client_id="c2", client_secret="s2")).json()["accessToken"]
        refused = await sandbox.http.get(
            "/people", headers={"Authorization": f"Bearer {other}", "Business": "two"}
        )
        assert refused.json()["message"] == "Business two is not enabled for this client."


# --- resources ---------------------------------------------------------------------------


async def test_create_stamps_records(sb: Plutio) -> None:
    response = await sb.send("POST", "/people", {"name.first": "Ada", "_id": "mine"})
    assert response.status_code == 200
    person = response.json()
    assert re.fullmatch(r"[0-9a-f]{24}", person["_id"])
    assert person["name"] == {"first": "Ada"} and person["role"] == "client"
    assert person["createdAt"] == person["updatedAt"] == iso_utc(sb.clock.now())
    assert (await sb.get("/people", _id=person["_id"])).json() == [person]
    assert (await sb.send("POST", "/people", [1, 2])).status_code == 400


async def test_paging_with_skip_and_limit(sb: Plutio) -> None:
    await sb.seed({"tasks": [{"title": f"t{i}"} for i in range(250)]})
    first = (await sb.get("/tasks")).json()
    assert len(first) == 100  # the default page
    page = (await sb.get("/tasks", skip=20, limit=50)).json()
    assert [t["title"] for t in page] == [f"t{i}" for i in range(20, 70)]
    everything: list[dict[str, Any]] = []
    while batch := (await sb.get("/tasks", skip=len(everything), limit=100)).json():
        everything.extend(batch)
    assert [t["title"] for t in everything] == [f"t{i}" for i in range(250)]
    assert len((await sb.get("/tasks", limit=0)).json()) == 250
    bad = await sb.get("/tasks", limit="ten")
    assert bad.status_code == 400 and "limit" in bad.json()["message"]


async def test_key_filters_match_dotted_paths_and_arrays(sb: Plutio) -> None:
    seeded = await sb.seed(
        {
            "people": [
                {
                    "name": {"first": "leo"},
                    "contactEmails": [{"address": "a@x"}, {"address": "b@x"}],
                },
                {"name": {"first": "mia"}, "contactEmails": [{"address": "c@x"}]},
            ],
            "invoices": [{"amount": 100}, {"amount": 250}],
        }
    )
    leo, mia = seeded["people"]
    assert _ids((await sb.get("/people", **{"name.first": "leo"})).json()) == [leo["_id"]]
    by_mail = await sb.get("/people", **{"contactEmails.address": "b@x"})
    assert _ids(by_mail.json()) == [leo["_id"]]
    both = await sb.http.get("/people?name.first=leo&name.first=mia", headers=await sb.headers())
    assert _ids(both.json()) == [leo["_id"], mia["_id"]]
    assert [i["amount"] for i in (await sb.get("/invoices", amount="250")).json()] == [250]
    assert (await sb.get("/people", **{"name.first": "Leo"})).json() == []


async def test_q_operators(sb: Plutio) -> None:
    await sb.seed(
        {
            "invoices": [
                {
                    "_id": "a",
                    "status": "paid",
                    "amount": 10,
                    "issueDate": "2024-01-05",
                    "client": {"name": "Acme"},
                },
                {"_id": "b", "status": "draft", "amount": 20, "issueDate": "2024-02-05"},
                {
                    "_id": "c",
                    "status": "sent",
                    "amount": 30,
                    "issueDate": "2024-03-05",
                    "paidAt": None,
                },
            ]
        }
    )

    async def q(query: dict[str, Any]) -> list[str]:
        response = await sb.get("/invoices", q=json.dumps(query))
        assert response.status_code == 200, response.text
        return _ids(response.json())

    assert await q({"$or": [{"status": "paid"}, {"amount": 30}]}) == ["a", "c"]
    assert await q({"$and": [{"amount": {"$gte": 20}}, {"status": {"$ne": "sent"}}]}) == ["b"]
    assert await q({"status": {"$in": ["draft", "sent"]}}) == ["b", "c"]
    assert await q({"status": {"$nin": ["draft", "sent"]}}) == ["a"]
    assert await q({"issueDate": {"$gt": "2024-01-31", "$lte": "2024-02-29"}}) == ["b"]
    assert await q({"amount": {"$lt": 20}}) == ["a"]
    assert await q({"paidAt": {"$exists": True}}) == ["c"]
    assert await q({"client.name": {"$regex": "^acm", "$options": "i"}}) == ["a"]
    both = await sb.get("/invoices", q=json.dumps({"amount": {"$gt": 10}}), status="sent")
    assert _ids(both.json()) == ["c"]
    bad_json = await sb.get("/invoices", q="{not json")
    assert bad_json.status_code == 400 and "q is not valid JSON" in bad_json.json()["message"]
    bad_op = await sb.get("/invoices", q=json.dumps({"amount": {"$near": 1}}))
    assert bad_op.status_code == 400 and "$near" in bad_op.json()["message"]


async def test_bulk_update_and_delete(sb: Plutio) -> None:
    seeded = await sb.seed(
        {"people": [{"name": {"first": "A", "last": "X"}}, {"name": {"first": "B"}}, {}]}
    )
    a, b, c = _ids(seeded["people"])
    sb.clock.advance(30)
    response = await sb.send(
        "PUT",
        "/people/bulk",
        {"_ids": [a, b, "0" * 24], "name.first": "Z", "tags": ["vip"], "_id": "hijack"},
    )
    assert response.status_code == 200
    updated = response.json()
    assert _ids(updated) == [a, b]
    assert updated[0]["name"] == {"first": "Z", "last": "X"} and updated[0]["tags"] == ["vip"]
    assert updated[0]["updatedAt"] == iso_utc(sb.clock.now())
    assert updated[0]["createdAt"] == seeded["people"][0]["createdAt"]
    whole = await sb.send("PUT", "/people/bulk", {"_ids": [a], "name": {"first": "Q"}})
    assert whole.json()[0]["name"] == {"first": "Q"}  # a whole value replaces, as $set does
    assert (await sb.send("PUT", "/people/bulk", {"name": "x"})).status_code == 400
    assert (await sb.send("PUT", "/people/bulk", {"_ids": [a], "$inc": {}})).status_code == 400
    removed = await sb.send("DELETE", "/people/bulk", {"_ids": [a, c]})
    assert removed.status_code == 200 and _ids(removed.json()) == [a, c]
    assert _ids((await sb.get("/people")).json()) == [b]


async def test_single_record_writes_are_refused(sb: Plutio) -> None:
    (person,) = (await sb.seed({"people": [{}]}))["people"]
    for method, path in [
        ("PUT", "/people"),
        ("DELETE", "/people"),
        ("PUT", f"/people/{person['_id']}"),
        ("DELETE", f"/people/{person['_id']}"),
        ("PATCH", "/people"),
    ]:
        response = await sb.send(method, path, {"_id": person["_id"], "role": "x"})
        assert response.status_code == 405, (method, path)
        assert response.json()["code"] == 405
    assert "PUT /people/bulk" in (await sb.send("PUT", "/people", {})).json()["message"]
    assert (await sb.send("POST", "/profiles", {})).status_code == 405  # profiles are read-only
    assert len((await sb.get("/people")).json()) == 1


async def test_unknown_paths_are_404_json(sb: Plutio) -> None:
    for path in ("/nothing", "/", "/people/a/b"):
        response = await sb.get(path)
        assert response.status_code == 404 and response.json()["code"] == 404


async def test_move_and_copy_where_documented(sb: Plutio) -> None:
    (task,) = (await sb.seed({"tasks": [{"title": "T", "taskGroupId": "g1"}]}))["tasks"]
    moved = await sb.send("POST", "/tasks/move", {"_id": task["_id"], "taskGroupId": "g2"})
    assert moved.status_code == 200 and moved.json()["taskGroupId"] == "g2"
    copied = await sb.send("POST", "/tasks/copy", {"_id": task["_id"], "title": "T2"})
    assert copied.json()["_id"] != task["_id"] and copied.json()["taskGroupId"] == "g2"
    assert [t["title"] for t in (await sb.get("/tasks")).json()] == ["T", "T2"]
    assert (await sb.send("POST", "/tasks/move", {"_id": "0" * 24})).status_code == 404
    assert (await sb.send("POST", "/people/move", {"_id": task["_id"]})).status_code == 404


# --- quota -------------------------------------------------------------------------------


async def test_quota_refuses_with_retry_after_and_headers(sandbox_mode: str) -> None:
    sandbox = Plutio(PlutioSandboxConfig(quota_limit=3, quota_window_seconds=5))
    async with sandbox.http:
        token = await sandbox.login()  # token requests count: 1 of 3
        assert token.headers["X-RateLimit-Remaining"] == "2"
        assert token.headers["X-RateLimit-Reset"] == "5"
        sandbox.clock.advance(1.2)
        ok = await sandbox.get("/people")
        assert (ok.headers["X-RateLimit-Limit"], ok.headers["X-RateLimit-Remaining"]) == ("3", "1")
        assert ok.headers["X-RateLimit-Reset"] == "4"  # 3.8 s until the token call leaves
        await sandbox.get("/people")
        sandbox.clock.advance(0.5)
        refused = await sandbox.get("/people")
        assert refused.status_code == 429 and refused.json()["code"] == 429
        if sandbox_mode == "strict":  # the reference names no Retry-After
            assert "Retry-After" not in refused.headers
        else:
            assert refused.headers["Retry-After"] == "4"  # ceil(5 - 1.7)
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        sandbox.clock.advance(3.3)  # the token call leaves the window
        assert (await sandbox.get("/people")).status_code == 200
        calls = await sandbox.calls()
    assert [(c["status"], c["quota_refused"], c["fault"]) for c in calls] == [
        (200, False, None),
        (200, False, None),
        (200, False, None),
        (429, True, None),
        (200, False, None),
    ]
    assert {c["client_id"] for c in calls} == {"sandbox-client"}


async def test_no_window_ever_admits_more_than_the_limit() -> None:
    sandbox = Plutio(PlutioSandboxConfig(quota_limit=30, quota_window_seconds=5))
    rng = random.Random(5)
    async with sandbox.http:
        for _ in range(200):
            await sandbox.get("/people")
            sandbox.clock.advance(rng.uniform(0, 0.2))
        report = (await sandbox.http.get("/_sandbox/calls")).json()
    calls = report["calls"]
    assert max_calls_in_window(calls, 5, admitted_only=True) == 30
    assert max_calls_in_window(calls, 5) > 30  # the refused ones were sent all the same
    assert report["max_in_window"]["sandbox-client"]["admitted"] == 30
    assert (report["limit"], report["window_seconds"]) == (30, 5)


# --- faults ------------------------------------------------------------------------------


async def test_error_rate_is_seeded_and_logged_as_a_fault() -> None:
    statuses = []
    for _ in range(2):
        sandbox = Plutio(PlutioSandboxConfig(error_rate=0.3))
        async with sandbox.http:
            await sandbox.headers()
            run = [(await sandbox.get("/people")).status_code for _ in range(60)]
            faults = {c["fault"] for c in await sandbox.calls() if c["status"] != 200}
        statuses.append(run)
        assert faults == {"error_rate"}
    assert statuses[0] == statuses[1]
    errors = [s for s in statuses[0] if s != 200]
    assert 8 <= len(errors) <= 30 and set(errors) <= {500, 502, 503, 504}


async def test_scripted_answers_then_pass_through(sb: Plutio) -> None:
    setting = {"scripts": [{"method": "POST", "path": "/people", "answers": [500, 500]}]}
    assert (await sb.http.post("/_sandbox/faults", json=setting)).status_code == 200
    assert (await sb.get("/people")).status_code == 200
    statuses = [(await sb.send("POST", "/people", {})).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert len((await sb.get("/people")).json()) == 1
    assert [c["fault"] for c in await sb.calls() if c["method"] == "POST"][-3:] == [
        "script",
        "script",
        None,
    ]


async def test_storms_answer_429_with_retry_after(sb: Plutio) -> None:
    await sb.headers()
    await sb.http.post("/_sandbox/faults", json={"storm": {"count": 2, "retry_after": 7}})
    first = await sb.get("/people")
    assert first.status_code == 429 and first.headers["Retry-After"] == "7"
    assert first.headers["X-Sandbox-Fault"] == "storm"
    assert (await sb.get("/people")).status_code == 429
    assert (await sb.get("/people")).status_code == 200
    await sb.http.post("/_sandbox/faults", json={"storm": {"seconds": 10, "retry_after": 2}})
    assert (await sb.get("/people")).status_code == 429
    sb.clock.advance(10)
    assert (await sb.get("/people")).status_code == 200
    storm_calls = [c for c in await sb.calls() if c["fault"] == "storm"]
    assert len(storm_calls) == 3 and not any(c["quota_refused"] for c in storm_calls)


async def test_latency_delays_answers() -> None:
    sandbox = Plutio(PlutioSandboxConfig(latency_ms=60), real_clock=True)
    async with sandbox.http:
        started = time.monotonic()
        await sandbox.token()
        assert time.monotonic() - started >= 0.06
        (call,) = await sandbox.calls()
        assert call["duration"] >= 0.06


async def test_latency_range_on_the_fake_clock(sb: Plutio) -> None:
    await sb.http.post("/_sandbox/faults", json={"latency_ms": 100, "latency_max_ms": 300})
    before = sb.clock.monotonic()
    await sb.token()
    await sb.get("/people")
    durations = [c["duration"] for c in await sb.calls()]
    assert all(0.1 <= d <= 0.3 for d in durations) and durations[0] != durations[1]
    assert sb.clock.monotonic() - before == pytest.approx(sum(durations))


async def test_dropped_connection_in_process(sb: Plutio) -> None:
    await sb.headers()
    await sb.http.post("/_sandbox/faults", json={"scripts": [{"answers": [{"drop": True}]}]})
    with pytest.raises(httpx.TransportError):
        await sb.get("/people")
    assert (await sb.get("/people")).status_code == 200
    dropped = (await sb.calls())[-2]
    assert (dropped["status"], dropped["fault"]) == (None, "script")


def test_dropped_connection_over_a_real_socket() -> None:
    app = create_app(PlutioSandboxConfig(drop_rate=1.0, random_seed=1))
    with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url, timeout=5) as client:
        with pytest.raises(httpx.TransportError):
            client.post("/oauth/token", data=CREDS)
        client.post("/_sandbox/faults", json={"drop_rate": 0})
        assert client.post("/oauth/token", data=CREDS).status_code == 200
        calls = client.get("/_sandbox/calls").json()["calls"]
    assert [(c["status"], c["fault"]) for c in calls] == [(None, "drop"), (200, None)]


async def test_bad_fault_settings_are_400(sb: Plutio) -> None:
    response = await sb.http.post("/_sandbox/faults", json={"error_rate": 3})
    assert response.status_code == 400 and "error_rate" in response.json()["message"]


# --- control routes ----------------------------------------------------------------------


async def test_control_routes_are_neither_logged_nor_metered() -> None:
    sandbox = Plutio(PlutioSandboxConfig(quota_limit=1))
    async with sandbox.http:
        for _ in range(5):
            assert (await sandbox.http.get("/_sandbox/state")).status_code == 200
        await sandbox.token()
        assert len(await sandbox.calls()) == 1
        quota = (await sandbox.http.get("/_sandbox/quota")).json()
        assert quota["sandbox-client"]["remaining"] == 0


async def test_seed_state_and_reset() -> None:
    config = PlutioSandboxConfig(initial_data={"companies": [{"_id": "c1", "name": "Acme"}]})
    sandbox = Plutio(config)
    async with sandbox.http:
        await sandbox.seed({"people": [{"_id": "p1", "name": {"first": "A"}}]})
        state = (await sandbox.http.get("/_sandbox/state")).json()
        assert set(state) == {"companies", "people"} and state["people"][0]["_id"] == "p1"
        assert (await sandbox.http.get("/_sandbox/state/people")).json() == state["people"]
        assert (await sandbox.http.get("/_sandbox/state/nope")).status_code == 404
        assert (await sandbox.http.post("/_sandbox/seed", json={"nope": [{}]})).status_code == 404
        assert (await sandbox.http.post("/_sandbox/seed", json={"people": 1})).status_code == 400
        token = (await sandbox.headers())["Authorization"]
        await sandbox.http.post("/_sandbox/faults", json={"error_rate": 1})
        assert (await sandbox.http.post("/_sandbox/reset")).status_code == 200
        assert (await sandbox.http.get("/_sandbox/state")).json() == {
            "companies": [state["companies"][0]]
        }
        assert await sandbox.calls() == []
        assert (await sandbox.http.get("/_sandbox/faults")).json()["error_rate"] == 0
        gone = await sandbox.http.get(
            "/people", headers={"Authorization": token, "Business": "sandbox"}
        )
        assert gone.status_code == 401


async def test_calls_since(sb: Plutio) -> None:
    await sb.token()
    report = (await sb.http.get("/_sandbox/calls")).json()
    await sb.token()
    later = (await sb.http.get("/_sandbox/calls", params={"since": report["last_seq"]})).json()
    assert [c["seq"] for c in later["calls"]] == [report["last_seq"] + 1]
    call = later["calls"][0]
    assert {"t", "wall", "method", "path", "client_id", "status", "quota_refused"} <= set(call)
    assert (await sb.http.get("/_sandbox/calls", params={"since": "x"})).status_code == 400


async def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.plutio.sandbox import create_app_from_env

    monkeypatch.setenv("PLUTIO_SANDBOX_QUOTA_LIMIT", "2")
    monkeypatch.setenv("PLUTIO_SANDBOX_QUOTA_WINDOW_SECONDS", "60")
    monkeypatch.setenv("PLUTIO_SANDBOX_TOKEN_TTL_SECONDS", "120")
    monkeypatch.setenv("PLUTIO_SANDBOX_ERROR_RATE", "0")
    monkeypatch.setenv("PLUTIO_SANDBOX_LATENCY_MS", "0")
    monkeypatch.setenv("PLUTIO_SANDBOX_CLIENT_SECRET", "from-env")
    app = create_app_from_env()
    config = app.state.config
    assert (config.quota_limit, config.quota_window_seconds) == (2, 60)
    assert config.token_ttl_seconds == 120
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://plutio.test") as http:
        assert (await http.post("/oauth/token", data=CREDS)).status_code == 401
        good = {**CREDS, "client_secret": "from-env"}
        assert (await http.post("/oauth/token", data=good)).status_code == 200
        assert (await http.post("/oauth/token", data=good)).status_code == 429
