"""Webhook signature schemes: check a request's signature against its raw body.

The schemes where the sender sends a credential itself rather than a signature (a shared
secret header, a bearer token, HTTP Basic, none) are :mod:`hub.intake.credentials`; they
follow the same :class:`Verifier` protocol. Each scheme is a small immutable object with
``verify(headers, body, now)``, which returns quietly or raises :class:`AuthFailed`, and
``sign(body, event_id, now)``, which gives the headers a sender of that scheme would send
(for the demo, the bench, ``hub send`` and ``hub test``). Both take the request's
``method`` and public ``url`` as keywords, which only a scheme that signs them (an
``hmac`` ``signed_payload`` with ``{method}`` or ``{uri}``, as HubSpot's v3 signature)
reads. Timestamps are Unix time in seconds, or in milliseconds where a scheme says
``timestamp_unit="ms"``; one about 1000 times off is refused with a reason that says so,
not as a replay. Every compare of secret-derived bytes is constant-time
(:func:`hmac.compare_digest`). Reasons name the header at fault, never a secret, an
expected signature or how close a guess came. ``headers`` is any mapping with
lower-case keys (Starlette's ``Headers`` is case-insensitive, which is enough).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Protocol

from hub.core import HubError

__all__ = [
    "PAYLOAD_FIELDS",
    "AuthFailed",
    "Hmac",
    "StandardWebhooks",
    "Stripe",
    "Verifier",
    "any_match",
    "github",
    "standard_webhooks_key",
]

Algorithm = Literal["sha1", "sha256", "sha512"]
Encoding = Literal["hex", "base64"]
TimestampUnit = Literal["s", "ms"]

#: What an ``hmac`` ``signed_payload`` may hold: ``{body}`` and any of the others.
PAYLOAD_FIELDS = ("method", "uri", "body", "timestamp")
_PAYLOAD_FIELD = re.compile(r"\{(" + "|".join(PAYLOAD_FIELDS) + r")\}")
#: The characters HubSpot's v3 signature decodes in the URI before signing it.
_URI_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_URI_ENCODED = re.compile("|".join(_URI_DECODED), flags=re.IGNORECASE)


class AuthFailed(HubError):
    """The request is not authenticated; ``reason`` is safe to show the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Verifier(Protocol):
    """One authentication scheme with its secrets."""

    @property
    def scheme(self) -> str: ...

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
        *,
        method: str = "POST",
        url: str = "",
    ) -> None: ...

    def sign(
        self, body: bytes, event_id: str, now: float, *, method: str = "POST", url: str = ""
    ) -> dict[str, str]: ...


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


def any_match(expected: bytes, candidates: list[bytes]) -> bool:
    """True when ``expected`` equals one of ``candidates``, compared in constant time."""
    found = False
    for candidate in candidates:  # no early exit: the time does not tell which one matched
        found |= hmac.compare_digest(expected, candidate)
    return found


def _timestamp(
    value: str | None, header: str, now: float, tolerance: float, unit: TimestampUnit = "s"
) -> str:
    if not value:
        raise AuthFailed(f"missing {header} header")
    if not value.isascii() or not value.isdigit():
        whole = "milliseconds" if unit == "ms" else "seconds"
        raise AuthFailed(f"{header} is not a Unix time in whole {whole}")
    stamp = int(value) / 1000 if unit == "ms" else int(value)
    if abs(now - stamp) > tolerance:
        raise AuthFailed(_out_of_tolerance(header, stamp, now, tolerance, unit))
    return value


def _out_of_tolerance(
    header: str, stamp: float, now: float, tolerance: float, unit: TimestampUnit
) -> str:
    """Why a timestamp is refused: a unit mismatch when it is about 1000x off, else its age."""
    ratio = stamp / now if now > 0 else 0.0
    if 500 < ratio < 2000:
        return (
            f"{header} is about 1000 times the hub's clock: it looks like Unix time in "
            "milliseconds where this source reads seconds (timestamp_unit: ms)"
        )
    if 0.0005 < ratio < 0.002:
        return (
            f"{header} is about 1/1000 of the hub's clock: it looks like Unix time in "
            "seconds where this source reads milliseconds (timestamp_unit: s)"
        )
    return (
        f"{header} is more than {tolerance:g} s away from the hub's clock "
        "(a replayed or delayed delivery, or a sender clock out of sync)"
    )


def _stamp(now: float, unit: TimestampUnit) -> str:
    return str(int(now * 1000)) if unit == "ms" else str(int(now))


