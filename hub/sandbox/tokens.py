"""Bearer tokens a sandbox issues, with expiry on the injected clock."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from hub.sandbox.clock import Clock

__all__ = ["IssuedToken", "TokenCheck", "TokenStore"]


@dataclass(frozen=True)
class IssuedToken:
    """One access token and the API client it belongs to."""

    value: str
    client_id: str
    #: monotonic seconds after which the token is expired
    expires_at: float
    #: the same moment in wall time, for the token response
    expires_wall: datetime
    ttl_seconds: float


@dataclass(frozen=True)
class TokenCheck:
    """What a presented token turned out to be."""

    state: Literal["valid", "expired", "unknown", "missing"]
    client_id: str | None = None


class TokenStore:
    """Issues, checks and expires tokens; expired tokens stay known (and say so)."""

    def __init__(self, clock: Clock, rng: random.Random, ttl_seconds: float) -> None:
        self._clock = clock
        self._rng = rng
        self.ttl_seconds = ttl_seconds
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    def issue(self, client_id: str) -> IssuedToken:
        """A fresh token for ``client_id``, valid for ``ttl_seconds``."""
        with self._lock:
            value = f"{self._rng.getrandbits(160):040x}"
            token = IssuedToken(
                value=value,
                client_id=client_id,
                expires_at=self._clock.monotonic() + self.ttl_seconds,
                expires_wall=self._clock.now() + timedelta(seconds=self.ttl_seconds),
                ttl_seconds=self.ttl_seconds,
            )
            self._tokens[value] = token
            return token

    def check(self, value: str | None) -> TokenCheck:
        """Whether ``value`` is a live token, and whose."""
        if not value:
            return TokenCheck("missing")
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            return TokenCheck("unknown")
        if self._clock.monotonic() >= token.expires_at:
            return TokenCheck("expired", token.client_id)
        return TokenCheck("valid", token.client_id)

    def expire_all(self) -> int:
        """Expire every live token now; answer how many were live."""
        now = self._clock.monotonic()
        wall = self._clock.now()
        with self._lock:
            live = [t for t in self._tokens.values() if t.expires_at > now]
            for token in live:
                self._tokens[token.value] = replace(token, expires_at=now, expires_wall=wall)
            return len(live)

    def clear(self) -> None:
        """Forget every token."""
        with self._lock:
            self._tokens.clear()
