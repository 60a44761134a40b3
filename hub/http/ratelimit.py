"""What an upstream says about its own rate limit, read from its response headers.

A connector declares, as data, which headers its upstream sends (:class:`RateLimitHeaders`);
:meth:`RateLimitHeaders.observe` turns a response into an :class:`Observation` that the
quota adopts: a lower remaining allowance than the hub's own count, after a 429 a pause
of the whole budget until ``Retry-After`` (or the reset), and a *bare* 429 (one that
says neither) as a throttle the quota answers with a pause of its own, growing while
the 429s go on and forgotten at the first success. A client on several budgets (a burst
and a daily limit) reads each budget's own headers with :class:`PerBudget`, whose
observation carries one per budget key (:class:`~hub.http.budget_set.BudgetSet` hands
each its own).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from hub.http.failures import parse_retry_after

__all__ = [
    "RETRY_AFTER_ONLY",
    "X_RATELIMIT_HEADERS",
    "Observation",
    "PerBudget",
    "RateLimitHeaders",
    "RateLimitReader",
]

#: how an upstream writes its reset header
ResetFormat = Literal["seconds", "epoch_seconds"]


@dataclass(frozen=True)
class Observation:
    """The upstream's view of the budget, after one response."""

    #: calls the upstream still allows in its current window (``None``: not reported)
    remaining: int | None = None
    #: seconds until the upstream's count drops (``None``: not reported)
    reset_seconds: float | None = None
    #: seconds during which no call may be made at all (a 429's ``Retry-After``)
    pause_seconds: float | None = None
    #: a 429 that said neither when to call again nor when the count resets
    throttled: bool = False
    #: the call succeeded (a status below 400): the upstream is taking calls again
    succeeded: bool = False
    #: for a client on several budgets: each budget's own observation, by budget key
    by_budget: Mapping[str, Observation] | None = None


class RateLimitReader(Protocol):
    """Reads what an answer says of the budget: :class:`RateLimitHeaders`, :class:`PerBudget`."""

    def observe(
        self,
        status: int,
        headers: Mapping[str, str],
        *,
        now: Callable[[], float] = time.time,
    ) -> Observation | None: ...


@dataclass(frozen=True)
class RateLimitHeaders:
    """Names and formats of the rate-limit headers an upstream sends (``None``: not sent)."""

    remaining: str | None = None
    reset: str | None = None
    reset_format: ResetFormat = "seconds"
    retry_after: str = "Retry-After"

    def observe(
        self,
        status: int,
        headers: Mapping[str, str],
        *,
        now: Callable[[], float] = time.time,
    ) -> Observation | None:
        """What the response says about the budget; ``None`` when it says nothing."""
        remaining = _int(headers.get(self.remaining)) if self.remaining else None
        reset = self._reset(headers.get(self.reset), now) if self.reset else None
        pause: float | None = None
        throttled = False
        if status == 429:
            # refused for quota: when the upstream says until when, nothing is left till then
            pause = parse_retry_after(headers.get(self.retry_after), now=now)
            if pause is None:
                pause = reset
            if pause is not None:
                # a 429's Retry-After is the upstream's word on when to call again
                remaining = 0
                reset = pause
            else:
                throttled = True
        succeeded = status < 400
        if remaining is None and pause is None and not throttled and not succeeded:
            return None
        return Observation(
            remaining=remaining,
            reset_seconds=reset,
            pause_seconds=pause,
            throttled=throttled,
            succeeded=succeeded,
        )

    def _reset(self, raw: str | None, now: Callable[[], float]) -> float | None:
        value = _float(raw)
        if value is None:
            return None
        if self.reset_format == "epoch_seconds":
            value -= now()
        return max(0.0, value)


def _float(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw.strip())
    except ValueError:
        return None


def _int(raw: str | None) -> int | None:
    value = _float(raw)
    return None if value is None else max(0, int(value))


@dataclass(frozen=True)
class PerBudget:
    """The rate-limit headers of each budget of a client on several, by budget key."""

    budgets: Mapping[str, RateLimitHeaders]

    def observe(
        self,
        status: int,
        headers: Mapping[str, str],
        *,
        now: Callable[[], float] = time.time,
    ) -> Observation | None:
        """One observation per budget whose headers say something; ``None`` if none does."""
        parts = {}
        for key, reader in self.budgets.items():
            seen = reader.observe(status, headers, now=now)
            if seen is not None:
                parts[key] = seen
        return Observation(by_budget=parts) if parts else None


#: only the standard ``Retry-After`` on a 429
RETRY_AFTER_ONLY = RateLimitHeaders()
#: ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` in seconds from now
X_RATELIMIT_HEADERS = RateLimitHeaders(
    remaining="X-RateLimit-Remaining", reset="X-RateLimit-Reset", reset_format="seconds"
)
