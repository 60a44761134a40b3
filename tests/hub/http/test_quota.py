"""RedisQuota on a real Redis server: strict window, leases, waiting room, adoption."""

from __future__ import annotations

import time

import pytest
import redis

from hub.core.errors import QuotaWait
from hub.http.quota import Budget, Lease, RedisQuota
from hub.http.quota_claim import QuotaClaim, use_claim
from hub.http.ratelimit import Observation


def _quota(
    client: redis.Redis,
    limit: int,
    window: float,
    *,
    lease_seconds: float = 120.0,
    ticket_grace_seconds: float = 5.0,
) -> RedisQuota:
    budget = Budget(f"test:{limit}:{window}", limit, window)
    return RedisQuota(
        client, budget, lease_seconds=lease_seconds, ticket_grace_seconds=ticket_grace_seconds
    )


def _wait(quota: RedisQuota, claim: QuotaClaim | None = None) -> QuotaWait:
    with pytest.raises(QuotaWait) as info:
        quota.acquire(claim)
    return info.value


def _fill(quota: RedisQuota, n: int) -> None:
    """``n`` calls by other steps."""
    for _ in range(n):
        quota.settle(quota.acquire(QuotaClaim()))


def test_strict_limit_then_wait_until_oldest_leaves(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 5, 60)
    _fill(quota, 5)
    assert quota.used() == 5
    wait = _wait(quota, QuotaClaim())
    assert 59.0 < wait.wait <= 60.01
    assert wait.ticket
    assert quota.used() == 5
    # outside any step a caller takes no place: it would never come back to use it
    outside = _wait(quota)
    assert outside.ticket is None
    assert sum(quota.raw_status().waiting.values()) == 1


def test_budgets_are_separate_per_client(redis_client: redis.Redis) -> None:
    a = RedisQuota(redis_client, Budget("plutio:a", limit=1, window_seconds=60))
    b = RedisQuota(redis_client, Budget("plutio:b", limit=1, window_seconds=60))
    a.acquire()
    b.acquire()
    _wait(a)


def test_slot_frees_one_window_after_the_call_ended(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 1, 1.0)
    lease = quota.acquire()
    time.sleep(0.6)  # a slow call: the upstream may have received it just now
    quota.settle(lease)
    time.sleep(0.5)  # a window after the grant, but not after the end
    wait = _wait(quota)
    assert 0.3 < wait.wait <= 0.6
    time.sleep(wait.wait + 0.02)
    quota.acquire(QuotaClaim())


def test_a_lease_never_settled_counts_until_it_runs_out_then_as_a_call(
    redis_client: redis.Redis,
) -> None:
    quota = _quota(redis_client, 1, 0.4, lease_seconds=0.2)
    quota.acquire()  # the caller dies: no settle
    _wait(quota)
    time.sleep(0.45)  # the lease ran out at 0.2 s: a call made then, in the window to 0.6 s
    _wait(quota)
    time.sleep(0.2)
    quota.acquire()


def test_reserve_is_left_for_other_users() -> None:
    assert Budget("p:c", 1000, 3600, reserve_percent=5).effective_limit == 950
    assert Budget("p:c", 30, 5, reserve_percent=5).effective_limit == 28
    assert Budget("p:c", 30, 5).effective_limit == 30
    with pytest.raises(ValueError, match="reserve"):
        Budget("p:c", 30, 5, reserve_percent=100)


def test_waits_line_up_one_slot_after_another(redis_client: redis.Redis) -> None:
    """With N callers ahead, the wait is until the (N+1)-th slot frees, rounds included."""
    quota = _quota(redis_client, 3, 60)
    for _ in range(3):
        quota.settle(quota.acquire())
        time.sleep(0.05)
    waits = [_wait(quota, QuotaClaim()).wait for _ in range(4)]
    assert waits[0] < waits[1] < waits[2]
    assert waits[1] - waits[0] == pytest.approx(0.05, abs=0.03)
    assert waits[3] == pytest.approx(waits[0] + 60, abs=0.05)


def test_higher_priority_waiters_take_the_next_slots(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 2, 0.3)
    _fill(quota, 2)
    bulk, default, interactive = (
        QuotaClaim(priority=p) for p in ("bulk", "default", "interactive")
    )
    for claim in (bulk, default, interactive):
        _wait(quota, claim)
    status = quota.raw_status()
    assert status.waiting == {"interactive": 1, "default": 1, "bulk": 1}
    time.sleep(0.35)  # both slots are free again
    _wait(quota, bulk)  # two callers ahead of it, two free slots: not its turn
    assert quota.acquire(interactive) is not None
    _wait(quota, bulk)  # default is still ahead of it, with one slot free
    assert quota.acquire(default) is not None
    assert quota.raw_status().waiting == {"interactive": 0, "default": 0, "bulk": 1}


