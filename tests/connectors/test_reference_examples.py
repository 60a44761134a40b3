"""Each reference's own example requests, sent as the reference writes them to the strict
sandbox (which answers only what the reference documents), and the connector's own
requests checked against them. The references are in ``shared/reference``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, quote

import httpx
import pytest
import redis
from pydantic import SecretStr

from connectors.plane.sandbox import PlaneSandboxConfig
from connectors.plane.sandbox import create_app as plane_app
from connectors.plutio.api import PlutioApi, build_api, query_params
from connectors.plutio.sandbox import PlutioSandboxConfig
from connectors.plutio.sandbox import create_app as plutio_app
from connectors.plutora.api import build_api as plutora_api
from connectors.plutora.sandbox import PlutoraSandboxConfig
from connectors.plutora.sandbox import create_app as plutora_app
from connectors.plutora.settings import PlutoraSettings
from hub.core.settings import Settings
from hub.sandbox import strict_sandboxes
from tests.connectors.plutio.conftest import plutio_settings
from tests.support.sandboxes import Served, serve

HUB = Settings()


@pytest.fixture(scope="module", autouse=True)
def sandbox_mode() -> Iterator[str]:
    """Against the strict sandboxes only: the examples are the reference's."""
    with strict_sandboxes():
        yield "strict"


# --- Plutio --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plutio() -> Iterator[Served]:
    with serve(plutio_app(PlutioSandboxConfig())) as served:
        yield served


def _plutio_token(url: str) -> dict[str, str]:
    """The reference's token request example: ``POST /oauth/token``, form-encoded
    ``grant_type=client_credentials``, ``client_id``, ``client_secret``; then the two
    headers every call needs."""
    answer = httpx.post(
        f"{url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
        },
    )
    assert answer.status_code == 200, answer.text
    token = answer.json().get("accessToken") or answer.json()["access_token"]
    return {"Authorization": f"Bearer {token}", "business": "sandbox"}


def test_plutio_examples_key_filters_q_and_paging(plutio: Served) -> None:
    plutio.control("POST", "reset")
    people = [
        {"name": {"first": "leo", "last": "Smith"}},
        {"name": {"first": "John", "last": "Roe"}},
        {"name": {"first": "Jane", "last": "Doe"}},
        {"name": {"first": "Ann", "last": "Poe"}},
    ]
    plutio.control("POST", "seed", {"people": people})
    plutio.control("POST", "seed", {"tasks": [{"title": f"t{n}"} for n in range(100)]})
    headers = _plutio_token(plutio.url)
    leo = httpx.get(f"{plutio.url}/people?name.first=leo", headers=headers).json()
    assert [p["name"]["last"] for p in leo] == ["Smith"]
    example_q = '{"$or":[{"name.first": "John" }, { "name.last": "Doe" }]}'
    either = httpx.get(f"{plutio.url}/people?q={quote(example_q)}", headers=headers).json()
    assert sorted(p["name"]["first"] for p in either) == ["Jane", "John"]
    tasks = httpx.get(f"{plutio.url}/tasks?skip=20&limit=50", headers=headers).json()
    assert [t["title"] for t in tasks] == [f"t{n}" for n in range(20, 70)]  # tasks 21..70
    # the connector writes its queries the same two ways, and nothing else
    assert query_params({"name.first": "leo"}, None) == {"name.first": "leo"}
    assert query_params(None, json.loads(example_q)) == {
        "q": '{"$or":[{"name.first":"John"},{"name.last":"Doe"}]}'
    }


def test_plutio_connector_requests_match_the_examples(
    plutio: Served, redis_client: redis.Redis
) -> None:
    plutio.control("POST", "reset")
    plutio.control("POST", "seed", {"people": [{"name": {"first": "leo"}}]})
    sent: list[httpx.Request] = []
    transport = _Recording(sent)
    api: PlutioApi = build_api(plutio_settings(plutio.url), HUB, redis_client, transport=transport)
    assert len(api.find("people", {"name.first": "leo"})) == 1
    token, find = sent
    assert token.method == "POST" and token.url.path == "/oauth/token"
    assert token.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token.content.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": ["sandbox-client"],
        "client_secret": ["sandbox-secret"],
    }
    assert find.url.path == "/people" and find.headers["business"] == "sandbox"
    assert find.headers["authorization"].startswith("Bearer ")
    assert set(parse_qs(find.url.query.decode())) == {"name.first", "skip", "limit"}


