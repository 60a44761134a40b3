"""The gate and control routes, on a minimal sandbox built from the kit alone."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

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
from hub.sandbox.rest import MongoRest, resource_table

pytestmark = pytest.mark.anyio


def _app() -> tuple[Starlette, SandboxCore]:
    """An API-key sandbox, as a Plane-like upstream would be built."""
    clock = FakeClock()
    specs = resource_table({"items": "list create update delete"})
    core = SandboxCore.build(
        clock=clock,
        rng=random.Random(1),
        resources=specs,
        default_namespace="ws",
        quota_limit=2,
        quota_window_seconds=60,
    )
    rest = MongoRest(core.store, specs, default_limit=10)

    async def identify(request: Request) -> str | None:
        return request.headers.get("x-api-key")

    async def api(request: Request, client: str | None) -> Response:
        if request.url.path == "/boom":
            raise RuntimeError("handler bug")
        if client is None:
            return JSONResponse({"detail": "no key"}, status_code=401)
        return await rest.dispatch(request, "ws")

    gate = Gate(core, identify)
    app = Starlette(
        routes=[
            control_mount(core),
            Route("/{path:path}", gate.endpoint(api), methods=["GET", "POST", "PUT", "DELETE"]),
        ]
    )
    return app, core


@pytest.fixture
async def kit() -> AsyncIterator[tuple[httpx.AsyncClient, SandboxCore]]:
    app, core = _app()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://kit.test") as http:
        yield http, core


async def test_unidentified_calls_are_logged_but_not_metered(
    kit: tuple[httpx.AsyncClient, SandboxCore],
) -> None:
    http, core = kit
    for _ in range(3):
        response = await http.get("/items")
        assert response.status_code == 401
        assert "X-RateLimit-Limit" not in response.headers
    assert [(r.client_id, r.status) for r in core.calls.records()] == [(None, 401)] * 3


async def test_metering_is_per_key(kit: tuple[httpx.AsyncClient, SandboxCore]) -> None:
    http, _ = kit
    a, b = {"X-API-Key": "a"}, {"X-API-Key": "b"}
    assert (await http.post("/items", json={"n": 1}, headers=a)).status_code == 200
    assert (await http.get("/items", headers=a)).headers["X-RateLimit-Remaining"] == "0"
    assert (await http.get("/items", headers=a)).status_code == 429
    assert (await http.get("/items", headers=b)).status_code == 200


async def test_a_handler_failure_is_logged_as_500(
    kit: tuple[httpx.AsyncClient, SandboxCore],
) -> None:
    http, core = kit
    response = await http.get("/boom", headers={"X-API-Key": "a"})
    assert response.status_code == 500
    assert core.calls.records()[-1].status == 500


async def test_scripted_body_and_retry_after(kit: tuple[httpx.AsyncClient, SandboxCore]) -> None:
    http, _ = kit
    script = {"path": "/items", "answers": [{"status": 503, "retry_after": 2.2, "body": {"x": 1}}]}
    await http.post("/_sandbox/faults", json={"scripts": [script]})
    response = await http.get("/items", headers={"X-API-Key": "a"})
    assert response.status_code == 503 and response.json() == {"x": 1}
    assert response.headers["Retry-After"] == "3"
    faults = (await http.get("/_sandbox/faults")).json()
    assert faults["scripts"][0]["answers"] == []
    await http.delete("/_sandbox/faults")
    assert (await http.get("/_sandbox/faults")).json()["scripts"] == []


async def test_scripted_message_in_the_sandboxs_error_shape(
    kit: tuple[httpx.AsyncClient, SandboxCore],
) -> None:
    http, _ = kit
    script = {"path": "/items", "answers": [{"status": 409, "message": "taken"}, 404]}
    await http.post("/_sandbox/faults", json={"scripts": [script]})
    first = await http.get("/items", headers={"X-API-Key": "a"})
    assert first.status_code == 409 and first.json() == {"code": 409, "message": "taken"}
    second = await http.get("/items", headers={"X-API-Key": "a"})
    assert second.json() == {"code": 404, "message": "Not Found"}


async def test_seed_into_a_namespace(kit: tuple[httpx.AsyncClient, SandboxCore]) -> None:
    http, core = kit
    await http.post("/_sandbox/seed?namespace=other", json={"items": [{"_id": "i1"}]})
    assert core.store.dump("other") == {"items": [core.store.get("other", "items", "i1")]}
    assert (await http.get("/_sandbox/state")).json() == {}
    assert (await http.post("/_sandbox/seed", content=b"{bad")).status_code == 400
