"""Verification handshakes: what a sender asks before it delivers, answered at once.

Several senders refuse to deliver until the URL answers a challenge. A source file lists
the handshakes it answers (``handshakes:``, or its preset's); each is answered before
anything is read as an event, so a handshake never starts a run nor is stored:

- ``echo``: when the body's fields equal ``when`` (dotted paths), answer the value of
  the body's ``reply`` field, as text or as ``{"<reply>": value}`` (``reply_as: json``).
  Slack's ``url_verification`` is ``when: {type: url_verification}, reply: challenge``.
- ``zoom``: Zoom's ``endpoint.url_validation``: answer ``plainToken`` and
  ``encryptedToken``, the hex HMAC-SHA256 of the plain token with the source's secret
  (Zoom's secret token, the one it signs with).
- ``hub-challenge``: Meta's (and WebSub's) ``GET ?hub.mode=subscribe&hub.verify_token=...
  &hub.challenge=...``: the challenge is answered only when the verify token is the one
  named by ``token``.

A POST handshake is authenticated like any delivery of the source (Slack and Zoom sign
theirs); ``signed: false`` on an ``echo`` answers it before authentication, for senders
that do not sign their handshake.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.intake.extract import check_path
from hub.intake.routing import json_path
from hub.intake.secret_refs import check_ref, ref_names
from hub.intake.signatures import any_match

__all__ = [
    "ChallengeConfig",
    "Echo",
    "EchoConfig",
    "Handshake",
    "HandshakeConfig",
    "HubChallenge",
    "Reply",
    "ZoomConfig",
    "ZoomValidation",
    "answer",
]

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EchoConfig(_Model):
    """``kind: echo``: when the body matches ``when``, answer its ``reply`` field."""

    kind: Literal["echo"]
    when: dict[str, str | int | bool] = Field(
        min_length=1, description="Body fields (dotted paths) and the values they must have."
    )
    reply: str = Field(description="The body field whose value is the answer.")
    reply_as: Literal["text", "json"] = "text"
    signed: bool = Field(
        default=True, description="False: answered before the source's authentication."
    )

    @field_validator("reply")
    @classmethod
    def _path(cls, value: str) -> str:
        return check_path(value)

    @field_validator("when")
    @classmethod
    def _paths(cls, value: dict[str, Any]) -> dict[str, Any]:
        for path in value:
            check_path(path)
        return value


class ZoomConfig(_Model):
    """``kind: zoom``: Zoom's ``endpoint.url_validation``."""

    kind: Literal["zoom"]
    secret: str | None = Field(
        default=None, description="'{{ secrets.NAME }}'; default: the source's auth secret."
    )

    @field_validator("secret")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        return None if value is None else check_ref(value)


class ChallengeConfig(_Model):
    """``kind: hub-challenge``: ``GET ?hub.mode=subscribe&hub.verify_token=&hub.challenge=``."""

    kind: Literal["hub-challenge"]
    token: str = Field(description="The verify token, '{{ secrets.NAME }}'.")

    @field_validator("token")
    @classmethod
    def _ref(cls, value: str) -> str:
        return check_ref(value)

    @property
    def secret_names(self) -> list[str]:
        return ref_names([self.token])


HandshakeConfig = Annotated[EchoConfig | ZoomConfig | ChallengeConfig, Field(discriminator="kind")]


@dataclass(slots=True)
class Reply:
    """The answer to a handshake: ``status``, ``body`` and its ``content_type``."""

    status: int
    body: bytes
    content_type: str
    #: what was answered, for the log line
    what: str

    @classmethod
    def error(cls, status: int, message: str, what: str) -> Reply:
        return cls(status, json.dumps({"error": message}).encode(), JSON, what)


class Handshake(Protocol):
    """A POST handshake: the reply when ``body`` is one, else None."""

    @property
    def signed(self) -> bool: ...

    def answer(self, body: Any) -> Reply | None: ...


@dataclass(frozen=True)
class Echo:
    """See :class:`EchoConfig`."""

    when: tuple[tuple[str, Any], ...]
    reply: str
    reply_as: Literal["text", "json"] = "text"
    signed: bool = True

    def answer(self, body: Any) -> Reply | None:
        for path, value in self.when:
            found = json_path(body, path)
            if found != value or isinstance(found, bool) != isinstance(value, bool):
                return None
        what = "handshake " + " ".join(f"{p}={v}" for p, v in self.when)
        challenge = json_path(body, self.reply)
        if isinstance(challenge, bool) or not isinstance(challenge, str | int):
            return Reply.error(400, f"the handshake has no '{self.reply}' to answer", what)
        if self.reply_as == "json":
            key = self.reply.rsplit(".", 1)[-1]
            return Reply(200, json.dumps({key: challenge}).encode(), JSON, what)
        return Reply(200, str(challenge).encode(), TEXT, what)


@dataclass(frozen=True)
class ZoomValidation:
    """See :class:`ZoomConfig`; ``key`` is Zoom's secret token."""

    key: bytes
    signed: bool = True

    def answer(self, body: Any) -> Reply | None:
        if json_path(body, "event") != "endpoint.url_validation":
            return None
        what = "handshake endpoint.url_validation"
        token = json_path(body, "payload.plainToken")
        if not isinstance(token, str) or not token:
            return Reply.error(400, "endpoint.url_validation without payload.plainToken", what)
        encrypted = hmac.new(self.key, token.encode(), hashlib.sha256).hexdigest()
        text = json.dumps({"plainToken": token, "encryptedToken": encrypted})
        return Reply(200, text.encode(), JSON, what)


@dataclass(frozen=True)
class HubChallenge:
    """See :class:`ChallengeConfig`; ``tokens`` are the verify tokens accepted."""

    tokens: tuple[bytes, ...]

    def answer(self, query: Mapping[str, str]) -> Reply:
        """The reply to ``GET /hooks/{source}?<query>``."""
        what = "handshake hub.challenge"
        mode, token = query.get("hub.mode"), query.get("hub.verify_token")
        challenge = query.get("hub.challenge")
        if mode != "subscribe" or token is None or not challenge:
            return Reply.error(
                400,
                "a verification GET carries hub.mode=subscribe, hub.verify_token and hub.challenge",
                what,
            )
        if not any_match(token.encode(), list(self.tokens)):
            return Reply.error(403, "hub.verify_token does not match this source's", what)
        return Reply(200, challenge.encode(), TEXT, what)


def answer(handshakes: Iterable[Handshake], body: Any, *, signed: bool) -> Reply | None:
    """The reply of the first of ``handshakes`` (those ``signed`` or not) that ``body``
    is, or None when it is none of them."""
    for handshake in handshakes:
        if handshake.signed == signed:
            reply = handshake.answer(body)
            if reply is not None:
                return reply
    return None
