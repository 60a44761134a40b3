"""How upstream failures are classified and how long to back off.

One policy for every connector: 429, 500, 502, 503, 504 and transport errors are
retriable with exponential backoff and full jitter, ``Retry-After`` honoured; other
4xx answers are fatal. The step task asks :meth:`RetryPolicy.delay` for its countdown
instead of sleeping, so a waiting call holds no worker.

A 429 is first a quota signal: when the client's budget paused for it (with or without
``Retry-After``; see :mod:`hub.http.quota`), :func:`as_throttled` makes it a
:class:`~hub.core.errors.Throttled` wait, which spends no attempt. Only a client with no
budget to pause (``hub test``'s) sees a 429 as a retriable error.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import httpx

from hub.core import FatalError, RetryableError, Throttled, UpstreamError

__all__ = [
    "QUOTA_PAUSE",
    "RETRIABLE_STATUSES",
    "RetryPolicy",
    "as_throttled",
    "classify_response",
    "classify_transport_error",
    "parse_retry_after",
]

RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: where an answer carries the seconds its client's budget is paused for, once settled
QUOTA_PAUSE = "hub.quota_pause"


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and backoff bounds; ``rng`` is injectable for tests."""

    max_attempts: int = 5
    base_seconds: float = 1.0
    cap_seconds: float = 300.0
    rng: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def with_overrides(
        self,
        *,
        max_attempts: int | None = None,
        base_seconds: float | None = None,
        cap_seconds: float | None = None,
    ) -> RetryPolicy:
        """This policy with the given values replaced (``None`` keeps the current one)."""
        return replace(
            self,
            max_attempts=self.max_attempts if max_attempts is None else max_attempts,
            base_seconds=self.base_seconds if base_seconds is None else base_seconds,
            cap_seconds=self.cap_seconds if cap_seconds is None else cap_seconds,
        )

    def should_retry(self, attempt: int) -> bool:
        """True while attempt number ``attempt`` (1-based) may be followed by another."""
        return attempt < self.max_attempts

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt``: full jitter, or Retry-After."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.cap_seconds)
        ceiling = min(self.cap_seconds, self.base_seconds * (2 ** max(0, attempt - 1)))
        return float(ceiling * self.rng())


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def _upstream_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "detail"):
            if body.get(key):
                # ASP.NET Web API names the invalid fields in modelState
                details = body.get("modelState")
                extra = f" {json.dumps(details, sort_keys=True)}" if details else ""
                return f"{body[key]}{extra}"[:300]
    return str(body)[:300]


def classify_response(
    response: httpx.Response, *, service: str, now: Callable[[], float] = time.time
) -> UpstreamError | None:
    """None for a success; otherwise the typed error the caller should act on.

    ``now`` is the wall clock a ``Retry-After`` date is read on.
    """
    status = response.status_code
    if status < 400:
        return None
    request = response.request
    message = (
        f"{service} answered {status} for {request.method} {request.url.path}: "
        f"{_upstream_message(response)}"
    )
    if status in RETRIABLE_STATUSES:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now=now)
        return RetryableError(message, status=status, retry_after=retry_after)
    return FatalError(message, status=status)


def as_throttled(response: httpx.Response, error: UpstreamError | None) -> Throttled | None:
    """``error`` as a quota wait when ``response`` is a 429 its budget paused for."""
    paused = response.extensions.get(QUOTA_PAUSE)
    if error is None or response.status_code != 429 or not paused:
        return None
    return Throttled(
        f"{error}; the client's budget is paused {float(paused):.2f}s",
        key=str(response.request.url.host),
        wait=float(paused),
    )


def classify_transport_error(exc: httpx.TransportError, *, service: str) -> RetryableError:
    """Connection failures and timeouts are retriable."""
    return RetryableError(f"{service} unreachable: {type(exc).__name__}: {exc}")