@dataclass(frozen=True)
class StandardWebhooks:
    """Standard Webhooks: ``webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>``.

    Several space-separated signatures may be sent (key rotation); any one matching
    any of ``keys`` is enough.
    """

    keys: tuple[bytes, ...]
    tolerance: float = 300.0
    timestamp_unit: TimestampUnit = "s"
    scheme: str = "standard-webhooks"

    def _signed(self, msg_id: str, timestamp: str, body: bytes) -> bytes:
        return f"{msg_id}.{timestamp}.".encode() + body

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
        *,
        method: str = "POST",
        url: str = "",
    ) -> None:
        msg_id = headers.get("webhook-id")
        signature = headers.get("webhook-signature")
        if not msg_id:
            raise AuthFailed("missing webhook-id header")
        timestamp = _timestamp(
            headers.get("webhook-timestamp"),
            "webhook-timestamp",
            now,
            self.tolerance,
            self.timestamp_unit,
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

    def sign(
        self, body: bytes, event_id: str, now: float, *, method: str = "POST", url: str = ""
    ) -> dict[str, str]:
        timestamp = _stamp(now, self.timestamp_unit)
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
        found |= any_match(_digest(key, signed, algorithm), candidates)
    return found


@lru_cache(maxsize=64)
def _payload_parts(signed_payload: str) -> tuple[tuple[bool, str], ...]:
    """``signed_payload`` as (is a field, literal text or field name) parts."""
    parts: list[tuple[bool, str]] = []
    at = 0
    for match in _PAYLOAD_FIELD.finditer(signed_payload):
        if match.start() > at:
            parts.append((False, signed_payload[at : match.start()]))
        parts.append((True, match.group(1)))
        at = match.end()
    if at < len(signed_payload):
        parts.append((False, signed_payload[at:]))
    return tuple(parts)


def _decoded_uri(uri: str) -> str:
    """``uri`` with the characters HubSpot's v3 signature decodes (``%3A`` ...) decoded."""
    return _URI_ENCODED.sub(lambda m: _URI_DECODED[m.group(0).upper()], uri)


@dataclass(frozen=True)
class Hmac:
    """A signature header holding an HMAC of the body (optionally with more of the request).

    ``signed_payload`` is what is signed: ``{body}``, and any of ``{timestamp}`` (the
    ``timestamp_header``'s value as sent), ``{method}`` and ``{uri}`` (the full URL the
    sender called, see ``HUB_PUBLIC_URL``; with ``uri_decode``, ``%3A``, ``%2F`` and the
    other characters HubSpot's v3 signature decodes are decoded first) around it. The
    signature is ``prefix`` + hex or base64 of the MAC.
    """

    keys: tuple[bytes, ...]
    header: str
    algorithm: Algorithm = "sha256"
    encoding: Encoding = "hex"
    prefix: str = ""
    timestamp_header: str | None = None
    signed_payload: str = "{body}"
    tolerance: float = 300.0
    timestamp_unit: TimestampUnit = "s"
    uri_decode: bool = False
    scheme: str = "hmac"

    @property
    def signs_url(self) -> bool:
        """True when the URL the sender called is part of what is signed."""
        return "{uri}" in self.signed_payload

    def _signed(self, body: bytes, timestamp: str, method: str, url: str) -> bytes:
        out = bytearray()
        for is_field, part in _payload_parts(self.signed_payload):
            if not is_field:
                out += part.encode()
            elif part == "body":
                out += body
            elif part == "timestamp":
                out += timestamp.encode()
            elif part == "method":
                out += method.upper().encode()
            else:
                out += (_decoded_uri(url) if self.uri_decode else url).encode()
        return bytes(out)

    def _decode(self, value: str) -> bytes | None:
        try:
            if self.encoding == "hex":
                return bytes.fromhex(value)
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
        *,
        method: str = "POST",
        url: str = "",
    ) -> None:
        timestamp = ""
        if self.timestamp_header:
            timestamp = _timestamp(
                headers.get(self.timestamp_header.lower()),
                self.timestamp_header,
                now,
                self.tolerance,
                self.timestamp_unit,
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
        signed = self._signed(body, timestamp, method, url)
        if not _any_match_keys(self.keys, signed, [given], self.algorithm):
            raise AuthFailed(f"the signature in {self.header} does not match this {self._what()}")

    def _what(self) -> str:
        return "request" if "{method}" in self.signed_payload or self.signs_url else "body"

    def sign(
        self, body: bytes, event_id: str, now: float, *, method: str = "POST", url: str = ""
    ) -> dict[str, str]:
        timestamp = _stamp(now, self.timestamp_unit)
        mac = _digest(self.keys[0], self._signed(body, timestamp, method, url), self.algorithm)
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
    timestamp_unit: TimestampUnit = "s"
    scheme: str = "stripe"

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
        *,
        method: str = "POST",
        url: str = "",
    ) -> None:
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
        timestamp = _timestamp(
            timestamp, "Stripe-Signature t=", now, self.tolerance, self.timestamp_unit
        )
        if not candidates:
            raise AuthFailed("Stripe-Signature holds no v1 signature")
        signed = f"{timestamp}.".encode() + body
        if not _any_match_keys(self.keys, signed, candidates, "sha256"):
            raise AuthFailed("no v1 signature in Stripe-Signature matches this body")

    def sign(
        self, body: bytes, event_id: str, now: float, *, method: str = "POST", url: str = ""
    ) -> dict[str, str]:
        timestamp = _stamp(now, self.timestamp_unit)
        mac = _digest(self.keys[0], f"{timestamp}.".encode() + body)
        return {"Stripe-Signature": f"t={timestamp},v1={mac.hex()}"}
