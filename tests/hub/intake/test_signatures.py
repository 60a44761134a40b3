"""Signature schemes against payloads signed by the reference implementations."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
import stripe

from hub.intake import credentials as cred
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
    shared = cred.SharedSecret((b"s3cret",), header="X-Plutio-Secret")
    shared.verify({"x-plutio-secret": "s3cret"}, BODY, NOW)
    for headers in ({"x-plutio-secret": "s3cret!"}, {}):
        with pytest.raises(AuthFailed):
            shared.verify(headers, BODY, NOW)
    bearer = cred.Bearer((b"tok",))
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
        cred.SharedSecret((b"topsecret",)).verify({"x-webhook-secret": "guess"}, BODY, NOW)
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


def _mac64(key: bytes, message: bytes) -> str:
    import base64

    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


REQUEST = sig.Hmac(
    (b"app-secret",),
    header="X-Signature",
    encoding="base64",
    timestamp_header="X-Timestamp",
    timestamp_unit="ms",
    signed_payload="{method}{uri}{body}{timestamp}",
)
URL = "https://hooks.example.com/hooks/crm?portal=7"
MS = str(int(NOW * 1000))


def test_hmac_signs_the_method_the_uri_the_body_and_the_timestamp() -> None:
    expected = _mac64(b"app-secret", b"POST" + URL.encode() + BODY + MS.encode())
    headers = {"x-signature": expected, "x-timestamp": MS}
    REQUEST.verify(headers, BODY, NOW, method="POST", url=URL)
    assert REQUEST.sign(BODY, "", NOW, url=URL) == {"X-Signature": expected, "X-Timestamp": MS}
    for method, url, body in (
        ("PUT", URL, BODY),
        ("POST", URL.replace("portal=7", "portal=8"), BODY),
        ("POST", URL, BODY + b" "),
    ):
        with pytest.raises(AuthFailed, match="does not match this request"):
            REQUEST.verify(headers, body, NOW, method=method, url=url)
    later = {**headers, "x-timestamp": str(int(MS) + 1)}
    with pytest.raises(AuthFailed, match="does not match"):
        REQUEST.verify(later, BODY, NOW, method="POST", url=URL)


def test_hmac_never_signs_the_placeholders_as_text() -> None:
    # what the scheme signed before: "{method}{uri}" literally, then body and timestamp
    literal = _mac64(b"app-secret", b"{method}{uri}" + BODY + MS.encode())
    with pytest.raises(AuthFailed):
        REQUEST.verify({"x-signature": literal, "x-timestamp": MS}, BODY, NOW, url=URL)


def test_uri_decode_decodes_what_hubspot_decodes_and_nothing_else() -> None:
    decoding = sig.Hmac((b"k",), header="X-S", signed_payload="{uri}{body}", uri_decode=True)
    sent = "https://h.example/hooks/crm?next=a%3Ab%2Fc%40d%20e"
    signed = "https://h.example/hooks/crm?next=a:b/c@d%20e"  # %20 stays
    headers = {"x-s": hmac.new(b"k", signed.encode() + BODY, hashlib.sha256).hexdigest()}
    decoding.verify(headers, BODY, NOW, url=sent)
    assert decoding.signs_url and not sig.Hmac((b"k",), header="X-S").signs_url


def test_a_timestamp_in_milliseconds_for_a_source_in_seconds_is_named_as_such() -> None:
    seconds = sig.Hmac((b"k",), header="X-S", timestamp_header="X-T")
    with pytest.raises(AuthFailed) as caught:
        seconds.verify({"x-t": MS, "x-s": "00"}, BODY, NOW)
    assert "about 1000 times the hub's clock" in caught.value.reason
    assert "timestamp_unit: ms" in caught.value.reason and "replay" not in caught.value.reason


def test_a_timestamp_in_seconds_for_a_source_in_milliseconds_is_named_as_such() -> None:
    with pytest.raises(AuthFailed) as caught:
        REQUEST.verify({"x-signature": "AA==", "x-timestamp": str(int(NOW))}, BODY, NOW, url=URL)
    assert "about 1/1000 of the hub's clock" in caught.value.reason
    assert "timestamp_unit: s" in caught.value.reason


def test_an_old_timestamp_in_the_right_unit_is_still_a_replay() -> None:
    old = str(int((NOW - 3600) * 1000))
    with pytest.raises(AuthFailed, match="more than 300 s away"):
        REQUEST.verify({"x-signature": "AA==", "x-timestamp": old}, BODY, NOW, url=URL)


def test_standard_webhooks_and_stripe_take_a_timestamp_unit() -> None:
    key = sig.standard_webhooks_key(SECRET)
    in_ms = sig.StandardWebhooks((key,), timestamp_unit="ms")
    headers = in_ms.sign(BODY, "m1", NOW)
    assert headers["webhook-timestamp"] == MS
    in_ms.verify(headers, BODY, NOW)
    stripe_ms = sig.Stripe((b"whsec_x",), timestamp_unit="ms")
    signed = {k.lower(): v for k, v in stripe_ms.sign(BODY, "", NOW).items()}
    assert signed["stripe-signature"].startswith(f"t={MS},")
    stripe_ms.verify(signed, BODY, NOW)
