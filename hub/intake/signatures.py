"""Webhook authentication schemes: check a request's headers against its raw body.

Each scheme is a small immutable object with ``verify(headers, body, now)``, which
returns quietly or raises :class:`AuthFailed`, and ``sign(body, event_id, now)``, which
gives the headers a sender of that scheme would send (for the demo, the bench and
``hub send``). Every compare of secret-derived bytes is constant-time
(:func:`hmac.compare_digest`). Reasons name the header at fault, never a secret, an
expected signature or how close a guess came. ``headers`` is any mapping with
lower-case keys (Starlette's ``Headers`` is case-insensitive, which is enough).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from hub.core import HubError

__all__ = [
    "AuthFailed",
    "Bearer",
    "Hmac",
    "NoAuth",
    "SharedSecret",
    "StandardWebhooks",
    "Stripe",
    "Verifier",
    "github",
    "standard_webhooks_key",
]

Algorithm = Literal["sha1", "sha256", "sha512"]
Encoding = Literal["hex", "base64"]


class AuthFailed(HubError):
    """The request is not authenticated; ``reason`` is safe to show the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Verifier(Protocol):
    """One authentication scheme with its secrets."""

    @property
    def scheme(self) -> str: ...

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None: ...

    def sign(self, body: bytes, event_id: str, now: float) -> dict[str, str]: ...


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (``whsec_`` + base64, as the spec says)."""
    text = secret.removeprefix("whsec_").rstrip("=")
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("is not a Standard Webhooks secret (whsec_ followed by base64)") from exc
    if not key:
        raise ValueError("is empty")
    return key


def _digest(key: bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(key, message, getattr(hashlib, algorithm)).digest()


def _any_match(expected: bytes, candidates: list[bytes]) -> bool:
    found = False
    for candidate in candidates:  # no early exit: the time does not tell which one matched
        found |= hmac.compare_digest(expected, candidate)
    return found


def _timestamp(value: str | None, header: str, now: float, tolerance: float) -> str:
    if not value:
        raise AuthFailed(f"missing {header} header")
    if not value.isascii() or not value.isdigit():
        raise AuthFailed(f"{header} is not a Unix time in whole seconds")
    if abs(now - int(value)) > tolerance:
        raise AuthFailed(
            f"{header} is more than {tolerance:g} s away from the hub's clock "
            "(a replayed or delayed delivery, or a sender clock out of sync)"
        )
    return value


@dataclass(frozen=True)
class StandardWebhooks:
    """Standard Webhooks: ``webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>``.

    Several space-separated signatures may be sent (key rotation); any one matching
    any of ``keys`` is enough.
    """

    keys: tuple[bytes, ...]
    tolerance: float = 300.0
    scheme: str = "standard-webhooks"

    def _signed(self, msg_id: str, timestamp: str, body: bytes) -> bytes:
        return f"{msg_id}.{timestamp}.".encode() + body

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        msg_id = headers.get("webhook-id")
        signature = headers.get("webhook-signature")
        if not msg_id:
            raise AuthFailed("missing webhook-id header")
        timestamp = _timestamp(
            headers.get("webhook-timestamp"), "webhook-timestamp", now, self.tolerance
        )
        if not signature:
            raise AuthFailed("missing webhook-signature header")
        candidates: list[bytes] = []
        for item in signature.split():
            version, _, value = item.partition(",")
            if version == "v1":
                try:
                    candidates.append(base64.b64decode(value, validate=True))
                except (binascii.Error, ValueError):
                    continue
        if not candidates:
            raise AuthFailed("webhook-signature holds no v1 signature")
        signed = self._signed(msg_id, timestamp, body)
        if not _any_match_keys(self.keys, signed, candidates, "sha256"):
            raise AuthFailed("no signature in webhook-signature matches this body")

    def sign(self, body: bytes, event_id: str, now: float) -> dict[str, str]:
        timestamp = str(int(now))
        mac = _digest(self.keys[0], self._signed(event_id, timestamp, body))
        return {
            "webhook-id": event_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": "v1," + base64.b64encode(mac).decode(),
        }


def _any_match_keys(
    keys: tuple[bytes, ...], signed: bytes, candidates: list[bytes], algorithm: str
) -> bool:
    found = False
    for key in keys:
        found |= _any_match(_digest(key, signed, algorithm), candidates)
    return found


@dataclass(frozen=True)
class Hmac:
    """A signature header holding an HMAC of the body (optionally with a timestamp).

    ``signed_payload`` is what is signed, with ``{body}`` and ``{timestamp}`` in it;
    the signature is ``prefix`` + hex or base64 of the MAC.
    """

    keys: tuple[bytes, ...]
    header: str
    algorithm: Algorithm = "sha256"
    encoding: Encoding = "hex"
    prefix: str = ""
    timestamp_header: str | None = None
    signed_payload: str = "{body}"
    tolerance: float = 300.0
    scheme: str = "hmac"

    def _signed(self, body: bytes, timestamp: str) -> bytes:
        before, _, after = self.signed_payload.partition("{body}")
        return (
            before.replace("{timestamp}", timestamp).encode()
            + body
            + after.replace("{timestamp}", timestamp).encode()
        )

    def _decode(self, value: str) -> bytes | None:
        try:
            if self.encoding == "hex":
                return bytes.fromhex(value)
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        timestamp = ""
        if self.timestamp_header:
            timestamp = _timestamp(
                headers.get(self.timestamp_header.lower()),
                self.timestamp_header,
                now,
                self.tolerance,
            )
        value = headers.get(self.header.lower())
        if not value:
            raise AuthFailed(f"missing {self.header} header")
        value = value.strip()
        if self.prefix:
            if not value.lower().startswith(self.prefix.lower()):
                raise AuthFailed(f"{self.header} does not start with '{self.prefix}'")
            value = value[len(self.prefix) :]
        given = self._decode(value)
        if given is None:
            raise AuthFailed(f"{self.header} is not {self.encoding}")
        if not _any_match_keys(self.keys, self._signed(body, timestamp), [given], self.algorithm):
            raise AuthFailed(f"the signature in {self.header} does not match this body")

    def sign(self, body: bytes, event_id: str, now: float) -> dict[str, str]:
        timestamp = str(int(now))
        mac = _digest(self.keys[0], self._signed(body, timestamp), self.algorithm)
        text = mac.hex() if self.encoding == "hex" else base64.b64encode(mac).decode()
        headers = {self.header: self.prefix + text}
        if self.timestamp_header:
            headers[self.timestamp_header] = timestamp
        return headers


def github(keys: tuple[bytes, ...]) -> Hmac:
    """GitHub's ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``."""
    return Hmac(keys, header="X-Hub-Signature-256", prefix="sha256=", scheme="github")