class _Recording(httpx.HTTPTransport):
    """A real transport that keeps every request it sends."""

    def __init__(self, sent: list[httpx.Request]) -> None:
        super().__init__()
        self.sent = sent

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.sent.append(request)
        return super().handle_request(request)


# --- Plane ---------------------------------------------------------------------------


def test_plane_examples_cursor_pages_fields_and_expand() -> None:
    with serve(plane_app(PlaneSandboxConfig(quota_limit=100))) as plane:
        key = {"X-API-Key": "plane_api_sandbox"}
        base = f"{plane.url}/api/v1/workspaces/sandbox/projects"
        project = httpx.post(f"{base}/", json={"name": "Ops", "identifier": "OPS"}, headers=key)
        pid = project.json()["id"]
        items = [{"name": f"i{n}", "project": pid} for n in range(1000)]
        plane.control("POST", "seed", {"work-items": items})
        first = httpx.get(f"{base}/{pid}/work-items/?per_page=20", headers=key).json()
        assert {k: v for k, v in first.items() if k != "results"} == {
            "next_cursor": "20:1:0",
            "prev_cursor": "",
            "next_page_results": True,
            "prev_page_results": False,
            "count": 20,
            "total_pages": 50,
            "total_results": 1000,
            "extra_stats": {},
        }
        # the reference's next-page example has no trailing slash; Plane's paths end with one
        url = f"{base}/{pid}/work-items/?per_page=20&cursor=20:1:0"
        second = httpx.get(url, headers=key).json()
        assert (second["next_cursor"], second["prev_cursor"]) == ("20:2:0", "20:0:1")
        assert second["prev_page_results"] is True and second["count"] == 20
        assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}
        url = f"{base}/{pid}/work-items/?fields=id,name,description"
        shown = httpx.get(url, headers=key).json()
        assert set(shown["results"][0]) <= {"id", "name", "description"}
        wrong = httpx.get(f"{base}/{pid}/work-items/?fields=id,nonsense", headers=key)
        assert wrong.status_code == 400  # "will result in an error response"
        made = httpx.post(f"{base}/{pid}/work-items/", json={"name": "new"}, headers=key).json()
        url = f"{base}/{pid}/work-items/{made['id']}/?expand=assignees,state"
        expanded = httpx.get(url, headers=key).json()
        assert expanded["state"]["group"] == "unstarted" and expanded["assignees"] == []
        wrong = httpx.get(f"{base}/{pid}/work-items/?expand=name", headers=key)
        assert wrong.status_code == 400  # "cannot be expanded": an error


# --- Plutora -------------------------------------------------------------------------


def test_plutora_example_token_request_and_me(redis_client: redis.Redis) -> None:
    with serve(plutora_app(PlutoraSandboxConfig())) as plutora:
        # the setup reference: form-encoded client_id, client_secret, grant_type=password
        # (the word), username and password; the Headers tab blank
        form = {
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
            "grant_type": "password",
            "username": "sandbox@example.com",
            "password": "sandbox-password",
        }
        answer = httpx.post(f"{plutora.url}/oauth/token", data=form)
        assert answer.status_code == 200 and "access_token" in answer.json()
        bearer = {"Authorization": f"bearer {answer.json()['access_token']}"}
        me = httpx.get(f"{plutora.url}/me", headers=bearer).json()
        assert me["email"] == "sandbox@example.com"  # "Your email address should appear."
        stale = httpx.post(f"{plutora.url}/oauth/token", data=form, headers=bearer)
        assert stale.status_code == 400  # a Headers tab not blank: an error instead

        sent: list[httpx.Request] = []
        settings = PlutoraSettings(
            auth_url=f"{plutora.url}/oauth/token",
            base_url=plutora.url,
            client_id="sandbox-client",
            client_secret=SecretStr("sandbox-secret"),
            username="sandbox@example.com",
            password=SecretStr("sandbox-password"),
        )
        api = plutora_api(settings, HUB, redis_client, transport=_Recording(sent))
        assert api.me()["email"] == "sandbox@example.com"
        token, call = sent
        assert token.url.path == "/oauth/token" and "authorization" not in token.headers
        assert token.headers["content-type"] == "application/x-www-form-urlencoded"
        assert {k: v[0] for k, v in parse_qs(token.content.decode()).items()} == form
        assert call.url.path == "/me" and call.headers["authorization"].startswith("Bearer ")
