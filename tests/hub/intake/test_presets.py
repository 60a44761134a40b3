"""Every preset, loaded from a source file as an operator writes it, against deliveries
signed by the provider's own library (HubSpot, Slack, Stripe) or, where there is none, by
the algorithm its documentation gives: with the documentation's own example where it has
one (Slack, GitHub; RFC 7617's for Basic), else a vector derived from the documented
algorithm (Zoom, Shopify, Plane, Pipedrive, Plutio)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
import stripe
from hubspot.utils.signature import Signature as HubSpotSignature
from slack_sdk.signature import SignatureVerifier

from hub.core.errors import ConfigError
from hub.core.settings import Settings
from hub.intake.delivery import Webhook
from hub.intake.handshakes import Reply
from hub.intake.plan import Batch, Intake, Plan
from hub.intake.presets import all_presets
from hub.intake.resolve import build_sources
from hub.intake.sources import Source, SourceError, load_sources
from hub.intake.webhook import Refused

NOW = time.time()
URL = "https://hooks.example.com/hooks/{name}"


def _source(tmp_path: Path, name: str, text: str, secrets: dict[str, str]) -> Source:
    (tmp_path / f"{name}.yaml").write_text(dedent(text))
    settings = Settings(hub_secrets=secrets)
    return build_sources(load_sources(tmp_path), settings, set(), local=False)[name]


def _preset(tmp_path: Path, name: str, secret: str) -> Source:
    text = f'preset: {name}\nsecret: "{{{{ secrets.KEY }}}}"\n'
    return _source(tmp_path, name, text, {"KEY": secret})


def _plan(source: Source, body: bytes, headers: dict[str, str], now: float = NOW) -> Any:
    lowered = {"content-type": "application/json", **{k.lower(): v for k, v in headers.items()}}
    delivery = Webhook(source, lowered, body, now, "POST", URL.format(name=source.name))
    return Intake([]).plan(delivery)


def _one(source: Source, body: bytes, headers: dict[str, str], now: float = NOW) -> Plan:
    plan = _plan(source, body, headers, now)
    assert isinstance(plan, Plan)
    return plan


def test_every_preset_is_tested_here() -> None:
    tested = {
        "hubspot",
        "pipedrive",
        "slack",
        "zoom",
        "shopify",
        "plane",
        "plutio",
        "github",
        "stripe",
    }
    assert set(all_presets()) == tested


def test_a_connector_brings_its_upstreams_presets_and_may_not_take_a_hub_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hub.connector import registry

    plutio = registry.get_connector("plutio")
    assert all_presets()["plutio"] is plutio.webhook_presets["plutio"]
    clash = dataclasses.replace(plutio, webhook_presets={"stripe": {"auth": {"scheme": "none"}}})
    monkeypatch.setattr(registry, "connectors", lambda: [clash])
    with pytest.raises(ConfigError, match="preset 'stripe' is declared twice: by the hub and by"):
        all_presets()


# --- HubSpot: hubspot-api-client's own signature utility --------------------------------

HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"


def _hubspot_events(*ids: int) -> bytes:
    events = [
        {
            "eventId": event_id,
            "subscriptionId": 2331,
            "portalId": 62515,
            "appId": 1160452,
            "occurredAt": 1700000000000 + event_id,
            "subscriptionType": "contact.creation",
            "attemptNumber": 0,
            "objectId": 5000 + event_id,
            "changeFlag": "CREATED",
            "changeSource": "CRM",
        }
        for event_id in ids
    ]
    return json.dumps(events, separators=(",", ":")).encode()


def _hubspot_headers(body: bytes, uri: str, when: float = NOW) -> dict[str, str]:
    stamp = str(int(when * 1000))
    signature = HubSpotSignature.get_signature(
        HUBSPOT_SECRET, body.decode(), "v3", http_uri=uri, http_method="POST", timestamp=stamp
    )
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}


def test_hubspot_two_line_file_splits_a_v3_signed_batch(tmp_path: Path) -> None:
    source = _preset(tmp_path, "hubspot", HUBSPOT_SECRET)
    body = _hubspot_events(101, 102, 103)
    batch = _plan(source, body, _hubspot_headers(body, URL.format(name="hubspot")))
    assert isinstance(batch, Batch)
    assert [(p.event.event_type, p.event.event_id) for p in batch.plans] == [
        ("contact.creation", "101"),
        ("contact.creation", "102"),
        ("contact.creation", "103"),
    ]
    assert batch.plans[1].event.body["objectId"] == 5102


def test_hubspot_refuses_another_uri_a_changed_body_and_an_old_timestamp(tmp_path: Path) -> None:
    source = _preset(tmp_path, "hubspot", HUBSPOT_SECRET)
    body = _hubspot_events(1)
    for headers, sent in (
        (_hubspot_headers(body, "https://elsewhere.example/hooks/hubspot"), body),
        (_hubspot_headers(body, URL.format(name="hubspot")), body.replace(b"5001", b"5002")),
    ):
        with pytest.raises(Refused, match="X-HubSpot-Signature-v3 does not match this request"):
            _plan(source, sent, headers)
    old = _hubspot_headers(body, URL.format(name="hubspot"), NOW - 301)
    with pytest.raises(Refused, match="X-HubSpot-Request-Timestamp is more than 300 s away"):
        _plan(source, body, old)


def test_hubspot_signs_the_uri_with_the_characters_it_decodes_decoded(tmp_path: Path) -> None:
    source = _preset(tmp_path, "hubspot", HUBSPOT_SECRET)
    body = _hubspot_events(7)
    received = "https://hooks.example.com/hooks/hubspot?from=a%3Ab%40c"
    signed = _hubspot_headers(body, "https://hooks.example.com/hooks/hubspot?from=a:b@c")
    lowered = {"content-type": "application/json", **{k.lower(): v for k, v in signed.items()}}
    plan = Intake([]).plan(Webhook(source, lowered, body, NOW, "POST", received))
    assert isinstance(plan, Batch) and plan.plans[0].event.event_id == "7"


def test_our_hubspot_signature_passes_the_hubspot_library(tmp_path: Path) -> None:
    source = _preset(tmp_path, "hubspot", HUBSPOT_SECRET)
    body = _hubspot_events(1, 2)
    uri = URL.format(name="hubspot")
    headers = source.verifier.sign(body, "", time.time(), url=uri)
    assert HubSpotSignature.is_valid(
        headers["X-HubSpot-Signature-v3"],
        HUBSPOT_SECRET,
        body.decode(),
        http_uri=uri,
        signature_version="v3",
        timestamp=headers["X-HubSpot-Request-Timestamp"],
    )


# --- Pipedrive: HTTP Basic (RFC 7617's example credentials), v2 bodies ------------------

PIPEDRIVE_V2 = {
    "data": {
        "id": 81,
        "name": "Li Lei",
        "emails": [
            {"label": "home", "value": "li@example.org", "primary": False},
            {"label": "work", "value": "Li.Lei@例え.jp", "primary": True},
        ],
    },
    "previous": None,
    "meta": {
        "action": "create",
        "entity": "person",
        "entity_id": "81",
        "id": "9d1b5b6e-3f0a-4a5e-9f27-0c0c7a1f8e11",
        "timestamp": "2025-05-01T09:30:00.000Z",
        "type": "general",
        "version": "2.0",
    },
}


def test_pipedrive_basic_auth_and_v2_type_and_id(tmp_path: Path) -> None:
    source = _preset(tmp_path, "pipedrive", "Aladdin:open sesame")
    body = json.dumps(PIPEDRIVE_V2).encode()
    plan = _one(source, body, {"Authorization": "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="})
    assert (plan.event.event_type, plan.event.event_id) == (
        "person.create",
        "9d1b5b6e-3f0a-4a5e-9f27-0c0c7a1f8e11",
    )
    wrong = base64.b64encode(b"Aladdin:close sesame").decode()
    with pytest.raises(Refused) as caught:
        _plan(source, body, {"Authorization": f"Basic {wrong}"})
    assert caught.value.status == 401


# --- Slack: slack-sdk's SignatureVerifier, Slack's documented example -------------------

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
    b"G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook"
    b"-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F39770"
    b"0885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10"
    b"d2c447fce8b6703c"
)


def _slack_headers(body: bytes, when: float = NOW) -> dict[str, str]:
    stamp = str(int(when))
    signature = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": stamp}


def test_slack_preset_verifies_slacks_documented_example(tmp_path: Path) -> None:
    source = _preset(tmp_path, "slack", SLACK_SECRET)
    headers = {
        "x-slack-request-timestamp": "1531420618",
        "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }
    source.verifier.verify(headers, SLACK_DOC_BODY, 1531420618.0)


def test_slack_events_are_typed_by_their_inner_event(tmp_path: Path) -> None:
    source = _preset(tmp_path, "slack", SLACK_SECRET)
    body = json.dumps(
        {
            "type": "event_callback",
            "event_id": "Ev08MFMKH6",
            "event": {"type": "team_join", "user": {"id": "U1"}},
        }
    ).encode()
    plan = _one(source, body, _slack_headers(body))
    assert (plan.event.event_type, plan.event.event_id) == ("team_join", "Ev08MFMKH6")
    limited = json.dumps({"type": "app_rate_limited", "minute_rate_limited": 1}).encode()
    assert _one(source, limited, _slack_headers(limited)).event.event_type == "app_rate_limited"


def test_slack_url_verification_is_answered_only_when_signed(tmp_path: Path) -> None:
    source = _preset(tmp_path, "slack", SLACK_SECRET)
    body = json.dumps({"token": "t", "challenge": "3eZbrw1aB", "type": "url_verification"})
    reply = _plan(source, body.encode(), _slack_headers(body.encode()))
    assert isinstance(reply, Reply)
    assert (reply.status, reply.body, reply.content_type) == (
        200,
        b"3eZbrw1aB",
        "text/plain; charset=utf-8",
    )
    with pytest.raises(Refused) as caught:
        _plan(source, body.encode(), {})
    assert caught.value.status == 401


def test_our_slack_signature_passes_slack_sdk(tmp_path: Path) -> None:
    source = _preset(tmp_path, "slack", SLACK_SECRET)
    body = b'{"type":"event_callback","event_id":"Ev1","event":{"type":"message"}}'
    headers = source.verifier.sign(body, "", time.time())
    assert SignatureVerifier(SLACK_SECRET).is_valid_request(body, headers)


# --- Zoom: the documented algorithm (no library, no published vector) --------------------

ZOOM_SECRET = "zoom-secret-token"


def _zoom_headers(body: bytes, when: float = NOW) -> dict[str, str]:
    # Zoom: message = "v0:{x-zm-request-timestamp}:{body}", hex HMAC-SHA256 with the
    # secret token, sent as x-zm-signature: v0=<hex>
    stamp = str(int(when))
    mac = hmac.new(ZOOM_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {"x-zm-signature": "v0=" + mac.hexdigest(), "x-zm-request-timestamp": stamp}


def test_zoom_events_get_an_id_from_their_content(tmp_path: Path) -> None:
    source = _preset(tmp_path, "zoom", ZOOM_SECRET)
    event = {"event": "meeting.started", "event_ts": 1626230691572, "payload": {"object": {}}}
    body = json.dumps(event).encode()
    plan = _one(source, body, _zoom_headers(body))
    assert plan.event.event_type == "meeting.started" and plan.event.id_from_content
    respaced = json.dumps(event, indent=2).encode()
    assert _one(source, respaced, _zoom_headers(respaced)).event.event_id == plan.event.event_id


def test_zoom_url_validation_answers_the_encrypted_token(tmp_path: Path) -> None:
    source = _preset(tmp_path, "zoom", ZOOM_SECRET)
    body = json.dumps(
        {
            "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
            "event_ts": 1654503849680,
            "event": "endpoint.url_validation",
        }
    ).encode()
    reply = _plan(source, body, _zoom_headers(body))
    assert isinstance(reply, Reply) and reply.status == 200
    expected = hmac.new(ZOOM_SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256)
    assert json.loads(reply.body) == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": expected.hexdigest(),
    }
    unsigned = {**_zoom_headers(body), "x-zm-signature": "v0=" + "0" * 64}
    with pytest.raises(Refused, match="the signature in x-zm-signature does not match"):
        _plan(source, body, unsigned)


# --- Shopify, Plane, Plutio: the documented algorithms ----------------------------------


def test_shopify_base64_hmac_of_the_body_topic_and_webhook_id(tmp_path: Path) -> None:
    source = _preset(tmp_path, "shopify", "shpss_app_secret")
    body = b'{"id":820982911946154508,"email":"jon@example.com"}'
    mac = hmac.new(b"shpss_app_secret", body, hashlib.sha256).digest()
    headers = {
        "X-Shopify-Hmac-Sha256": base64.b64encode(mac).decode(),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    }
    plan = _one(source, body, headers)
    assert (plan.event.event_type, plan.event.event_id) == (
        "orders/create",
        "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    )
    with pytest.raises(Refused, match="X-Shopify-Hmac-Sha256"):
        _plan(source, body + b" ", headers)


def test_plane_hex_hmac_event_header_and_action(tmp_path: Path) -> None:
    source = _preset(tmp_path, "plane", "plane-webhook-secret")
    body = b'{"event":"issue","action":"created","data":{"id":"9b1e"}}'
    headers = {
        "X-Plane-Signature": hmac.new(b"plane-webhook-secret", body, hashlib.sha256).hexdigest(),
        "X-Plane-Event": "issue",
        "X-Plane-Delivery": "5d0f3a52-1b7e-4f0a-9c3d-2e8b6a4f1c90",
    }
    plan = _one(source, body, headers)
    assert (plan.event.event_type, plan.event.event_id) == (
        "issue.created",
        "5d0f3a52-1b7e-4f0a-9c3d-2e8b6a4f1c90",
    )


def test_plutio_shared_secret_header_type_and_revision_id(tmp_path: Path) -> None:
    source = _preset(tmp_path, "plutio", "plutio-shared-secret")
    body = b'{"_id":"inv1","status":"paid","updatedAt":"2024-03-12T09:30:00.000Z"}'
    headers = {"X-Webhook-Secret": "plutio-shared-secret", "X-Event-Type": "invoice.edit"}
    plan = _one(source, body, headers)
    assert (plan.event.event_type, plan.event.event_id) == (
        "invoice.edit",
        "invoice.edit:inv1:2024-03-12T09:30:00.000Z",
    )
    with pytest.raises(Refused, match="wrong X-Webhook-Secret"):
        _plan(source, body, {**headers, "X-Webhook-Secret": "guess"})


# --- GitHub: its documented example; Stripe: the stripe library -------------------------


def test_github_documented_example_and_event_names(tmp_path: Path) -> None:
    source = _preset(tmp_path, "github", "It's a Secret to Everybody")
    source.verifier.verify(
        {
            "x-hub-signature-256": "sha256="
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        },
        b"Hello, World!",
        NOW,
    )
    body = b'{"action":"opened","issue":{"number":1}}'
    signature = hmac.new(b"It's a Secret to Everybody", body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": f"sha256={signature}", "X-GitHub-Delivery": "d-1"}
    opened = _one(source, body, {**headers, "X-GitHub-Event": "issues"})
    assert (opened.event.event_type, opened.event.event_id) == ("issues.opened", "d-1")
    ping = b'{"zen":"Design for failure."}'
    signature = hmac.new(b"It's a Secret to Everybody", ping, hashlib.sha256).hexdigest()
    pinged = _one(
        source,
        ping,
        {**headers, "X-Hub-Signature-256": f"sha256={signature}", "X-GitHub-Event": "ping"},
    )
    assert pinged.event.event_type == "ping"


def test_stripe_preset_with_the_stripe_library(tmp_path: Path) -> None:
    source = _preset(tmp_path, "stripe", "whsec_stripe_test")
    body = b'{"id":"evt_1","type":"customer.created","data":{"object":{}}}'
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), "whsec_stripe_test", timestamp=int(NOW)
    )
    plan = _one(source, body, {"Stripe-Signature": header})
    assert (plan.event.event_type, plan.event.event_id) == ("customer.created", "evt_1")


# --- the file over the preset ------------------------------------------------------------


def test_file_fields_override_the_preset(tmp_path: Path) -> None:
    text = """\
        preset: hubspot
        secret: "{{ secrets.KEY }}"
        auth: { tolerance_seconds: 600 }
        event_id: { path: objectId, required: true }
        dedupe_seconds: 60
        """
    source = _source(tmp_path, "hubspot", text, {"KEY": HUBSPOT_SECRET})
    body = _hubspot_events(5)
    headers = _hubspot_headers(body, URL.format(name="hubspot"), NOW - 500)
    batch = _plan(source, body, headers)
    assert isinstance(batch, Batch) and batch.plans[0].event.event_id == "5005"
    assert source.dedupe_seconds == 60


def test_another_scheme_in_the_file_drops_the_presets_auth(tmp_path: Path) -> None:
    text = """\
        preset: plutio
        auth: { scheme: bearer, secret: "{{ secrets.KEY }}" }
        """
    source = _source(tmp_path, "plutio", text, {"KEY": "tok"})
    body = b'{"_id":"p1","updatedAt":"x"}'
    plan = _one(source, body, {"Authorization": "Bearer tok", "X-Event-Type": "person.create"})
    assert plan.event.event_type == "person.create"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("preset: hubspt\n", "1:9: 'preset': no preset 'hubspt' (presets: pipedrive, slack,"),
        ("preset: hubspot\n", "scheme 'hmac' needs a secret"),
        (
            'preset: slack\nsecret: "{{ secrets.A }}"\nauth: { secret: "{{ secrets.B }}" }\n',
            "give the secret once",
        ),
        (
            "preset: hubspot\nsecret: '{{ secrets.K }}'\nevent_id: { header: X-Id }\n",
            "a batch's event ids are read in each element",
        ),
    ],
)
def test_preset_files_that_cannot_work_say_why(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(SourceError) as caught:
        load_sources(tmp_path)
    assert expected in str(caught.value)
