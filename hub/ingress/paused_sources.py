"""Which sources an operator paused (``hub pause source``), as the ingress sees them.

The ingress answers a paused source's senders 503 with ``Retry-After``, so they keep
their events and send them again later. The paused sources are read from Redis
(:data:`~hub.core.pauses.PAUSED_KEY`) at most every ``max_age`` seconds, by one request
at a time while the others use what was read last, so a pause costs the hot path no
round trip per delivery and reaches every ingress within ``max_age``. When Redis cannot
be read, the last known pauses hold (the event store answers for Redis itself).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from hub.core import PAUSED_KEY

__all__ = ["PausedSources"]

log = logging.getLogger("hub.ingress")


class PausedSources:
    """Paused sources in ``redis`` (an asyncio client); ``retry_after`` is what their
    senders are told; ``clock`` is monotonic seconds."""

    def __init__(
        self,
        redis: Any,
        *,
        retry_after: int = 60,
        max_age: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._retry_after = retry_after
        self._max_age = max_age
        self._clock = clock
        self._paused: frozenset[str] = frozenset()
        self._read_at = float("-inf")
        self._reading: asyncio.Task[None] | None = None

    async def retry_after(self, source: str) -> int | None:
        """Seconds a sender of paused ``source`` should wait; None when it is not paused."""
        if self._clock() - self._read_at >= self._max_age:
            if self._reading is None or self._reading.done():
                self._reading = asyncio.create_task(self._read())
            await asyncio.shield(self._reading)
        return self._retry_after if source in self._paused else None

    async def _read(self) -> None:
        try:
            names = await self._redis.hkeys(PAUSED_KEY.format("source"))
        except (RedisError, OSError) as exc:
            log.warning("cannot read the paused sources (%s); the last known hold", exc)
            self._read_at = self._clock()
            return
        self._paused = frozenset(n.decode() if isinstance(n, bytes) else n for n in names)
        self._read_at = self._clock()
