"""Where every budget stands: the figures ``hub quota`` prints and a metrics endpoint serves.

Budgets register themselves in Redis (:data:`~hub.http.quota.BUDGETS_KEY`) when a
process first uses them, so :func:`quota_status` needs nothing but the Redis client.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from hub.http.quota import BUDGETS_KEY, Budget, RedisQuota
from hub.http.quota_claim import PRIORITIES

__all__ = ["BudgetStatus", "quota_status"]


@dataclass(frozen=True)
class BudgetStatus:
    """One budget's figures at one instant (seconds are from that instant)."""

    key: str
    #: the upstream's limit per window, and what the hub allows itself after the reserve
    limit: int
    effective_limit: int
    reserve_percent: float
    window_seconds: float
    #: calls in the current window (in flight and adopted from the upstream included)
    used: int
    #: of which granted and not answered yet
    in_flight: int
    remaining: int
    #: 0 when a slot is free now
    next_free_seconds: float
    #: >0 while a 429's Retry-After holds every call
    paused_seconds: float
    #: slots asked for by steps waiting for quota, by priority
    waiting: dict[str, int]
    #: time until every waiting ticket is granted, at the budget's pace
    drain_seconds: float
    #: calls made again because the step that made them then found no slot for its next
    #: one (its next attempt makes them again); goal 0
    repeated: int = 0
    #: calls' worth of quota left unused while steps waited for a slot (free slots times
    #: the time they stayed free, in windows)
    unused_calls: float = 0.0

    @property
    def waiting_total(self) -> int:
        return sum(self.waiting.values())

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "waiting_total": self.waiting_total}


def _budget_status(redis: Any, key: str, described: dict[str, Any]) -> BudgetStatus:
    budget = Budget(
        key,
        int(described["limit"]),
        float(described["window_seconds"]),
        float(described.get("reserve_percent", 0.0)),
    )
    raw = RedisQuota(redis, budget, register=False).raw_status()
    return BudgetStatus(
        key=key,
        limit=budget.limit,
        effective_limit=budget.effective_limit,
        reserve_percent=budget.reserve_percent,
        window_seconds=budget.window_seconds,
        used=raw.used,
        in_flight=raw.in_flight,
        remaining=max(0, budget.effective_limit - raw.used),
        next_free_seconds=raw.next_free_ms / 1000,
        paused_seconds=raw.paused_ms / 1000,
        waiting={p: raw.waiting[p] for p in PRIORITIES},
        drain_seconds=raw.drain_ms / 1000,
        repeated=raw.repeated,
        unused_calls=raw.idle_ms / budget.window_ms,
    )


def quota_status(redis: Any) -> list[BudgetStatus]:
    """Every registered budget's figures, sorted by key."""
    registered = redis.hgetall(BUDGETS_KEY)
    out = []
    for raw_key, raw_value in sorted(registered.items()):
        key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
        out.append(_budget_status(redis, key, json.loads(raw_value)))
    return out
