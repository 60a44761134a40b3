"""A sandbox with its upstream's own shapes: rate headers, refusals, errors, record names."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.sandbox.clock import FakeClock
from hub.sandbox.control import control_mount
from hub.sandbox.core import SandboxCore
from hub.sandbox.gate import Gate
from hub.sandbox.inputs import BadInput, read_object
from hub.sandbox.quota import QuotaDecision
from hub.sandbox.records import Naming, RecordTable

pytestmark = pytest.mark.anyio

NAMING = Naming(id="uuid", created="made", updated=None)


def _app() -> tuple[Starlette, SandboxCore]:
    core = SandboxCore.build(
        clock=FakeClock(),
        rng=random.Random(3),
        resources={"things"},
        default_namespace="ws",
        quota_limit=1,
        quota_window_seconds=10,
    )
    table = RecordTable(core.store, "things", core.rng, naming=NAMING)

    async def identify(request: Request) -> str | None:
        return request.headers.get("x-key")

    async def api(request: Request, client: str | None) -> Response:
        try:
            if request.method == "POST":
                return JSONResponse(table.create("ws", await read_object(request)), 201)
        except BadInput as exc:
            return JSONResponse({"oops": exc.message}, exc.status)
        return JSONResponse(table.list("ws"))

    def headers(decision: QuotaDecision) -> Mapping[str, str]:
        return {"X-Left": str(decision.remaining)} if decision.allowed else {}

    def refused(decision: QuotaDecision) -> Response:
        return JSONResponse(
            {"detail": "slow down"}, 429, headers={"Retry-After": decision.retry_after_header}
        )

    def error(status: int, message: str | None, extra: dict[str, str] | None) -> Response:
        return JSONResponse({"oops": message or "broken"}, status, headers=extra)

    gate = Gate(core, identify, rate_headers=headers, refused=refused, error=error)
    app = Starlette(
        routes=[
            control_mount(
                core,
                present=lambda _r, rec: NAMING.present(rec),
                accept=lambda _r, rec: NAMING.stored(rec),
            ),
            Route("/things", gate.endpoint(api), methods=["GET", "POST"]),
        ]
    )
    return app, core


@pytest.fixture
async def styled() -> AsyncIterator[tuple[httpx.AsyncClient, SandboxCore]]:
    app, core = _app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://styled.test") as http:
        yield http, core


async def test_own_rate_headers_and_refusal(
    styled: tuple[httpx.AsyncClient, SandboxCore],
) -> None:
    http, _ = styled
    first = await http.get("/things", headers={"X-Key": "k"})
    assert first.headers["X-Left"] == "0" and "X-RateLimit-Limit" not in first.headers
    second = await http.get("/things", headers={"X-Key": "k"})
    assert second.status_code == 429 and second.json() == {"detail": "slow down"}
    assert second.headers["Retry-After"] == "10" and "X-Left" not in second.headers


async def test_injected_errors_take_the_sandbox_shape(
    styled: tuple[httpx.AsyncClient, SandboxCore],
) -> None:
    http, _ = styled
    await http.post("/_sandbox/faults", json={"scripts": [{"answers": [502]}]})
    response = await http.get("/things")
    assert response.status_code == 502 and response.json() == {"oops": "broken"}


async def test_records_shown_and_seeded_in_the_api_names(
    styled: tuple[httpx.AsyncClient, SandboxCore],
) -> None:
    http, core = styled
    made = (await http.post("/things", json={"uuid": "mine", "made": "x", "n": 1})).json()
    assert set(made) == {"uuid", "made", "n"} and made["uuid"] != "mine" and made["n"] == 1
    seeded = (await http.post("/_sandbox/seed", json={"things": [{"uuid": "s1", "n": 2}]})).json()
    assert seeded["things"][0]["uuid"] == "s1"
    assert core.store.get("ws", "things", "s1") is not None
    state = (await http.get("/_sandbox/state/things")).json()
    assert [t["uuid"] for t in state] == [made["uuid"], "s1"]
    assert all("_id" not in t and "updatedAt" not in t for t in state)
    bad = await http.post("/things", content=b"[1]", headers={"X-Key": "other"})
    assert bad.status_code == 400 and bad.json() == {"oops": "the body must be a JSON object"}
