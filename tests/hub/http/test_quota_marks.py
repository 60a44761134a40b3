"""Calls adopted from the upstream (a 429, a lower remaining count) on a real Redis: one
counted mark per adoption, counted call by call by every figure."""

from __future__ import annotations

import time

import pytest
import redis

from hub.history.metrics import exposition
from hub.http.quota import Budget, RedisQuota
from hub.http.quota_claim import QuotaClaim
from hub.http.quota_report import BudgetStatus, quota_status
from hub.http.ratelimit import Observation
from tests.hub.history.test_metrics import samples, value
from tests.hub.http.test_quota import _fill, _wait


def _status(client: redis.Redis, key: str) -> BudgetStatus:
    return next(s for s in quota_status(client) if s.key == key)


def _sizes(client: redis.Redis, key: str) -> dict[str, int]:
    """Every Redis key of a budget, with its members (1 for a plain value)."""
    out = {}
    for raw in client.keys(f"hub:quota:{key}:*"):
        name = (raw.decode() if isinstance(raw, bytes) else raw).rsplit(":", 1)[1]
        kind = client.type(raw)
        out[name] = (
            client.zcard(raw) if kind == b"zset" else client.hlen(raw) if kind == b"hash" else 1
        )
    return out


@pytest.mark.parametrize("limit", [26_000, 1_000_000])
def test_a_429_fills_the_window_with_one_mark_whatever_the_limit(
    redis_client: redis.Redis, limit: int
) -> None:
    key = f"test:big:{limit}"
    quota = RedisQuota(redis_client, Budget(key, limit, 3600))
    _fill(quota, 3)
    lease = quota.acquire(QuotaClaim())
    before = _sizes(redis_client, key)
    assert before == {"log": 4, "stats": 1}
    quota.settle(lease, Observation(remaining=0, reset_seconds=1.0, pause_seconds=1.0))
    # one member for the limit - 4 calls the upstream counted and the hub did not make,
    # their sum, and the pause: nothing grows with the limit
    assert _sizes(redis_client, key) == {"log": 4, "stats": 1, "marks": 1, "marked": 1, "pause": 1}
    status = _status(redis_client, key)
    assert (status.used, status.remaining, status.in_flight) == (limit, 0, 0)
    assert 0.5 < status.paused_seconds <= 1.0
    # the oldest calls of the window are the upstream's: they leave with the 429's reset
    assert 0.5 < status.next_free_seconds <= 1.0
    other = RedisQuota(redis_client, quota.budget)  # another worker process
    claim = QuotaClaim()
    wait = _wait(other, claim)
    assert 0.5 < wait.wait <= 1.002
    time.sleep(wait.wait + 0.02)
    assert other.acquire(claim) is not None
    status = _status(redis_client, key)
    # the upstream's calls left together; the hub's own four and the new one remain
    assert (status.used, status.remaining, status.in_flight) == (5, limit - 5, 1)
    assert status.waiting_total == 0 and status.paused_seconds == 0
    # stats: call_ms, late_ms, idle_ms (slots left free while the ticket waited) and
    # lease_ms (the call lease the releaser grants woken steps with)
    assert _sizes(redis_client, key) == {"log": 5, "stats": 4}


def test_marks_count_call_by_call_in_waits_status_and_metrics(
    redis_client: redis.Redis,
) -> None:
    key = "test:marks"
    quota = RedisQuota(redis_client, Budget(key, 10, 60))
    _fill(quota, 1)  # A
    # the upstream counts 5 (the hub: 1) until 30 s from now: 4 calls of someone else's
    quota.settle(None, Observation(remaining=5, reset_seconds=30))
    _fill(quota, 1)  # B
    # now 7 (the hub: 6) until 45 s from now: one more
    quota.settle(None, Observation(remaining=3, reset_seconds=45))
    _fill(quota, 2)  # D, E
    quota.acquire(QuotaClaim())  # C, in flight
    assert redis_client.zcard(f"hub:quota:{key}:marks") == 2
    status = _status(redis_client, key)
    assert (status.used, status.in_flight, status.remaining) == (10, 1, 0)
    assert 29.5 < status.next_free_seconds <= 30.0
    # slots free oldest first: the first four with the first mark, the fifth with the
    # second, then one window after A, B, D and E ended
    waits = [_wait(quota, QuotaClaim()).wait for _ in range(7)]
    assert [round(w) for w in waits] == [30, 30, 30, 30, 45, 60, 60]
    assert waits[0] <= 30.002 and 44.5 < waits[4] <= 45.002 and 59.5 < waits[5] <= 60.002
    found = samples(exposition(redis_client).decode())
    assert value(found, "hub_quota_used", budget=key) == 10
    assert value(found, "hub_quota_in_flight", budget=key) == 1
    assert value(found, "hub_quota_remaining", budget=key) == 0
    assert value(found, "hub_quota_waiting", budget=key, priority="default") == 7
    # the seventh waiting step is served with the seventh slot: one window after B
    assert 59.5 < value(found, "hub_quota_drain_seconds", budget=key) <= 60.002


def test_marks_leave_one_by_one_and_leave_nothing_behind(redis_client: redis.Redis) -> None:
    key = "test:leave"
    quota = RedisQuota(redis_client, Budget(key, 10, 60))
    _fill(quota, 2)
    quota.settle(None, Observation(remaining=4, reset_seconds=0.3))  # 4 more
    quota.settle(None, Observation(remaining=1, reset_seconds=1.0))  # 3 more
    # a higher remaining adds nothing: the count already held is the floor
    quota.settle(None, Observation(remaining=5, reset_seconds=5))
    assert quota.used() == 9
    assert _status(redis_client, key).remaining == 1
    time.sleep(0.35)
    assert quota.used() == 5
    # the upstream now counts 4, fewer than the hub's 5: nothing changes
    quota.settle(None, Observation(remaining=6, reset_seconds=5))
    assert quota.used() == 5
    time.sleep(0.7)
    assert quota.used() == 2
    assert _sizes(redis_client, key) == {"log": 2, "stats": 1}


def test_a_reset_later_than_a_window_counts_as_in_flight_until_it_starts(
    redis_client: redis.Redis,
) -> None:
    """As when each adopted call had an entry: scored ahead of now, it has not ended."""
    key = "test:ahead"
    quota = RedisQuota(redis_client, Budget(key, 10, 1.0))
    quota.settle(None, Observation(remaining=4, reset_seconds=2.0))
    status = _status(redis_client, key)
    assert (status.used, status.in_flight, status.remaining) == (6, 6, 4)
    time.sleep(1.1)  # the mark's calls count down from 1 s on: ended now, gone at 2 s
    status = _status(redis_client, key)
    assert (status.used, status.in_flight, status.remaining) == (6, 0, 4)