def test_a_newcomer_does_not_overtake_waiters_of_its_class(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 1, 0.3)
    _fill(quota, 1)
    first = QuotaClaim(priority="bulk")
    _wait(quota, first)
    time.sleep(0.35)
    _wait(quota, QuotaClaim(priority="bulk"))  # a slot is free, but it is first's
    quota.settle(quota.acquire(QuotaClaim(priority="interactive")))  # a higher class goes
    time.sleep(0.35)
    assert quota.acquire(first) is not None


def test_a_ticket_not_presented_in_time_gives_up_its_place(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 1, 0.2, ticket_grace_seconds=0.1)
    _fill(quota, 1)
    gone = QuotaClaim(priority="interactive")
    _wait(quota, gone)  # its turn is in 0.2 s; its task is killed and never comes back
    time.sleep(0.45)
    assert quota.acquire(QuotaClaim(priority="bulk")) is not None
    # back late with its ticket, it still ranks by when it first asked
    late = QuotaClaim.from_state("interactive", gone.state())
    first = _wait(quota, late)
    second = _wait(quota, QuotaClaim(priority="interactive"))
    assert second.wait >= first.wait + 0.15  # one window later: the late one goes first
    status = quota.raw_status()
    assert status.waiting["interactive"] == 2


def test_a_step_delivered_again_takes_back_its_place(redis_client: redis.Redis) -> None:
    """Its worker died after the step took a ticket, before its task kept it."""
    quota = _quota(redis_client, 1, 0.3, ticket_grace_seconds=0.1)
    owners = f"hub:quota:{quota.budget.key}:owners"
    _fill(quota, 1)
    first = _wait(quota, QuotaClaim(owner="task-1"))
    behind = _wait(quota, QuotaClaim(owner="task-2"))
    # the same message again, with no ticket in it: the place it took, not a second one
    again = _wait(quota, QuotaClaim(owner="task-1"))
    assert again.ticket == first.ticket and again.wait <= first.wait
    assert quota.raw_status().waiting["default"] == 2
    assert behind.wait > first.wait + 0.2  # one window later: task-1 is still ahead
    time.sleep(first.wait + 0.02)
    assert quota.acquire(QuotaClaim(owner="task-1")) is not None
    assert redis_client.hkeys(owners) == [b"task-2"]
    time.sleep(behind.wait - first.wait + 0.15)  # task-2 never came back: its place is gone
    assert quota.raw_status().waiting["default"] == 0
    assert not redis_client.exists(owners)


def test_a_step_of_several_calls_asks_for_all_of_them_next_time(
    redis_client: redis.Redis,
) -> None:
    quota = _quota(redis_client, 3, 0.3)
    claim = QuotaClaim()
    with use_claim(claim):
        quota.settle(quota.acquire())
        _fill(quota, 2)  # other steps take the rest
        _wait(quota)
    assert claim.state()[quota.budget.key]["demand"] == 2
    time.sleep(0.35)
    again = QuotaClaim.from_state("default", claim.state())
    with use_claim(again):
        first = quota.acquire()
        assert quota.raw_status().used == 2  # both slots taken at once
        second = quota.acquire()  # the one taken ahead: no trip to Redis needed
        assert isinstance(second, Lease) and second.id != first.id
        quota.settle(first)
        quota.settle(second)
    assert quota.raw_status().used == 2


def test_slots_taken_ahead_and_not_used_are_given_back(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 5, 60)
    claim = QuotaClaim.from_state("default", {quota.budget.key: {"demand": 3}})
    with use_claim(claim):
        quota.settle(quota.acquire())
        assert quota.used() == 3
    assert quota.used() == 1


def test_retry_after_pauses_the_budget_for_everyone(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 100, 60)
    quota.settle(quota.acquire(), Observation(remaining=0, reset_seconds=0.5, pause_seconds=0.5))
    other = RedisQuota(redis_client, quota.budget)  # another worker process
    wait = _wait(other)
    assert 0.3 < wait.wait <= 0.51
    assert other.raw_status().paused_ms > 300


def test_a_lower_remaining_from_the_upstream_is_adopted(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 10, 60)
    quota.settle(quota.acquire(), Observation(remaining=3, reset_seconds=20))
    assert quota.used() == 7  # one call of ours, six of someone else's
    for _ in range(3):
        quota.acquire()
    wait = _wait(quota)
    assert 19 < wait.wait <= 20.1
    # a higher remaining changes nothing: the hub's own count stays the floor
    quota.settle(None, Observation(remaining=10, reset_seconds=1))
    assert quota.used() == 10


def test_status_figures(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 2, 60)
    status = quota.raw_status()
    assert (status.used, status.next_free_ms, status.drain_ms) == (0, 0, 0)
    _fill(quota, 2)
    for priority in ("bulk", "bulk", "interactive"):
        _wait(quota, QuotaClaim(priority=priority))
    status = quota.raw_status()
    assert status.used == 2
    assert 59_000 < status.next_free_ms <= 60_002
    assert status.waiting == {"interactive": 1, "default": 0, "bulk": 2}
    # three waiting, two slots a window: the last is served in the second window
    assert 119_000 < status.drain_ms <= 120_002


