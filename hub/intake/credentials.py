"""Webhook schemes where the sender sends a credential itself: a shared secret header,
a bearer token, HTTP Basic; and ``none``.

They follow :class:`~hub.intake.signatures.Verifier` like the signature schemes, and
compare in constant time against every configured secret (several while rotating).
Reasons name the header at fault, never the credential.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from hub.intake.signatures import AuthFailed, any_match

__all__ = ["Basic", "Bearer", "NoAuth", "SharedSecret"]


@dataclass(frozen=True)
class SharedSecret:
    """A header that carries the secret itself (e.g. an upstream's custom webhook header)."""

    keys: tuple[bytes, ...]
    header: str = "X-Webhook-Secret"
    scheme: str = "shared-secret"

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
        *,
        method: str = "POST",
        url: str = "",
    ) -> None:
        value = headers.get(self.header.lower())
        if not value:
            raise AuthFailed(f"missing {self.header} header")
        if not any_match(value.encode(), list(self.keys)):
            raise AuthFailed(f"wrong {self.header}")

    def sign(
        self, body: bytes, event_id: str, now: float, *, method: str = "POST", url: str = ""
    ) -> dict[str, str]:
        return {self.header: self.keys[0].decode()}


def _authorization(headers: Mapping[str, str], kind: str, shape: str) -> str:
    """The credentials of an ``Authorization: <kind> <credentials>`` header."""
    value = headers.get("authorization")
    if not value:
        raise AuthFailed("missing Authorization header")
    given, _, credentials = value.strip().partition(" ")
    if given.lower() != kind.lower() or not credentials.strip():
        raise AuthFailed(f"Authorization is not '{kind} {shape}'")
    return credentials.strip()


@dataclass(frozen=True)
class Bearer:
    """``Authorization: Bearer <token>``."""

    keys: tuple[bytes, ...]
    scheme: str = "bearer"

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
        *,
        method: str = "POST",
        url: str = "",
    ) -> None:
        token = _authorization(headers, "Bearer", "<token>")
        if not any_match(token.encode(), list(self.keys)):
            raise AuthFailed("wrong bearer token")

    def sign(
        self, body: bytes, event_id: str, now: float, *, method: str = "POST", url: str = ""
    ) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.keys[0].decode()}


@dataclass(frozen=True)
class Basic:
    """HTTP Basic (RFC 7617): ``Authorization: Basic <base64 of user:password>``; each
    key is a ``user:password`` the sender may use (Pipedrive's webhook credentials)."""

    keys: tuple[bytes, ...]
    scheme: str = "basic"

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
        *,
        method: str = "POST",
        url: str = "",
    ) -> None:
        credentials = _authorization(headers, "Basic", "<base64 of user:password>")
        try:
            given = base64.b64decode(credentials, validate=True)
        except (binascii.Error, ValueError):
            raise AuthFailed("the Basic credentials in Authorization are not base64") from None
        if not any_match(given, list(self.keys)):
            raise AuthFailed("wrong user or password in Authorization")

    def sign(
        self, body: bytes, event_id: str, now: float, *, method: str = "POST", url: str = ""
    ) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(self.keys[0]).decode()}


@dataclass(frozen=True)
class NoAuth:
    """Accepts every request (an explicit ``auth: {scheme: none}``, or a local run)."""

    scheme: str = "none"

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
        *,
        method: str = "POST",
        url: str = "",
    ) -> None:
        return None

    def sign(
        self, body: bytes, event_id: str, now: float, *, method: str = "POST", url: str = ""
    ) -> dict[str, str]:
        return {}
