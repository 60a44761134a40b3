"""Token auth shared by every worker: one cached token per API client, kept in Redis.

:class:`CachedTokenAuth` is an ``httpx.Auth`` flow: it sends the cached token, fetches a
new one (as a request yielded through the same client, so it passes the same quota and
transport) when none is cached, and refreshes once after a 401. What the token request
looks like and how its answer is read is the connector's part (:class:`TokenGrant`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from hub.errors import FatalError

__all__ = [
    "CachedTokenAuth",
    "RedisTokenCache",
    "Token",
    "TokenCache",
    "TokenGrant",
    "parse_token_response",
]

#: refresh this long before the upstream's expiry
REFRESH_MARGIN_SECONDS = 300.0


@dataclass(frozen=True)
class Token:
    """An access token and when (epoch seconds) it stops working."""

    value: str
    expires_at: float

    def __repr__(self) -> str:
        return f"Token(value='***', expires_at={self.expires_at:.0f})"


class TokenCache(Protocol):
    """Where tokens live between calls and processes."""

    def get(self) -> Token | None: ...
    def put(self, token: Token) -> None: ...
    def clear(self, value: str | None = None) -> None: ...


class TokenGrant(Protocol):
    """Builds the token request and reads its answer."""

    def build_request(self) -> httpx.Request: ...
    def parse(self, response: httpx.Response) -> Token: ...


def parse_token_response(
    body: dict[str, Any], *, now: Callable[[], float] = time.time, service: str = "upstream"
) -> Token:
    """Read ``accessToken``/``accessTokenExpiresAt`` or ``access_token``/``expires_in``."""
    value = body.get("accessToken") or body.get("access_token")
    if not isinstance(value, str) or not value:
        raise FatalError(f"{service} token answer has no access token (keys: {sorted(body)})")
    expires_at: float | None = None
    if body.get("accessTokenExpiresAt"):
        raw = str(body["accessTokenExpiresAt"]).replace("Z", "+00:00")
        try:
            expires_at = datetime.fromisoformat(raw).timestamp()
        except ValueError:
            expires_at = None
    if expires_at is None and body.get("expires_in") is not None:
        expires_at = now() + float(body["expires_in"])
    if expires_at is None:
        expires_at = now() + 3600.0
    return Token(value=value, expires_at=expires_at)


class RedisTokenCache:
    """One token per API client in Redis, shared by every worker process and host."""

    def __init__(self, redis: Any, key: str, *, now: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._key = key
        self._now = now

    def get(self) -> Token | None:
        raw = self._redis.get(self._key)
        if raw is None:
            return None
        data = json.loads(raw)
        token = Token(value=data["value"], expires_at=float(data["expires_at"]))
        if token.expires_at - REFRESH_MARGIN_SECONDS <= self._now():
            return None
        return token

    def put(self, token: Token) -> None:
        ttl = max(1, int(token.expires_at - REFRESH_MARGIN_SECONDS - self._now()))
        payload = json.dumps({"value": token.value, "expires_at": token.expires_at})
        self._redis.set(self._key, payload, ex=ttl)

    def clear(self, value: str | None = None) -> None:
        if value is None:
            self._redis.delete(self._key)
            return
        current = self._redis.get(self._key)
        if current is not None and json.loads(current)["value"] == value:
            self._redis.delete(self._key)


class CachedTokenAuth(httpx.Auth):
    """Bearer auth with a shared token cache; refreshes once on a 401."""

    requires_response_body = True

    def __init__(self, cache: TokenCache, grant: TokenGrant, *, service: str) -> None:
        self._cache = cache
        self._grant = grant
        self._service = service

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, Token]:
        response = yield self._grant.build_request()
        if response.status_code >= 400:
            detail = response.text[:200]
            raise FatalError(
                f"{self._service} refused the token request ({response.status_code}): {detail}"
                " - check the client id and secret",
                status=response.status_code,
            )
        token = self._grant.parse(response)
        self._cache.put(token)
        return token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._cache.get()
        if token is None:
            token = yield from self._fetch()
        request.headers["Authorization"] = f"Bearer {token.value}"
        response = yield request
        if response.status_code == 401:
            self._cache.clear(token.value)
            token = yield from self._fetch()
            request.headers["Authorization"] = f"Bearer {token.value}"
            yield request