def test_scripts_are_loaded_again_after_a_redis_restart(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 5, 60)
    quota.settle(quota.acquire())
    redis_client.script_flush()  # what a restarted server has forgotten
    quota.settle(quota.acquire())
    assert quota.used() == 2


BARE_429 = Observation(throttled=True)
SUCCESS = Observation(succeeded=True)


def test_bare_429s_pause_everyone_longer_each_time_up_to_the_window(
    redis_client: redis.Redis,
) -> None:
    quota = _quota(redis_client, 100, 8)
    pause_key = f"hub:quota:{quota.budget.key}:pause"
    held = []
    for _ in range(5):
        held.append(quota.settle(quota.acquire(), BARE_429))
        redis_client.delete(pause_key)  # the pause ran out: the next call is a probe
    assert [round(h or 0) for h in held] == [1, 2, 4, 8, 8]  # capped at the window


def test_a_429_to_a_call_sent_before_the_pause_does_not_lengthen_it(
    redis_client: redis.Redis,
) -> None:
    quota = _quota(redis_client, 100, 60)
    first, second = quota.acquire(), quota.acquire()  # both out when the storm starts
    assert 0.9 < (quota.settle(first, BARE_429) or 0) <= 1.0
    assert (quota.settle(second, BARE_429) or 0) <= 1.0
    assert 0.5 < _wait(RedisQuota(redis_client, quota.budget)).wait <= 1.01


def test_after_bare_429s_one_probe_at_a_time_until_a_success(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 100, 60)
    quota.settle(quota.acquire(), BARE_429)
    redis_client.delete(f"hub:quota:{quota.budget.key}:pause")
    probe = quota.acquire()  # the pause is over: one call goes out
    other = RedisQuota(redis_client, quota.budget)  # another worker
    assert 0.05 < _wait(other).wait <= 0.3  # waits about as long as a call takes
    assert quota.settle(probe, SUCCESS) is None  # the upstream takes calls again
    for _ in range(3):
        other.settle(other.acquire(), SUCCESS)  # no probing any more
    quota.settle(quota.acquire(), BARE_429)
    assert _wait(other).wait > 0.9  # a new storm starts again at 1 s


def test_a_failed_probe_frees_the_way_for_the_next(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 100, 60)
    quota.settle(quota.acquire(), BARE_429)
    redis_client.delete(f"hub:quota:{quota.budget.key}:pause")
    probe = quota.acquire()
    quota.settle(probe)  # a dropped connection: no answer, no strike
    assert quota.acquire() is not None  # the next probe may go


def test_the_calls_an_operation_declares_are_granted_together_or_not_at_all(
    redis_client: redis.Redis,
) -> None:
    quota = _quota(redis_client, 3, 0.3)
    _fill(quota, 2)
    claim = QuotaClaim()
    with use_claim(claim):
        claim.expect(2)  # a find, then a create
        wait = _wait(quota)  # one slot free: not enough for both calls
        assert quota.used() == 2  # and none taken
    time.sleep(wait.wait + 0.02)
    again = QuotaClaim.from_state("default", claim.state())
    with use_claim(again):
        again.expect(2)
        first = quota.acquire()
        assert quota.used() == 2  # both slots at once, the others' calls left the window
        second = quota.acquire()  # taken ahead: granted whatever the others do meanwhile
        assert second.id != first.id
        quota.settle(first)
        quota.settle(second)
    assert quota.raw_status().repeated == 0


def test_a_newcomer_does_not_take_a_slot_a_waiter_of_several_calls_needs(
    redis_client: redis.Redis,
) -> None:
    quota = _quota(redis_client, 4, 60)
    _fill(quota, 2)
    big = QuotaClaim(priority="bulk")
    with use_claim(big):
        big.expect(3)
        _wait(quota)  # two free, three asked for
    # two slots free, but three asked for ahead of it: a newcomer of the same class waits
    _wait(quota, QuotaClaim(priority="bulk"))
    assert quota.raw_status().waiting == {"interactive": 0, "default": 0, "bulk": 4}
    # a higher class goes first, as ever
    assert isinstance(quota.acquire(QuotaClaim(priority="default")), Lease)


def test_a_call_made_before_a_wait_is_counted_as_repeated(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 2, 60)
    claim = QuotaClaim()
    with use_claim(claim):
        quota.settle(quota.acquire())  # a second call it did not declare comes next
        _fill(quota, 1)
        _wait(quota)
    assert quota.raw_status().repeated == 1  # its next attempt makes the first again


def test_slots_left_free_while_steps_wait_are_counted(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 1, 0.2)
    _fill(quota, 1)
    wait = _wait(quota, QuotaClaim())
    assert quota.raw_status().idle_ms == 0  # no slot free yet
    time.sleep(wait.wait + 0.3)  # its turn came and went: its caller is late
    assert quota.raw_status().idle_ms >= 280