@dataclass(frozen=True)
class Stripe:
    """Stripe's ``Stripe-Signature: t=<time>,v1=<hex HMAC-SHA256 of time.body>[,v1=...]``.

    Stripe uses the whole secret string (``whsec_...``) as the key, undecoded.
    """

    keys: tuple[bytes, ...]
    tolerance: float = 300.0
    scheme: str = "stripe"

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        value = headers.get("stripe-signature")
        if not value:
            raise AuthFailed("missing Stripe-Signature header")
        timestamp: str | None = None
        candidates: list[bytes] = []
        for item in value.split(","):
            name, _, part = item.strip().partition("=")
            if name == "t":
                timestamp = part
            elif name == "v1":
                try:
                    candidates.append(bytes.fromhex(part))
                except ValueError:
                    continue
        timestamp = _timestamp(timestamp, "Stripe-Signature t=", now, self.tolerance)
        if not candidates:
            raise AuthFailed("Stripe-Signature holds no v1 signature")
        signed = f"{timestamp}.".encode() + body
        if not _any_match_keys(self.keys, signed, candidates, "sha256"):
            raise AuthFailed("no v1 signature in Stripe-Signature matches this body")

    def sign(self, body: bytes, event_id: str, now: float) -> dict[str, str]:
        timestamp = str(int(now))
        mac = _digest(self.keys[0], f"{timestamp}.".encode() + body)
        return {"Stripe-Signature": f"t={timestamp},v1={mac.hex()}"}


@dataclass(frozen=True)
class SharedSecret:
    """A header that carries the secret itself (e.g. an upstream's custom webhook header)."""

    keys: tuple[bytes, ...]
    header: str = "X-Webhook-Secret"
    scheme: str = "shared-secret"

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        value = headers.get(self.header.lower())
        if not value:
            raise AuthFailed(f"missing {self.header} header")
        if not _any_match(value.encode(), list(self.keys)):
            raise AuthFailed(f"wrong {self.header}")

    def sign(self, body: bytes, event_id: str, now: float) -> dict[str, str]:
        return {self.header: self.keys[0].decode()}


@dataclass(frozen=True)
class Bearer:
    """``Authorization: Bearer <token>``."""

    keys: tuple[bytes, ...]
    scheme: str = "bearer"

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        value = headers.get("authorization")
        if not value:
            raise AuthFailed("missing Authorization header")
        kind, _, token = value.strip().partition(" ")
        if kind.lower() != "bearer" or not token:
            raise AuthFailed("Authorization is not 'Bearer <token>'")
        if not _any_match(token.strip().encode(), list(self.keys)):
            raise AuthFailed("wrong bearer token")

    def sign(self, body: bytes, event_id: str, now: float) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.keys[0].decode()}


@dataclass(frozen=True)
class NoAuth:
    """Accepts every request (an explicit ``auth: {scheme: none}``, or a local run)."""

    scheme: str = "none"

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        return None

    def sign(self, body: bytes, event_id: str, now: float) -> dict[str, str]:
        return {}
