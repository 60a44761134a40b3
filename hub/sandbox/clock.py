"""Clocks for sandboxes: the system clock, and a fake one tests move by hand.

A clock gives monotonic seconds (for windows, expiry and latency), wall time (for
timestamps shown to clients), and an async ``sleep``. :class:`FakeClock` keeps both
readings in step and its ``sleep`` advances time instead of waiting.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock", "iso_utc"]


class Clock(Protocol):
    """What a sandbox needs to know about time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    def now(self) -> datetime:
        """The current wall time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock: :func:`time.monotonic`, UTC wall time, :func:`asyncio.sleep`."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """A clock that moves only when told; ``sleep`` advances it and returns at once."""

    def __init__(
        self, start: float = 1000.0, wall: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    ) -> None:
        self._start = start
        self._t = start
        self._wall = wall

    def monotonic(self) -> float:
        return self._t

    def now(self) -> datetime:
        return self._wall + timedelta(seconds=self._t - self._start)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self._t += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)


def iso_utc(moment: datetime) -> str:
    """``2024-01-01T00:00:00.000Z``: ISO 8601 UTC with milliseconds, as Mongo/JS print it."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
