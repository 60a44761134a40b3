"""Token auth shared by every worker: one cached token per API client, kept in Redis.

:class:`CachedTokenAuth` is an ``httpx.Auth`` flow. It sends the cached token; when none
is cached, or the cached one is inside its refresh margin, it fetches one as a request
yielded through the same client (so it passes the same quota and transport); after a
401 it refreshes once and resends. What the token request looks like and how its answer
is read is the connector's part (:class:`TokenGrant`).

Fetching is single-flight for the whole cluster: the process that takes the cache's
refresh lock (``SET NX PX``) asks for the token; the others poll the cache for a short,
bounded while (a token request takes milliseconds) and, if no token appears, raise
:class:`~hub.core.errors.LockBusy` so their task is re-scheduled rather than held. Token
values never appear in a message, a log line or a ``repr``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from hub.core import FatalError, LockBusy, release_lock, try_lock
from hub.http.failures import classify_response

__all__ = [
    "MEMO_SECONDS",
    "REFRESH_MARGIN_SECONDS",
    "TOKEN_REQUEST",
    "CachedTokenAuth",
    "RedisTokenCache",
    "Token",
    "TokenCache",
    "TokenGrant",
    "parse_token_response",
]

#: the extension that marks a token request, so the client's quota claim takes a slot for
#: it beyond the operation's declared calls
TOKEN_REQUEST = "hub.token_request"

#: refresh this long before the upstream's expiry (at most half a token's lifetime)
REFRESH_MARGIN_SECONDS = 300.0
#: how long a process keeps the token it read before it reads it from Redis again
MEMO_SECONDS = 30.0

# Delete the cached token only if it is still the one named (a cjson-decoded payload),
# so a process that saw an old token rejected never drops the fresh one another put.
_CLEAR_IF = """
local raw = redis.call('GET', KEYS[1])
if raw and cjson.decode(raw)['value'] == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Token:
    """An access token and when (epoch seconds) it stops working."""

    value: str
    expires_at: float

    def __repr__(self) -> str:
        return f"Token(value='***', expires_at={self.expires_at:.0f})"


class TokenCache(Protocol):
    """Where tokens live between calls and processes, with a lock for fetching one."""

    def get(self) -> Token | None: ...
    def put(self, token: Token) -> None: ...
    def clear(self, value: str | None = None) -> None: ...
    def lock(self) -> str | None: ...
    def unlock(self, handle: str) -> None: ...


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
    """One token per API client in Redis, shared by every worker process and host.

    A token is served until its refresh time: ``margin_seconds`` before it expires, or
    half-way through its life for tokens shorter than twice the margin.

    The process keeps the token it last read or put for ``memo_seconds`` (never past its
    refresh time), so a call does not ask Redis for it each time. A token another process
    replaced meanwhile (after the upstream refused the old one) is then sent once more
    from here: the 401 clears the memo, and the token is read again from Redis.
    """

    def __init__(
        self,
        redis: Any,
        key: str,
        *,
        now: Callable[[], float] = time.time,
        margin_seconds: float = REFRESH_MARGIN_SECONDS,
        lock_ttl_seconds: float = 60.0,
        memo_seconds: float = MEMO_SECONDS,
    ) -> None:
        self._redis = redis
        self._key = key
        self._lock_key = f"{key}:refresh"
        self._now = now
        self._margin = margin_seconds
        self._lock_ttl = lock_ttl_seconds
        self._memo_seconds = memo_seconds
        self._memo: tuple[Token, float] | None = None  # the token, and until when
        self._clear_if = redis.register_script(_CLEAR_IF)

    def get(self) -> Token | None:
        now = self._now()
        if self._memo is not None and now < self._memo[1]:
            return self._memo[0]
        self._memo = None
        raw = self._redis.get(self._key)
        if raw is None:
            return None
        data = json.loads(raw)
        expires_at = float(data["expires_at"])
        refresh_at = float(data.get("refresh_at", expires_at - self._margin))
        if refresh_at <= now:
            return None
        token = Token(value=data["value"], expires_at=expires_at)
        self._remember(token, refresh_at, now)
        return token

    def _remember(self, token: Token, refresh_at: float, now: float) -> None:
        self._memo = (token, min(refresh_at, now + self._memo_seconds))

    def put(self, token: Token) -> None:
        now = self._now()
        lifetime = max(0.0, token.expires_at - now)
        refresh_at = token.expires_at - min(self._margin, lifetime / 2)
        payload = json.dumps(
            {"value": token.value, "expires_at": token.expires_at, "refresh_at": refresh_at}
        )
        self._redis.set(self._key, payload, px=max(1000, int((refresh_at - now) * 1000)))
        self._remember(token, refresh_at, now)

    def clear(self, value: str | None = None) -> None:
        if self._memo is not None and value in (None, self._memo[0].value):
            self._memo = None
        if value is None:
            self._redis.delete(self._key)
        else:
            self._clear_if(keys=[self._key], args=[value])

    def lock(self) -> str | None:
        """Take the right to fetch a token; a handle for :meth:`unlock`, or None if held."""
        return try_lock(self._redis, self._lock_key, ttl_seconds=self._lock_ttl)

    def unlock(self, handle: str) -> None:
        release_lock(self._redis, self._lock_key, handle)


class CachedTokenAuth(httpx.Auth):
    """Bearer auth with a shared, single-flight token cache; refreshes once on a 401."""

    requires_response_body = True

    def __init__(
        self,
        cache: TokenCache,
        grant: TokenGrant,
        *,
        service: str,
        wait_seconds: float = 5.0,
        poll_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cache = cache
        self._grant = grant
        self._service = service
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds
        self._sleep = sleep
        self._monotonic = monotonic

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, Token]:
        request = self._grant.build_request()
        request.extensions[TOKEN_REQUEST] = True  # a call beyond the operation's own
        response = yield request
        error = classify_response(response, service=self._service)
        if isinstance(error, FatalError):
            raise FatalError(
                f"{self._service} refused the token request: {error} "
                "- check the client id and secret",
                status=error.status,
            )
        if error is not None:
            raise error
        token = self._grant.parse(response)
        self._cache.put(token)
        return token

    def _token(
        self, rejected: str | None = None
    ) -> Generator[httpx.Request, httpx.Response, Token]:
        """A usable token other than ``rejected``: cached, fetched, or fetched by another."""
        deadline = self._monotonic() + self._wait_seconds
        while True:
            token = self._cache.get()
            if token is not None and token.value != rejected:
                return token
            handle = self._cache.lock()
            if handle is not None:
                try:
                    token = self._cache.get()  # put by the holder we just followed?
                    if token is not None and token.value != rejected:
                        return token
                    return (yield from self._fetch())
                finally:
                    self._cache.unlock(handle)
            if self._monotonic() >= deadline:
                raise LockBusy(f"{self._service} token request", wait=self._poll_seconds * 10)
            self._sleep(self._poll_seconds)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = yield from self._token()
        request.headers["Authorization"] = f"Bearer {token.value}"
        response = yield request
        if response.status_code == 401:
            self._cache.clear(token.value)
            token = yield from self._token(rejected=token.value)
            request.headers["Authorization"] = f"Bearer {token.value}"
            yield request
