"""Failed authentication, cheap and bounded: a limit per source and client address.

Checking a signature costs an HMAC over the whole body; a sender (or someone guessing
keys) that keeps failing would make the ingress compute one per request and log a line
per refusal. :class:`AuthFailures` counts refused authentications per source and client
address in fixed windows of ``HUB_AUTH_FAILURE_WINDOW_SECONDS``: once a pair has
``HUB_AUTH_FAILURE_LIMIT`` refusals in the current window, its deliveries are answered
429 with ``Retry-After`` (the seconds left in the window) before the body is read or any
HMAC computed. Other clients, and the same client on other sources, are not affected.

Refusals are not logged one by one: when a window with refusals ends, one summary line
says how many there were, how many were answered 429, and the worst pairs. Counts are
kept per ingress process, in memory (at most :data:`MAX_TRACKED` pairs per window; past
that, new pairs share one count per source), so N replicas allow N times the limit.
The client address comes from :class:`~hub.ingress.client_address.ClientAddress`:
behind a proxy, list it in ``HUB_TRUSTED_PROXIES`` or every sender shares its address.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MAX_TRACKED", "AuthFailures"]

log = logging.getLogger("hub.ingress")

#: pairs counted one by one per window; more share one count per source
MAX_TRACKED = 100_000
#: pairs named in a window's summary line
NAMED_IN_SUMMARY = 5
_OVERFLOW = "(other clients)"


@dataclass(slots=True)
class _Tally:
    refused: int = 0
    limited: int = 0
    reason: str = ""


class AuthFailures:
    """Refused authentications per ``(source, client)``: at most ``limit`` a ``window``
    (seconds) before the pair is answered 429; ``limit`` 0 counts but never limits."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._max_tracked = max_tracked
        self._ends = clock() + window
        self._tallies: dict[tuple[str, str], _Tally] = {}

    def retry_after(self, source: str, client: str) -> int | None:
        """Seconds until ``client`` may try ``source`` again, or None if it may now.

        A delivery this answers for is counted as limited (for the summary)."""
        self._roll()
        tally = self._tallies.get((source, client))
        if tally is None or not self._limit or tally.refused < self._limit:
            return None
        tally.limited += 1
        return max(1, math.ceil(self._ends - self._clock()))

    def refused(self, source: str, client: str, reason: str = "") -> None:
        """Count one failed authentication of ``client`` on ``source`` (the summary
        gives the last ``reason`` of each pair it names)."""
        self._roll()
        key = (source, client)
        tally = self._tallies.get(key)
        if tally is None:
            if len(self._tallies) >= self._max_tracked:
                key = (source, _OVERFLOW)
            tally = self._tallies.setdefault(key, _Tally())
        tally.refused += 1
        tally.reason = reason

    def _roll(self) -> None:
        now = self._clock()
        if now < self._ends:
            return
        if self._tallies:
            self._summarize()
            self._tallies = {}
        self._ends = now + self._window

    def _summarize(self) -> None:
        refused = sum(t.refused for t in self._tallies.values())
        limited = sum(t.limited for t in self._tallies.values())
        worst = sorted(self._tallies.items(), key=lambda item: -item[1].refused - item[1].limited)
        named = "; ".join(
            f"{source} from {client}: {t.refused}"
            + (f", then {t.limited} answered 429" if t.limited else "")
            + (f" ({t.reason})" if t.reason else "")
            for (source, client), t in worst[:NAMED_IN_SUMMARY]
        )
        more = len(worst) - NAMED_IN_SUMMARY
        log.warning(
            "authentication failed %d time(s) in %g s, %d more deliveries answered 429 "
            "unchecked: %s%s",
            refused,
            self._window,
            limited,
            named,
            f"; and {more} more source/client pair(s)" if more > 0 else "",
        )
