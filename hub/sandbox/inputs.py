"""Reading what a client sent a sandbox: forms, JSON objects, bearer tokens.

Each reader raises :class:`BadInput` with a message a sandbox can answer 400 (or the
status it carries) with, in its upstream's own error shape.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

__all__ = ["FORM", "BadInput", "bearer_token", "content_type", "read_form", "read_object"]

FORM = "application/x-www-form-urlencoded"


class BadInput(ValueError):
    """The request body or headers are not what the endpoint takes."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def content_type(request: Request) -> str:
    """The media type of the body, lower-case, without parameters (``""`` if none)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_form(request: Request) -> dict[str, str]:
    """The form fields of a ``application/x-www-form-urlencoded`` body."""
    if content_type(request) != FORM:
        raise BadInput(f"content must be {FORM}")
    body = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))


async def read_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}``)."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    return body


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header (any case), or ``None``."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None
