"""The ingress over HTTP, on the session Redis: every answer a sender can get."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from hub.core.errors import ConfigError
from hub.core.redis_server import RedisServer
from hub.intake import signatures as sig

from .conftest import SECRET, queued, write_source, write_workflow

CRM = """\
auth: { scheme: standard-webhooks, secret: "{{ secrets.CRM_SIGNING_KEY }}" }
event_type: { header: X-Event-Type, path: type }
event_id: { header: webhook-id, path: id, required: true }
max_body_bytes: 2048
"""
SIGNER = sig.StandardWebhooks((sig.standard_webhooks_key(SECRET),))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_workflow(tmp_path, "contact-created", "crm", "contact.created")
    write_workflow(
        tmp_path, "contact-vip", "crm", "contact.*", condition="{{ event.data.first == 'VIP' }}"
    )
    write_source(tmp_path, "crm", CRM)
    return tmp_path


#: the admin token of the ``client`` fixture's ingress, as its views need it
TOKEN = "t0k"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(make_client: Callable[..., TestClient], folder: Path) -> TestClient:
    return make_client(folder, hub_ingress_admin_token=TOKEN)


def _post(
    client: TestClient,
    body: Any,
    *,
    event_id: str = "evt-1",
    when: float | None = None,
    headers: dict[str, str] | None = None,
    source: str = "crm",
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signed = SIGNER.sign(raw, event_id, time.time() if when is None else when)
    all_headers = {"Content-Type": "application/json", **signed, **(headers or {})}
    return client.post(f"/hooks/{source}", content=raw, headers=all_headers)


EVENT = {"type": "contact.created", "data": {"first": "Ada"}}


def test_a_signed_event_is_accepted_with_its_run_in_the_broker(
    client: TestClient, redis_client: redis.Redis
) -> None:
    answer = _post(client, EVENT)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["event_id"] == "evt-1" and body["duplicate"] is False
    assert [r["workflow"] for r in body["runs"]] == ["contact-created"]
    assert body["skipped"] == [{"workflow": "contact-vip", "reason": "if: false"}]
    (message,) = queued(redis_client)
    assert message["headers"]["shadow"] == "contact-created.person"
    context = message["body"][0][0]
    assert context["event"] == EVENT and context["run_id"] == body["runs"][0]["run_id"]


def test_a_redelivery_is_a_duplicate_and_starts_nothing(
    client: TestClient, redis_client: redis.Redis
) -> None:
    first = _post(client, EVENT).json()
    again = _post(client, {**EVENT, "data": {"first": "Changed"}})
    assert again.status_code == 200
    assert again.json() == {**first, "duplicate": True}
    assert len(queued(redis_client)) == 1


def test_an_event_no_workflow_wants_is_accepted_recorded_and_visible(
    client: TestClient, redis_client: redis.Redis
) -> None:
    answer = _post(client, {"type": "invoice.paid"}, event_id="evt-9")
    assert answer.status_code == 202 and answer.json()["runs"] == []
    assert queued(redis_client) == []
    recent = client.get("/events", headers=ADMIN).json()["events"]
    assert [e["event_id"] for e in recent] == ["evt-9"]
    one = client.get("/events/crm/evt-9", headers=ADMIN)
    assert one.status_code == 200 and one.json()["event_type"] == "invoice.paid"
    assert client.get("/events/crm/other", headers=ADMIN).status_code == 404


def test_a_replayed_old_delivery_is_refused(client: TestClient) -> None:
    answer = _post(client, EVENT, when=time.time() - 3600)
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "authentication failed: webhook-timestamp is more than "
        "300 s away from the hub's clock (a replayed or delayed delivery,"
        " or a sender clock out of sync)"
    }


def test_a_forged_or_unsigned_delivery_is_refused(client: TestClient) -> None:
    forged = _post(client, EVENT, headers={"webhook-signature": "v1,AAAA"})
    unsigned = client.post("/hooks/crm", json=EVENT)
    assert forged.status_code == unsigned.status_code == 401
    assert "webhook-signature" in forged.json()["error"]
    assert SECRET[6:] not in forged.text


def test_a_body_over_the_limit_is_413(client: TestClient) -> None:
    big = {**EVENT, "pad": "x" * 3000}
    assert _post(client, big).status_code == 413
    streamed = client.post(
        "/hooks/crm",
        content=iter([b"{", b" " * 3000, b"}"]),
        headers={"Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    assert "2048 bytes" in streamed.json()["error"]


def test_content_and_event_errors_are_clear(client: TestClient) -> None:
    cases = [
        (b"a=1", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "not JSON"),
        (b"{not json", {}, 400, "not valid JSON"),
        (b"", {}, 400, "body is empty"),
        (json.dumps({"data": {}}).encode(), {}, 400, "X-Event-Type header or a 'type' field"),
    ]
    for body, headers, status, words in cases:
        answer = _post(client, body, headers=headers)
        assert answer.status_code == status, (body, answer.text)
        assert words in answer.json()["error"]


def test_every_refused_delivery_is_logged_with_its_reason(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # uvicorn's access log is off: these lines are how an operator sees refusals; failed
    # authentication is summed up once per window (tests/hub/ingress/test_auth_failures.py)
    caplog.set_level(logging.INFO, logger="hub.ingress")
    _post(client, EVENT, headers={"webhook-signature": "v1,AAAA"})
    _post(client, {**EVENT, "pad": "x" * 3000})
    client.post("/hooks/nope", json=EVENT)
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 2, refused
    assert refused[0].startswith("POST /hooks/crm refused with 413: ")
    assert refused[1].startswith("POST /hooks/nope refused with 404: ")


def test_unknown_source_path_and_method_answer_json(client: TestClient) -> None:
    unknown = client.post("/hooks/nope", json=EVENT)
    assert unknown.status_code == 404 and "unknown source 'nope'" in unknown.json()["error"]
    assert client.get("/nothing-here").json()["error"].startswith("no such endpoint")
    wrong = client.put("/hooks/crm", json=EVENT)
    assert wrong.status_code == 405 and "PUT is not allowed" in wrong.json()["error"]
    get = client.get("/hooks/crm")
    assert get.status_code == 405 and get.headers["allow"] == "POST"
    assert "answers only a verification handshake" in get.json()["error"]


def test_sources_and_workflows_views(client: TestClient) -> None:
    sources = client.get("/sources", headers=ADMIN).json()["sources"]
    assert sources == [
        {
            "name": "crm",
            "auth": "standard-webhooks",
            "configured": True,
            "max_body_bytes": 2048,
            "dedupe_seconds": 86400,
        }
    ]
    assert {w["name"] for w in client.get("/workflows", headers=ADMIN).json()["workflows"]} == {
        "contact-created",
        "contact-vip",
    }
    assert client.get("/openapi.json").json()["paths"]["/hooks/{source}"]["post"]


ADMIN_VIEWS = ["/events", "/events/crm/evt-1", "/workflows", "/sources", "/metrics"]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "0.0.0.0"])
def test_views_need_the_admin_token_whatever_the_bind_address(
    make_client: Callable[..., TestClient], folder: Path, host: str
) -> None:
    closed = make_client(folder, hub_ingress_host=host)
    for path in ADMIN_VIEWS:
        answer = closed.get(path)
        assert answer.status_code == 401, path
        assert "HUB_INGRESS_ADMIN_TOKEN" in answer.json()["error"]
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert closed.get("/healthz").status_code == 200
    assert closed.get("/openapi.json").status_code == 200
    guarded = make_client(folder, hub_ingress_host=host, hub_ingress_admin_token="t0k")
    assert guarded.get("/events").status_code == 401
    assert guarded.get("/events", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert guarded.get("/events", headers={"Authorization": "Bearer t0k"}).status_code == 200


def test_forwarded_headers_never_open_the_views(
    make_client: Callable[..., TestClient], folder: Path
) -> None:
    client = make_client(folder, hub_trusted_proxies="127.0.0.0/8", peer=("127.0.0.1", 4711))
    spoofed = {"X-Forwarded-For": "127.0.0.1", "Forwarded": "for=127.0.0.1", "Host": "localhost"}
    for path in ADMIN_VIEWS:
        assert client.get(path, headers=spoofed).status_code == 401, path


def test_local_mode_opens_the_views_without_a_token(
    make_client: Callable[..., TestClient], folder: Path
) -> None:
    local = make_client(folder, hub_local_mode=True)
    assert local.get("/events").status_code == 200
    assert local.get("/sources").status_code == 200
    # a token set is asked for even in local mode
    guarded = make_client(folder, hub_local_mode=True, hub_ingress_admin_token="t0k")
    assert guarded.get("/events").status_code == 401


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", appendonly=False).start()
    yield server
    server.stop()


def test_redis_down_is_503_with_retry_after_never_2xx(
    make_client: Callable[..., TestClient], folder: Path, own_redis: RedisServer
) -> None:
    client = make_client(folder, redis_url=own_redis.url, hub_ingress_admin_token=TOKEN)
    assert _post(client, EVENT, event_id="before").status_code == 202
    own_redis.stop()
    for event_id in ("during-1", "during-2"):
        answer = _post(client, EVENT, event_id=event_id)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "5"
        assert "retry later" in answer.json()["error"]
    health = client.get("/healthz")
    assert health.status_code == 503 and health.headers["Retry-After"] == "5"
    assert client.get("/events", headers=ADMIN).status_code == 503


def test_a_source_without_a_file_refuses_to_start_the_ingress(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    write_workflow(tmp_path, "shop-order", "shop", "order.*")
    with pytest.raises(ConfigError) as caught:
        make_client(tmp_path, hub_ingress_host="127.0.0.1")
    message = str(caught.value)
    assert "source 'shop' has workflows but no file" in message
    assert str(tmp_path / "sources" / "shop.yaml") in message
    assert "auth: {scheme: none}" in message


def test_local_mode_takes_unconfigured_sources_without_auth(
    make_client: Callable[..., TestClient], tmp_path: Path, redis_client: redis.Redis
) -> None:
    write_workflow(tmp_path, "shop-order", "shop", "order.*")
    client = make_client(tmp_path, hub_local_mode=True)
    answer = client.post("/hooks/shop", json={"type": "order.placed", "id": 42})
    assert answer.status_code == 202 and answer.json()["event_id"] == "42"
    assert client.post("/hooks/shop", json={"type": "order.placed", "id": 42}).status_code == 200
    unnamed = client.post("/hooks/shop", json={"type": "order.placed"}, headers={})
    assert unnamed.status_code == 202 and len(unnamed.json()["event_id"]) == 32
    listed = client.post("/hooks/shop", json={"type": "order.placed", "id": ["x"]})
    assert listed.status_code == 400 and "string or an integer" in listed.json()["error"]


def test_redis_out_of_memory_is_503_not_500(
    make_client: Callable[..., TestClient], folder: Path, own_redis: RedisServer
) -> None:
    client = make_client(folder, redis_url=own_redis.url)
    admin = redis.Redis.from_url(own_redis.url)
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")
    answer = _post(client, EVENT, event_id="oom")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    admin.config_set("maxmemory", "0")
    assert _post(client, EVENT, event_id="oom").status_code == 202


@pytest.mark.parametrize("local", [False, True])
def test_the_hubs_own_source_cannot_be_posted_to(
    make_client: Callable[..., TestClient],
    tmp_path: Path,
    redis_client: redis.Redis,
    local: bool,
) -> None:
    # an alert workflow listens to source `hub`: it needs no file, even outside local
    # mode, and nobody outside can forge its events
    write_workflow(tmp_path, "alert", "hub", "run.failed")
    client = make_client(tmp_path, hub_local_mode=local)
    before = redis_client.llen("hub")
    forged = {"type": "run.failed", "id": "x", "workflow": "payroll"}
    answer = client.post("/hooks/hub", json=forged, headers={"X-Event-Type": "run.failed"})
    assert answer.status_code == 403
    assert "the hub's own events" in answer.json()["error"]
    assert client.get("/hooks/hub").status_code == 403
    assert redis_client.llen("hub") == before  # nothing started
