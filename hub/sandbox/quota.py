"""A rolling-window call limiter, in memory, per key (an API client).

A call at time ``t`` is admitted when fewer than ``limit`` counted calls have times in
``(t - window, t]``. By default only admitted calls are counted; with
``count_refused=True`` refused calls take up the window too, as some APIs meter them.
Check-and-count is one step under a lock, so concurrent callers never overshoot.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from hub.sandbox.clock import Clock

__all__ = ["QuotaDecision", "RollingWindowLimiter", "rate_limit_headers"]


@dataclass(frozen=True)
class QuotaDecision:
    """The outcome of one :meth:`RollingWindowLimiter.acquire`."""

    allowed: bool
    limit: int
    remaining: int
    #: seconds until the oldest counted call leaves the window (0 if none is counted)
    reset_seconds: float
    #: seconds until a call would be admitted (0 when admitted)
    retry_after: float

    @property
    def retry_after_header(self) -> str:
        """``Retry-After`` in whole seconds, rounded up, at least 1."""
        return str(max(1, math.ceil(self.retry_after)))


def rate_limit_headers(decision: QuotaDecision) -> dict[str, str]:
    """``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (reset: whole seconds, rounded up)."""
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(math.ceil(decision.reset_seconds)),
    }


class RollingWindowLimiter:
    """Sliding-log limiter: ``limit`` calls per ``window_seconds``, per key."""

    def __init__(
        self, limit: int, window_seconds: float, clock: Clock, *, count_refused: bool = False
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        self.limit = limit
        self.window = window_seconds
        self.count_refused = count_refused
        self._clock = clock
        self._logs: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _log(self, key: str, now: float) -> deque[float]:
        log = self._logs.setdefault(key, deque())
        while log and log[0] <= now - self.window:
            log.popleft()
        return log

    def _decision(self, log: deque[float], now: float, *, allowed: bool) -> QuotaDecision:
        reset = max(0.0, log[0] + self.window - now) if log else 0.0
        if len(log) < self.limit:
            retry = 0.0
        else:
            # the call that must leave for the count to drop below the limit
            retry = max(0.0, log[len(log) - self.limit] + self.window - now)
        return QuotaDecision(
            allowed=allowed,
            limit=self.limit,
            remaining=max(0, self.limit - len(log)),
            reset_seconds=reset,
            retry_after=0.0 if allowed else retry,
        )

    def acquire(self, key: str, now: float | None = None) -> QuotaDecision:
        """Count one call for ``key`` if the window has room; say how it went."""
        t = self._clock.monotonic() if now is None else now
        with self._lock:
            log = self._log(key, t)
            allowed = len(log) < self.limit
            if not allowed:
                if self.count_refused:
                    log.append(t)  # counted, so it also delays the next admission
                return self._decision(log, t, allowed=False)
            log.append(t)
            return self._decision(log, t, allowed=True)

    def peek(self, key: str, now: float | None = None) -> QuotaDecision:
        """The state for ``key`` without counting a call."""
        t = self._clock.monotonic() if now is None else now
        with self._lock:
            log = self._log(key, t)
            return self._decision(log, t, allowed=len(log) < self.limit)

    def seen(self) -> list[str]:
        """Every key seen since the last reset."""
        with self._lock:
            return sorted(self._logs)

    def reset(self) -> None:
        """Forget every call."""
        with self._lock:
            self._logs.clear()
