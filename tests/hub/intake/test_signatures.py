"""Signature schemes against payloads signed by the reference implementations."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
import stripe

from hub.intake import signatures as sig
from hub.intake.signatures import AuthFailed
from tests.hub.ingress.conftest import SECRET

BODY = b'{"id": "evt_1", "type": "contact.created", "data": {"email": "ada@example.com"}}'
NOW = time.time()


def _reference_headers(secret: str, msg_id: str, when: float, body: bytes) -> dict[str, str]:
    stamp = datetime.fromtimestamp(int(when), UTC)
    signature = standardwebhooks.Webhook(secret).sign(msg_id, stamp, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when)),
        "webhook-signature": signature,
    }


@pytest.fixture
def standard() -> sig.StandardWebhooks:
    return sig.StandardWebhooks((sig.standard_webhooks_key(SECRET),))


def test_standard_webhooks_accepts_the_reference_signature(standard: sig.StandardWebhooks) -> None:
    standard.verify(_reference_headers(SECRET, "msg_1", NOW, BODY), BODY, NOW)


def test_standard_webhooks_refuses_a_changed_body(standard: sig.StandardWebhooks) -> None:
    headers = _reference_headers(SECRET, "msg_1", NOW, BODY)
    with pytest.raises(AuthFailed, match="no signature in webhook-signature matches"):
        standard.verify(headers, BODY.replace(b"ada", b"eve"), NOW)


def test_standard_webhooks_refuses_another_secret(standard: sig.StandardWebhooks) -> None:
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    with pytest.raises(AuthFailed):
        standard.verify(_reference_headers(other, "msg_1", NOW, BODY), BODY, NOW)


def test_standard_webhooks_takes_any_of_several_signatures(
    standard: sig.StandardWebhooks,
) -> None:
    good = _reference_headers(SECRET, "msg_1", NOW, BODY)
    wrong = _reference_headers("whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", "msg_1", NOW, BODY)
    good["webhook-signature"] = f"v2,abc {wrong['webhook-signature']} {good['webhook-signature']}"
    standard.verify(good, BODY, NOW)


def test_standard_webhooks_accepts_an_old_and_a_new_key() -> None:
    new = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    rotating = sig.StandardWebhooks(
        (sig.standard_webhooks_key(new), sig.standard_webhooks_key(SECRET))
    )
    rotating.verify(_reference_headers(SECRET, "m", NOW, BODY), BODY, NOW)
    rotating.verify(_reference_headers(new, "m", NOW, BODY), BODY, NOW)


@pytest.mark.parametrize("age", [-301, 301, 3600])
def test_standard_webhooks_refuses_a_timestamp_out_of_tolerance(
    standard: sig.StandardWebhooks, age: int
) -> None:
    headers = _reference_headers(SECRET, "msg_1", NOW - age, BODY)
    with pytest.raises(AuthFailed, match="300 s away"):
        standard.verify(headers, BODY, NOW)


def test_standard_webhooks_within_tolerance(standard: sig.StandardWebhooks) -> None:
    standard.verify(_reference_headers(SECRET, "msg_1", NOW - 290, BODY), BODY, NOW)


@pytest.mark.parametrize(
    ("drop", "reason"),
    [
        ("webhook-id", "missing webhook-id"),
        ("webhook-timestamp", "missing webhook-timestamp"),
        ("webhook-signature", "missing webhook-signature"),
    ],
)
def test_standard_webhooks_names_the_missing_header(
    standard: sig.StandardWebhooks, drop: str, reason: str
) -> None:
    headers = _reference_headers(SECRET, "msg_1", NOW, BODY)
    del headers[drop]
    with pytest.raises(AuthFailed, match=reason):
        standard.verify(headers, BODY, NOW)


def test_our_standard_webhooks_signature_passes_the_reference_verifier(
    standard: sig.StandardWebhooks,
) -> None:
    headers = standard.sign(BODY, "msg_9", time.time())
    assert standardwebhooks.Webhook(SECRET).verify(BODY, headers) is not None


def test_a_secret_that_is_not_base64_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Standard Webhooks secret"):
        sig.standard_webhooks_key("whsec_not base64!")


def test_github_published_example() -> None:
    # the example in GitHub's "Validating webhook deliveries" documentation
    github = sig.github((b"It's a Secret to Everybody",))
    header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    github.verify({"x-hub-signature-256": header}, b"Hello, World!", NOW)
    with pytest.raises(AuthFailed, match="does not match"):
        github.verify({"x-hub-signature-256": header}, b"Hello, World?", NOW)
    with pytest.raises(AuthFailed, match="does not start with 'sha256='"):
        github.verify({"x-hub-signature-256": header[7:]}, b"Hello, World!", NOW)
    assert github.sign(b"Hello, World!", "", NOW) == {"X-Hub-Signature-256": header}


STRIPE_SECRET = "whsec_test_secret_for_stripe_style"


def test_stripe_accepts_the_stripe_library_signature() -> None:
    verifier = sig.Stripe((STRIPE_SECRET.encode(),))
    header = stripe.WebhookSignature.generate_signature_header(
        BODY.decode(), STRIPE_SECRET, timestamp=int(NOW)
    )
    verifier.verify({"stripe-signature": header}, BODY, NOW)
    with pytest.raises(AuthFailed, match="no v1 signature"):
        verifier.verify({"stripe-signature": header}, BODY + b" ", NOW)


def test_stripe_takes_any_v1_and_checks_the_time() -> None:
    verifier = sig.Stripe((STRIPE_SECRET.encode(),))
    good = stripe.WebhookSignature.generate_signature_header(
        BODY.decode(), STRIPE_SECRET, timestamp=int(NOW)
    )
    wrong = stripe.WebhookSignature.generate_signature_header(
        BODY.decode(), "whsec_other", timestamp=int(NOW)
    )
    t, v1 = good.split(",")
    verifier.verify({"stripe-signature": f"{t},{wrong.split(',')[1]},{v1}"}, BODY, NOW)
    old = stripe.WebhookSignature.generate_signature_header(
        BODY.decode(), STRIPE_SECRET, timestamp=int(NOW) - 600
    )
    with pytest.raises(AuthFailed, match="300 s away"):
        verifier.verify({"stripe-signature": old}, BODY, NOW)


def test_our_stripe_signature_passes_the_stripe_library() -> None:
    headers = sig.Stripe((STRIPE_SECRET.encode(),)).sign(BODY, "", time.time())
    stripe.WebhookSignature.verify_header(
        BODY.decode(), headers["Stripe-Signature"], STRIPE_SECRET, tolerance=300
    )


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_generic_hmac_against_the_standard_library(algorithm: str, encoding: str) -> None:
    import base64

    key = b"generic-secret"
    mac = hmac.new(key, BODY, getattr(hashlib, algorithm)).digest()
    text = mac.hex() if encoding == "hex" else base64.b64encode(mac).decode()
    verifier = sig.Hmac(
        (key,),
        header="X-Signature",
        algorithm=algorithm,  # type: ignore[arg-type]
        encoding=encoding,  # type: ignore[arg-type]
        prefix=f"{algorithm}=",
    )
    verifier.verify({"x-signature": f"{algorithm}={text}"}, BODY, NOW)
    with pytest.raises(AuthFailed):
        verifier.verify({"x-signature": f"{algorithm}={text}"}, BODY[:-1], NOW)


def test_generic_hmac_with_a_timestamp_header() -> None:
    key = b"slack-style"
    stamp = str(int(NOW))
    mac = hmac.new(key, f"v0:{stamp}:".encode() + BODY, hashlib.sha256).hexdigest()
    verifier = sig.Hmac(
        (key,),
        header="X-Slack-Signature",
        prefix="v0=",
        timestamp_header="X-Slack-Request-Timestamp",
        signed_payload="v0:{timestamp}:{body}",
    )
    headers = {"x-slack-signature": f"v0={mac}", "x-slack-request-timestamp": stamp}
    verifier.verify(headers, BODY, NOW)
    with pytest.raises(AuthFailed, match="away from the hub's clock"):
        verifier.verify(headers, BODY, NOW + 301)
    assert verifier.sign(BODY, "", NOW) == {
        "X-Slack-Signature": f"v0={mac}",
        "X-Slack-Request-Timestamp": stamp,
    }


def test_shared_secret_and_bearer() -> None:
    shared = sig.SharedSecret((b"s3cret",), header="X-Plutio-Secret")
    shared.verify({"x-plutio-secret": "s3cret"}, BODY, NOW)
    for headers in ({"x-plutio-secret": "s3cret!"}, {}):
        with pytest.raises(AuthFailed):
            shared.verify(headers, BODY, NOW)
    bearer = sig.Bearer((b"tok",))
    bearer.verify({"authorization": "Bearer tok"}, BODY, NOW)
    for value in ("Bearer nope", "Basic tok", "tok"):
        with pytest.raises(AuthFailed):
            bearer.verify({"authorization": value}, BODY, NOW)


def test_reasons_never_contain_the_secret_or_the_expected_signature(
    standard: sig.StandardWebhooks,
) -> None:
    headers = _reference_headers(SECRET, "msg_1", NOW, BODY)
    expected = headers["webhook-signature"].split(",")[1]
    with pytest.raises(AuthFailed) as caught:
        standard.verify(headers, BODY + b"x", NOW)
    assert expected not in caught.value.reason and SECRET[6:] not in caught.value.reason
    with pytest.raises(AuthFailed) as shared:
        sig.SharedSecret((b"topsecret",)).verify({"x-webhook-secret": "guess"}, BODY, NOW)
    assert "topsecret" not in shared.value.reason and "guess" not in shared.value.reason


def test_padded_and_unpadded_secrets_give_the_reference_key() -> None:
    import base64

    key = b"0123456789abcdef0123"
    padded = "whsec_" + base64.b64encode(key).decode()
    assert padded.endswith("=")
    for secret in (padded, padded.rstrip("="), padded[6:]):
        assert sig.standard_webhooks_key(secret) == key
        headers = _reference_headers(padded, "m", NOW, BODY)
        sig.StandardWebhooks((sig.standard_webhooks_key(secret),)).verify(headers, BODY, NOW)
