"""A client on two budgets: each call takes a slot from both, a wait gives back what it took,
each budget adopts what the upstream said of it."""

from __future__ import annotations

import pytest
import redis

from hub.core.errors import QuotaWait
from hub.http.budget_set import BudgetSet, Leases
from hub.http.quota import Budget, RedisQuota
from hub.http.quota_claim import QuotaClaim
from hub.http.ratelimit import Observation, PerBudget, RateLimitHeaders


def _set(client: redis.Redis, burst: int = 5, day: int = 100) -> BudgetSet:
    return BudgetSet(
        [
            RedisQuota(client, Budget("t:burst", burst, 10)),
            RedisQuota(client, Budget("t:day", day, 86_400)),
        ]
    )


def test_a_call_takes_a_slot_in_every_budget(redis_client: redis.Redis) -> None:
    budgets = _set(redis_client)
    lease = budgets.acquire(QuotaClaim())
    assert isinstance(lease, Leases) and [p.key for p in lease.parts] == ["t:burst", "t:day"]
    budgets.settle(lease)
    assert [q.used() for q in budgets.quotas] == [1, 1]


def test_the_first_budget_without_a_slot_waits_and_the_others_give_theirs_back(
    redis_client: redis.Redis,
) -> None:
    budgets = _set(redis_client, burst=5, day=2)
    for _ in range(2):
        budgets.settle(budgets.acquire(QuotaClaim()))
    with pytest.raises(QuotaWait) as wait:
        budgets.acquire(QuotaClaim())
    assert wait.value.key == "t:day" and wait.value.wait > 86_000
    assert [q.used() for q in budgets.quotas] == [2, 2]  # the burst slot taken was freed


def test_each_budget_adopts_its_own_observation(redis_client: redis.Redis) -> None:
    budgets = _set(redis_client, burst=5, day=100)
    reader = PerBudget(
        {
            "t:burst": RateLimitHeaders(remaining="X-Burst-Remaining"),
            "t:day": RateLimitHeaders(remaining="X-Day-Remaining"),
        }
    )
    seen = reader.observe(200, {"X-Burst-Remaining": "4", "X-Day-Remaining": "10"})
    assert (
        seen is not None
        and seen.by_budget is not None
        and set(seen.by_budget)
        == {
            "t:burst",
            "t:day",
        }
    )
    budgets.settle(budgets.acquire(QuotaClaim()), seen)
    assert [q.used() for q in budgets.quotas] == [1, 90]
    plain = reader.observe(200, {})  # a success with no headers says only that
    assert plain is not None and plain.by_budget == {
        "t:burst": Observation(succeeded=True),
        "t:day": Observation(succeeded=True),
    }
    assert reader.observe(500, {}) is None


def test_one_observation_for_all_is_adopted_by_each(redis_client: redis.Redis) -> None:
    budgets = _set(redis_client, burst=5, day=100)
    budgets.settle(budgets.acquire(QuotaClaim()), Observation(remaining=3))
    assert [q.used() for q in budgets.quotas] == [2, 97]


def test_a_bare_429_pauses_every_budget_and_the_longest_pause_is_answered(
    redis_client: redis.Redis,
) -> None:
    budgets = _set(redis_client, burst=5, day=100)
    held = budgets.settle(budgets.acquire(QuotaClaim()), Observation(throttled=True))
    assert held is not None and 0.9 < held <= 1.0
    assert all(q.raw_status().paused_ms > 800 for q in budgets.quotas)


def test_a_call_that_never_reached_the_upstream_gives_back_every_slot(
    redis_client: redis.Redis,
) -> None:
    budgets = _set(redis_client)
    budgets.give_back(budgets.acquire(QuotaClaim()))
    assert [q.used() for q in budgets.quotas] == [0, 0]
