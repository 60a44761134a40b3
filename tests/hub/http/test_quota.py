from __future__ import annotations

import pytest
import redis

from hub.errors import QuotaWait
from hub.http.quota import Budget, RedisQuota


def test_strict_limit_then_wait_until_oldest_leaves(redis_client: redis.Redis) -> None:
    quota = RedisQuota(redis_client, Budget("test:client", limit=5, window_seconds=60))
    for _ in range(5):
        quota.acquire()
    assert quota.used() == 5
    with pytest.raises(QuotaWait) as info:
        quota.acquire()
    assert 59.0 < info.value.wait <= 60.01
    assert quota.used() == 5


def test_budgets_are_separate_per_client(redis_client: redis.Redis) -> None:
    a = RedisQuota(redis_client, Budget("plutio:a", limit=1, window_seconds=60))
    b = RedisQuota(redis_client, Budget("plutio:b", limit=1, window_seconds=60))
    a.acquire()
    b.acquire()
    with pytest.raises(QuotaWait):
        a.acquire()


def test_slot_frees_after_window(redis_client: redis.Redis) -> None:
    import time

    quota = RedisQuota(redis_client, Budget("test:short", limit=2, window_seconds=0.3))
    quota.acquire()
    quota.acquire()
    with pytest.raises(QuotaWait) as info:
        quota.acquire()
    time.sleep(info.value.wait + 0.01)
    quota.acquire()


def test_cost_larger_than_limit_is_refused(redis_client: redis.Redis) -> None:
    quota = RedisQuota(redis_client, Budget("test:cost", limit=2, window_seconds=60))
    with pytest.raises(ValueError, match="can never fit"):
        quota.acquire(cost=3)
