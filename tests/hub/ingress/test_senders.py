"""Real senders over HTTP, on the session Redis: HubSpot batches signed by HubSpot's own
library, Pipedrive's Basic auth, Slack's, Zoom's and Meta's handshakes, a batch Redis
cannot take."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
import redis
from hubspot.utils.signature import Signature as HubSpotSignature
from slack_sdk.signature import SignatureVerifier
from starlette.testclient import TestClient

from .conftest import queued, write_source

HUBSPOT_SECRET = "hubspot-client-secret"
HUBSPOT = 'preset: hubspot\nsecret: "{{ secrets.HUBSPOT_CLIENT_SECRET }}"\n'
CONTACT = """\
name: {name}
trigger: {{ webhook: {{ source: {source}, event: "{event}" }} }}
steps:
  - {{ id: log, uses: core.log, with: {{ message: "{{{{ event.objectId }}}}" }} }}
"""
SECRETS = {
    "HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
    "PIPEDRIVE_BASIC": "hub:pipedrive-pass",
    "SLACK_SIGNING_SECRET": "slack-signing-secret",
    "ZOOM_SECRET_TOKEN": "zoom-secret-token",
    "META_APP_SECRET": "meta-app-secret",
    "META_VERIFY_TOKEN": "meta-verify-token",
}


def _workflow(folder: Path, name: str, source: str, event: str) -> None:
    (folder / f"{name}.yaml").write_text(CONTACT.format(name=name, source=source, event=event))


#: the admin token of the ``client`` fixture's ingress, which its views need
TOKEN = "t0k"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(make_client: Callable[..., TestClient], tmp_path: Path) -> TestClient:
    _workflow(tmp_path, "hubspot-contact", "hubspot", "contact.creation")
    _workflow(tmp_path, "pipedrive-person", "pipedrive", "person.*")
    _workflow(tmp_path, "slack-any", "slack", "*")
    _workflow(tmp_path, "zoom-any", "zoom", "*")
    write_source(tmp_path, "hubspot", HUBSPOT)
    write_source(
        tmp_path, "pipedrive", 'preset: pipedrive\nsecret: "{{ secrets.PIPEDRIVE_BASIC }}"\n'
    )
    write_source(tmp_path, "slack", 'preset: slack\nsecret: "{{ secrets.SLACK_SIGNING_SECRET }}"\n')
    write_source(tmp_path, "zoom", 'preset: zoom\nsecret: "{{ secrets.ZOOM_SECRET_TOKEN }}"\n')
    write_source(
        tmp_path,
        "meta",
        'preset: github\nsecret: "{{ secrets.META_APP_SECRET }}"\n'
        'handshakes: [ { kind: hub-challenge, token: "{{ secrets.META_VERIFY_TOKEN }}" } ]\n',
    )
    return make_client(tmp_path, hub_secrets=SECRETS, hub_ingress_admin_token=TOKEN)


def _hubspot_batch(*ids: int) -> bytes:
    events = [
        {
            "eventId": event_id,
            "subscriptionId": 1,
            "portalId": 62515,
            "occurredAt": 1_700_000_000_000,
            "subscriptionType": "contact.creation",
            "attemptNumber": 0,
            "objectId": 9000 + event_id,
        }
        for event_id in ids
    ]
    return json.dumps(events, separators=(",", ":")).encode()


def _post_hubspot(
    client: TestClient, body: bytes, url: str = "http://testserver/hooks/hubspot"
) -> Any:
    stamp = str(int(time.time() * 1000))
    signature = HubSpotSignature.get_signature(
        HUBSPOT_SECRET, body.decode(), "v3", http_uri=url, http_method="POST", timestamp=stamp
    )
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": stamp,
    }
    return client.post("/hooks/hubspot", content=body, headers=headers)


def test_a_hubspot_batch_gives_one_run_per_element_and_a_second_only_new_ones(
    client: TestClient, redis_client: redis.Redis
) -> None:
    first = _post_hubspot(client, _hubspot_batch(1, 2, 3))
    assert first.status_code == 202, first.text
    answer = first.json()
    assert answer["source"] == "hubspot" and "received_at" in answer
    assert [(e["event_id"], e["event_type"], e["duplicate"]) for e in answer["events"]] == [
        ("1", "contact.creation", False),
        ("2", "contact.creation", False),
        ("3", "contact.creation", False),
    ]
    assert all(len(e["runs"]) == 1 and e["skipped"] == [] for e in answer["events"])
    assert [m["body"][0][0]["event"]["objectId"] for m in queued(redis_client)] == [
        9001,
        9002,
        9003,
    ]

    second = _post_hubspot(client, _hubspot_batch(2, 4, 3))
    assert second.status_code == 202, second.text
    events = second.json()["events"]
    assert [(e["event_id"], e["duplicate"]) for e in events] == [
        ("2", True),
        ("4", False),
        ("3", True),
    ]
    assert events[0]["runs"] == answer["events"][1]["runs"]  # the run it started before
    assert len(queued(redis_client)) == 4
    recorded = client.get("/events/hubspot/4", headers=ADMIN).json()
    assert recorded["event_type"] == "contact.creation" and len(recorded["runs"]) == 1


def test_a_hubspot_batch_signed_for_another_url_is_refused(client: TestClient) -> None:
    answer = _post_hubspot(client, _hubspot_batch(1), url="https://elsewhere.example/hooks/hubspot")
    assert answer.status_code == 401
    assert "X-HubSpot-Signature-v3 does not match this request" in answer.json()["error"]


def test_behind_a_proxy_the_public_url_is_what_hubspot_signed(
    make_client: Callable[..., TestClient], tmp_path: Path, redis_client: redis.Redis
) -> None:
    _workflow(tmp_path, "hubspot-contact", "hubspot", "contact.creation")
    write_source(tmp_path, "hubspot", HUBSPOT)
    client = make_client(
        tmp_path, hub_secrets=SECRETS, hub_public_url="https://hooks.example.com/crm"
    )
    url = "https://hooks.example.com/crm/hooks/hubspot"
    assert _post_hubspot(client, _hubspot_batch(1), url=url).status_code == 202
    assert _post_hubspot(client, _hubspot_batch(2)).status_code == 401


def test_a_batch_redis_cannot_take_is_503_whole(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    _workflow(tmp_path, "hubspot-contact", "hubspot", "contact.creation")
    write_source(tmp_path, "hubspot", HUBSPOT)
    client = make_client(tmp_path, hub_secrets=SECRETS, redis_url="redis://127.0.0.1:1")
    answer = _post_hubspot(client, _hubspot_batch(1, 2))
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"


def test_a_pipedrive_delivery_with_basic_auth(
    client: TestClient, redis_client: redis.Redis
) -> None:
    body = {
        "data": {"id": 81, "emails": [{"value": "li@example.org", "primary": True}]},
        "meta": {"action": "create", "entity": "person", "id": "7b3f-1"},
    }
    auth = httpx2.BasicAuth("hub", "pipedrive-pass")
    answer = client.post("/hooks/pipedrive", json=body, auth=auth)
    assert answer.status_code == 202, answer.text
    assert (answer.json()["event_type"], answer.json()["event_id"]) == ("person.create", "7b3f-1")
    wrong = client.post("/hooks/pipedrive", json=body, auth=httpx2.BasicAuth("hub", "guess"))
    assert wrong.status_code == 401 and "pipedrive-pass" not in wrong.text
    assert len(queued(redis_client)) == 1


def test_slacks_url_verification_is_answered_and_starts_nothing(
    client: TestClient, redis_client: redis.Redis
) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps(
        {"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": challenge, "type": "url_verification"}
    ).encode()
    stamp = str(int(time.time()))
    signature = SignatureVerifier("slack-signing-secret").generate_signature(
        timestamp=stamp, body=body
    )
    assert signature is not None
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }
    answer = client.post("/hooks/slack", content=body, headers=headers)
    assert answer.status_code == 200
    assert answer.text == challenge
    assert answer.headers["content-type"].startswith("text/plain")
    assert (
        queued(redis_client) == [] and client.get("/events", headers=ADMIN).json()["events"] == []
    )
    unsigned = client.post(
        "/hooks/slack", content=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401


def test_zooms_url_validation_is_answered_and_starts_nothing(
    client: TestClient, redis_client: redis.Redis
) -> None:
    validation = {
        "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
        "event_ts": 1654503849680,
        "event": "endpoint.url_validation",
    }
    body = json.dumps(validation).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(b"zoom-secret-token", f"v0:{stamp}:".encode() + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/json",
        "x-zm-request-timestamp": stamp,
        "x-zm-signature": "v0=" + mac.hexdigest(),
    }
    answer = client.post("/hooks/zoom", content=body, headers=headers)
    assert answer.status_code == 200
    token = hmac.new(b"zoom-secret-token", b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256)
    assert answer.json() == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": token.hexdigest(),
    }
    assert (
        queued(redis_client) == [] and client.get("/events", headers=ADMIN).json()["events"] == []
    )


def test_metas_verification_get_answers_the_challenge_for_the_right_token(
    client: TestClient,
) -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    good = client.get("/hooks/meta", params={**query, "hub.verify_token": "meta-verify-token"})
    assert (good.status_code, good.text) == (200, "1158201444")
    wrong = client.get("/hooks/meta", params={**query, "hub.verify_token": "guess"})
    assert wrong.status_code == 403 and "meta-verify-token" not in wrong.text
    assert client.get("/hooks/nope", params=query).status_code == 404


def test_a_timestamp_in_the_wrong_unit_says_so(client: TestClient) -> None:
    body = b'{"type":"event_callback","event_id":"Ev1","event":{"type":"message"}}'
    stamp = str(int(time.time() * 1000))  # milliseconds to a source that reads seconds
    signature = SignatureVerifier("slack-signing-secret").generate_signature(
        timestamp=stamp, body=body
    )
    assert signature is not None
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}
    answer = client.post("/hooks/slack", content=body, headers=headers)
    assert answer.status_code == 401
    assert "looks like Unix time in milliseconds" in answer.json()["error"]
