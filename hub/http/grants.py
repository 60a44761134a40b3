"""OAuth 2 token grants sent form-encoded, and clear errors when the upstream refuses them.

- :class:`FormGrant` is a :class:`~hub.http.auth.TokenGrant`: it builds the token request
  (``client_credentials``, ``password``, ... as the form says) and reads the answer
  (``access_token``/``expires_in`` or ``accessToken``/``accessTokenExpiresAt``; without
  an expiry, ``default_ttl_seconds``). :meth:`FormGrant.explain` turns a refusal
  (``{"error": ..., "error_description": ...}``) into a typed error that says what to fix.
- :class:`GuardedTokenAuth` wraps a token auth flow (:class:`~hub.http.auth.CachedTokenAuth`)
  so a refused token request raises that explained error, 429/5xx answers to it stay
  retriable, and credentials the upstream refused are not sent again for a while: an
  upstream that locks an account after a few failed logins never sees a retry storm.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

import httpx

from hub.core import FatalError, RetryableError, Throttled, UpstreamError
from hub.http.auth import Token, parse_token_response
from hub.http.failures import as_throttled, classify_response

__all__ = [
    "FormGrant",
    "GuardedTokenAuth",
    "RedisRefusalMemo",
    "client_credentials_form",
    "client_credentials_grant",
    "password_form",
    "password_grant",
]

#: what to do about the standard OAuth 2 error codes (RFC 6749, section 5.2)
DEFAULT_HINTS: Mapping[str, str] = {
    "invalid_client": "check the client id and secret",
    "invalid_grant": "check the credentials the grant sends",
    "unauthorized_client": "this client may not use this grant type; check its settings upstream",
    "unsupported_grant_type": "the upstream does not accept this grant type",
    "invalid_request": "the token request was malformed",
}


def _describe(response: httpx.Response) -> tuple[str | None, str]:
    """The OAuth ``error`` code (if any) and a short description of a refusal."""
    try:
        body: Any = response.json()
    except ValueError:
        return None, response.text[:200].strip()
    if not isinstance(body, dict):
        return None, str(body)[:200]
    code = body.get("error")
    text = body.get("error_description") or body.get("message") or body.get("detail")
    return (str(code) if code else None), str(text or "")[:200]


class FormGrant:
    """A form-encoded OAuth 2 token request, and how its answers read."""

    def __init__(
        self,
        token_url: str,
        form: Mapping[str, str],
        *,
        service: str,
        default_ttl_seconds: float = 3600.0,
        hints: Mapping[str, str] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.url = httpx.URL(token_url)
        self.service = service
        self._form = dict(form)
        self._default_ttl = default_ttl_seconds
        self._hints = {**DEFAULT_HINTS, **(hints or {})}
        self._now = now

    @property
    def grant_type(self) -> str:
        return self._form.get("grant_type", "")

    def __repr__(self) -> str:
        return f"FormGrant({str(self.url)!r}, grant_type={self.grant_type!r}, form='***')"

    def is_token_request(self, request: httpx.Request) -> bool:
        """Whether ``request`` is this grant's token request."""
        return request.method == "POST" and request.url == self.url

    def build_request(self) -> httpx.Request:
        return httpx.Request("POST", self.url, data=self._form)

    def parse(self, response: httpx.Response) -> Token:
        try:
            body = response.json()
        except ValueError as exc:
            raise FatalError(f"{self.service} token answer is not JSON") from exc
        if not isinstance(body, dict):
            raise FatalError(f"{self.service} token answer is not a JSON object")
        if body.get("expires_in") is None and not body.get("accessTokenExpiresAt"):
            body = {**body, "expires_in": self._default_ttl}
        return parse_token_response(body, now=self._now, service=self.service)

    def explain(self, response: httpx.Response) -> UpstreamError | Throttled:
        """The typed error an unsuccessful token answer means, saying what to do."""
        retriable = classify_response(response, service=self.service, now=self._now)
        throttled = as_throttled(response, retriable)
        if throttled is not None:
            return throttled
        if isinstance(retriable, RetryableError):
            return retriable
        code, text = _describe(response)
        detail = f"{code}: {text}" if code and text else (code or text or "no detail")
        hint = self._hints.get(code or "", DEFAULT_HINTS["invalid_client"])
        return FatalError(
            f"{self.service} refused the token request ({response.status_code} {detail}): {hint}",
            status=response.status_code,
        )


def client_credentials_form(client_id: str, client_secret: str) -> dict[str, str]:
    """The token request form of ``grant_type=client_credentials``."""
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
    }


def password_form(
    client_id: str, client_secret: str, username: str, password: str
) -> dict[str, str]:
    """The token request form of ``grant_type=password``: client credentials plus a
    user's ``username``/``password``."""
    return {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "password",
        "username": username,
        "password": password,
    }


def client_credentials_grant(
    token_url: str, client_id: str, client_secret: str, *, service: str, **options: Any
) -> FormGrant:
    """``grant_type=client_credentials`` with ``client_id`` and ``client_secret``."""
    form = client_credentials_form(client_id, client_secret)
    return FormGrant(token_url, form, service=service, **options)


def password_grant(
    token_url: str,
    client_id: str,
    client_secret: str,
    username: str,
    password: str,
    *,
    service: str,
    **options: Any,
) -> FormGrant:
    """``grant_type=password``: client credentials plus a user's ``username``/``password``."""
    form = password_form(client_id, client_secret, username, password)
    return FormGrant(token_url, form, service=service, **options)


class RedisRefusalMemo:
    """Remembers in Redis, for ``hold_seconds``, that the upstream refused some credentials.

    Name the key after a fingerprint of the credentials, so that new credentials are
    tried at once.
    """

    def __init__(self, redis: Any, key: str, hold_seconds: float) -> None:
        self._redis = redis
        self.key = key
        self.hold_seconds = hold_seconds

    def get(self) -> str | None:
        raw = self._redis.get(self.key)
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    def remember(self, message: str) -> None:
        if self.hold_seconds > 0:
            self._redis.set(self.key, message, px=int(self.hold_seconds * 1000))

    def forget(self) -> None:
        self._redis.delete(self.key)


class GuardedTokenAuth(httpx.Auth):
    """Wraps a token auth flow: refusals explained, refused credentials held back."""

    requires_response_body = True

    def __init__(
        self, inner: httpx.Auth, grant: FormGrant, *, refusals: RedisRefusalMemo | None = None
    ) -> None:
        self._inner = inner
        self._grant = grant
        self._refusals = refusals
        self.requires_request_body = inner.requires_request_body

    def _held_back(self) -> FatalError | None:
        if self._refusals is None:
            return None
        earlier = self._refusals.get()
        if earlier is None:
            return None
        wait = f"{self._refusals.hold_seconds:g}"
        return FatalError(
            f"{earlier} [not sent again: the same credentials were refused within the last "
            f"{wait}s; fix them, or wait]"
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self._inner.auth_flow(request)
        try:
            try:
                outgoing = next(flow)
            except StopIteration:
                return
            while True:
                is_token = self._grant.is_token_request(outgoing)
                if is_token and (held := self._held_back()) is not None:
                    raise held
                response = yield outgoing
                if is_token and response.status_code >= 400:
                    error = self._grant.explain(response)
                    if self._refusals is not None and isinstance(error, FatalError):
                        self._refusals.remember(str(error))
                    raise error
                try:
                    outgoing = flow.send(response)
                except StopIteration:
                    return
        finally:
            # run the inner flow's own clean-up (it releases the token lock) now
            flow.close()
