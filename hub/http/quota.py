"""Cluster-wide call budgets kept in Redis: a strict sliding log per API client.

Every worker process on every host takes its slot from one sorted set per budget, in
one atomic Lua script that reads the Redis server's clock, so in any rolling window no
more than ``limit`` calls are made, whatever the number of workers. A call that finds
no slot raises :class:`~hub.errors.QuotaWait` with the time until one frees: the caller
re-schedules itself instead of sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from hub.errors import QuotaWait

__all__ = ["Budget", "Quota", "RedisQuota", "Unlimited"]

_ACQUIRE = """
local log, seq = KEYS[1], KEYS[2]
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
local used = redis.call('ZCARD', log)
if used + cost <= limit then
  for i = 1, cost do
    redis.call('ZADD', log, now, redis.call('INCR', seq))
  end
  redis.call('PEXPIRE', log, window)
  redis.call('PEXPIRE', seq, window)
  return {1, 0, used + cost}
end
if cost > limit then
  return {0, -1, used}
end
local leave = redis.call('ZRANGE', log, used + cost - limit - 1, used + cost - limit - 1,
  'WITHSCORES')
return {0, tonumber(leave[2]) + window - now + 1, used}
"""


@dataclass(frozen=True)
class Budget:
    """A limit of ``limit`` calls in any ``window_seconds``, for one API client."""

    key: str
    limit: int
    window_seconds: float


class Quota(Protocol):
    """Takes a slot for one upstream call or raises :class:`QuotaWait`."""

    def acquire(self, cost: int = 1) -> None: ...


class Unlimited:
    """No budget: for upstreams without a documented limit."""

    def acquire(self, cost: int = 1) -> None:
        return None


class RedisQuota:
    """A strict sliding-log budget in Redis, shared by the whole cluster."""

    def __init__(self, redis: Any, budget: Budget) -> None:
        self._redis = redis
        self.budget = budget
        self._script = redis.register_script(_ACQUIRE)
        self._keys = [f"hub:quota:{budget.key}:log", f"hub:quota:{budget.key}:seq"]

    def acquire(self, cost: int = 1) -> None:
        window_ms = int(self.budget.window_seconds * 1000)
        ok, wait_ms, _used = self._script(
            keys=self._keys, args=[self.budget.limit, window_ms, cost]
        )
        if int(ok) == 1:
            return
        if int(wait_ms) < 0:
            raise ValueError(f"a call costing {cost} can never fit budget {self.budget}")
        raise QuotaWait(self.budget.key, int(wait_ms) / 1000.0)

    def used(self) -> int:
        """Calls in the current window (for display)."""
        window_ms = int(self.budget.window_seconds * 1000)
        seconds, micros = self._redis.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        return int(self._redis.zcount(self._keys[0], now_ms - window_ms + 1, "+inf"))
