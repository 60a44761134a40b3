"""Steps parked for quota on a real Redis server: woken at their turn, in order, once."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis

from hub.core.errors import QuotaWait
from hub.http.quota import DUE_KEY, Budget, Lease, RedisQuota
from hub.http.quota_claim import QuotaClaim, use_claim
from hub.http.quota_scripts import FIRST_LEAD_MS
from hub.http.quota_wake import QuotaWaker


def _quota(
    client: redis.Redis, limit: int, window: float = 60.0, lease_seconds: float = 120.0
) -> RedisQuota:
    budget = Budget(f"wake:{limit}:{window}", limit, window)
    return RedisQuota(client, budget, lease_seconds=lease_seconds)


def _hold(quota: RedisQuota, n: int) -> list[Lease]:
    """``n`` slots taken by calls still out."""
    return [quota.acquire(QuotaClaim()) for _ in range(n)]


def _park(quota: RedisQuota, waker: QuotaWaker, claim: QuotaClaim, payload: str) -> str:
    with pytest.raises(QuotaWait) as info:
        quota.acquire(claim)
    ticket = info.value.ticket
    assert ticket is not None
    assert waker.park(quota.budget.key, ticket, payload)
    return ticket


def test_freed_slot_goes_to_the_first_parked_step_by_priority(redis_client: redis.Redis) -> None:
    quota, waker = _quota(redis_client, 2), QuotaWaker(redis_client)
    out = _hold(quota, 2)
    bulk = QuotaClaim(priority="bulk", owner="task-bulk")
    urgent = QuotaClaim(priority="interactive", owner="task-urgent")
    _park(quota, waker, bulk, "bulk-message")
    _park(quota, waker, urgent, "urgent-message")
    assert waker.wake_due() == []  # no slot free: nobody is sent
    next_ms, _ = waker.release(quota.budget.key)
    assert 0 < next_ms <= 60_000 + 200  # the calls out free their slots a window after
    quota.give_back(out[0])
    assert waker.wake_due() == ["urgent-message"]
    assert quota.used() == 2  # the slot is taken for the woken step already
    # the woken step takes up the slot recorded for it, asking no further slot
    resumed = QuotaClaim.from_state("interactive", urgent.state(), owner="task-urgent")
    lease = quota.acquire(resumed)
    assert lease.id.startswith("w")
    assert quota.used() == 2
    quota.give_back(out[1])
    assert waker.wake_due() == ["bulk-message"]
    # kept to be sent again until it comes
    assert redis_client.zscore(DUE_KEY, quota.budget.key) is not None
    waker.arrived(bulk.state())
    assert waker.release(quota.budget.key) == (-1, [])  # nobody waits any more
    assert redis_client.zcard(DUE_KEY) == 0


def test_a_step_asking_several_slots_is_not_overtaken(redis_client: redis.Redis) -> None:
    quota, waker = _quota(redis_client, 3), QuotaWaker(redis_client)
    out = _hold(quota, 3)
    upsert = QuotaClaim(priority="default", owner="task-upsert")
    upsert.expect(2)
    _park(quota, waker, upsert, "upsert-message")
    _park(quota, waker, QuotaClaim(priority="bulk", owner="task-one"), "one-message")
    quota.give_back(out[0])
    assert waker.wake_due() == []  # one slot free, the first in line needs two
    quota.give_back(out[1])
    assert waker.wake_due() == ["upsert-message"]
    resumed = QuotaClaim.from_state("default", upsert.state(), owner="task-upsert")
    resumed.expect(2)
    first, second = quota.acquire(resumed), quota.acquire(resumed)
    assert {first.id, second.id} == {first.id, f"{first.id}.2"}
    assert quota.used() == 3
    quota.give_back(out[2])
    assert waker.wake_due() == ["one-message"]


def test_parked_message_is_handed_to_one_releaser_only(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 1)
    waker, other = QuotaWaker(redis_client), QuotaWaker(redis_client)
    out = _hold(quota, 1)
    _park(quota, waker, QuotaClaim(owner="task-a"), "a-message")
    quota.give_back(out[0])
    assert waker.wake_due() + other.wake_due() == ["a-message"]
    assert other.wake_due() == []


def test_park_refuses_a_ticket_no_longer_waiting(redis_client: redis.Redis) -> None:
    quota, waker = _quota(redis_client, 1), QuotaWaker(redis_client)
    assert not waker.park(quota.budget.key, "1000:gone", "message")
    assert redis_client.zcard(DUE_KEY) == 0


def test_settled_call_brings_the_wake_forward(redis_client: redis.Redis) -> None:
    quota, waker = _quota(redis_client, 1, window=0.3), QuotaWaker(redis_client)
    (out,) = _hold(quota, 1)
    # calls have taken 5 s lately: the call out is expected to end that late
    redis_client.hset(f"hub:quota:{quota.budget.key}:stats", "call_ms", 5000)
    _park(quota, waker, QuotaClaim(owner="task-a"), "a-message")
    next_ms, woken = waker.release(quota.budget.key)
    assert woken == [] and next_ms >= 5000 + 300
    redis_client.delete("hub:quota:bell")
    quota.settle(out)  # it ended now: its slot frees one window from now
    due = redis_client.zscore(DUE_KEY, quota.budget.key)
    seconds, micros = redis_client.time()
    assert due is not None and due - (seconds * 1000 + micros // 1000) <= 302
    assert redis_client.llen("hub:quota:bell") >= 1  # the releaser is told
    deadline = time.monotonic() + 5
    woken = []
    while not woken and time.monotonic() < deadline:
        waker.wait(1.0)
        woken = waker.wake_due()
    assert woken == ["a-message"]


def test_woken_step_that_never_comes_is_woken_again_after_the_lease(
    redis_client: redis.Redis,
) -> None:
    # slots are taken for woken steps with the lease of the callers' own calls
    quota = _quota(redis_client, 1, window=0.2, lease_seconds=0.3)
    waker = QuotaWaker(redis_client)
    (out,) = _hold(quota, 1)
    _park(quota, waker, QuotaClaim(owner="task-lost"), "lost-message")
    quota.give_back(out)
    assert waker.wake_due() == ["lost-message"]  # then lost with its releaser
    assert quota.used() == 1  # its slot counts while it may still come
    assert waker.wake_due() == []
    time.sleep(0.3 + 0.2 + 0.05)  # its lease, then one window: the slot is free again
    assert waker.wake_due() == ["lost-message"]  # sent again, in its place
    assert quota.used() == 1


def _wake_one(quota: RedisQuota, waker: QuotaWaker) -> QuotaClaim:
    """The claim of step ``task-a``, parked behind the budget's one slot, then woken
    (its slots taken for it) when that slot was given back."""
    (out,) = _hold(quota, 1)
    claim = QuotaClaim(owner="task-a")
    _park(quota, waker, claim, "a-message")
    quota.give_back(out)
    assert waker.wake_due() == ["a-message"]
    return claim


def test_woken_step_that_came_is_not_sent_again(redis_client: redis.Redis) -> None:
    quota = _quota(redis_client, 1, window=0.2, lease_seconds=0.3)
    waker = QuotaWaker(redis_client)
    claim = _wake_one(quota, waker)
    resumed = QuotaClaim.from_state("default", claim.state(), owner="task-a")
    with waker.woken(claim.state(), resumed):  # its task started
        quota.acquire(resumed)
    time.sleep(0.3 + 0.05)  # the slots' lease ran out: a step never come is woken again
    assert waker.wake_due() == []
    assert redis_client.zcard(DUE_KEY) == 0


def test_woken_step_that_asks_for_no_slot_gives_its_slots_back_at_once(
    redis_client: redis.Redis,
) -> None:
    quota, waker = _quota(redis_client, 2), QuotaWaker(redis_client)
    out = _hold(quota, 2)
    upsert = QuotaClaim(owner="task-upsert")
    upsert.expect(2)
    _park(quota, waker, upsert, "upsert-message")
    _park(quota, waker, QuotaClaim(priority="bulk", owner="task-next"), "next-message")
    quota.give_back(out[0])
    quota.give_back(out[1])
    assert waker.wake_due() == ["upsert-message"]
    assert quota.used() == 2  # both slots taken for the woken upsert
    redis_client.delete("hub:quota:bell")
    # its attempt ends before any call (done already, or waiting for a concurrency place)
    with waker.woken(upsert.state(), QuotaClaim.from_state("default", upsert.state())):
        pass
    assert quota.used() == 0  # free now, not after their 120 s lease
    assert redis_client.lpop("hub:quota:bell") == quota.budget.key.encode()
    assert waker.wake_due() == ["next-message"]
    # asking again later, the upsert takes back its place: first in the room
    again = QuotaClaim.from_state("default", upsert.state(), owner="task-upsert")
    again.expect(2)
    quota.acquire(QuotaClaim())
    with pytest.raises(QuotaWait) as info:
        quota.acquire(again)
    assert info.value.ticket == upsert.ticket(quota.budget.key)


def test_woken_step_that_called_keeps_its_slots(redis_client: redis.Redis) -> None:
    quota, waker = _quota(redis_client, 1), QuotaWaker(redis_client)
    claim = _wake_one(quota, waker)
    resumed = QuotaClaim.from_state("default", claim.state(), owner="task-a")
    with use_claim(resumed), waker.woken(claim.state(), resumed):
        lease = quota.acquire(resumed)
    assert lease.id.startswith("w")
    assert quota.used() == 1  # its call counts: nothing was given back


def test_slots_a_caller_ahead_took_are_not_given_back_by_the_woken_step(
    redis_client: redis.Redis,
) -> None:
    quota, waker, _, bulk = _woken_ahead(redis_client, "wake:taken")
    urgent = quota.acquire(QuotaClaim(priority="interactive", owner="task-urgent"))
    assert urgent.id.startswith("w")
    with waker.woken(bulk.state(), QuotaClaim.from_state("bulk", bulk.state())):
        pass
    assert quota.used() == 1  # the interactive call still counts


def _woken_ahead(
    redis_client: redis.Redis, key: str, sleep: Callable[[float], None] = time.sleep
) -> tuple[RedisQuota, QuotaWaker, Lease, QuotaClaim]:
    """A budget of 1 call a second whose call ended now, a bulk step parked for the next
    slot, and woken steps that lately took 60 ms to come: the step is woken 80 ms
    (60 ms + 25% + 5 ms) before its slot frees."""
    budget = Budget(key, 1, 1.0)
    quota, waker = RedisQuota(redis_client, budget, sleep=sleep), QuotaWaker(redis_client)
    (out,) = _hold(quota, 1)
    quota.settle(out)  # ended now: its slot frees one second from now
    redis_client.hset(f"hub:quota:{key}:stats", "wake_ms", 60)
    claim = QuotaClaim(priority="bulk", owner="task-a")
    _park(quota, waker, claim, "a-message")
    next_ms, woken = waker.release(budget.key)
    assert woken == [] and 1000 - 80 - 10 <= next_ms <= 1000 - 80 + 2
    time.sleep(next_ms / 1000)
    assert waker.wake_due() == ["a-message"]
    return quota, waker, out, claim


class RecordedSleep(list[float]):
    """A real sleep that notes each length asked for."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        time.sleep(seconds)


def _now_ms(redis_client: redis.Redis) -> int:
    seconds, micros = redis_client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def test_a_step_woken_ahead_calls_no_earlier_than_its_slot_frees(
    redis_client: redis.Redis,
) -> None:
    slept = RecordedSleep()
    quota, _, out, claim = _woken_ahead(redis_client, "wake:ahead", slept)
    lease = quota.acquire(QuotaClaim.from_state("bulk", claim.state(), owner="task-a"))
    assert lease.id.startswith("w")
    assert slept and 0 < slept[0] <= 0.082  # it waited in its worker for its turn
    # by the time the woken step may call, the call before it has left the window
    ended = redis_client.zscore("hub:quota:wake:ahead:log", out.id)
    assert ended is None or ended + 1000 <= _now_ms(redis_client)


def test_a_caller_ahead_takes_the_slots_of_a_step_woken_ahead_that_has_not_come(
    redis_client: redis.Redis,
) -> None:
    quota, waker, out, bulk = _woken_ahead(redis_client, "wake:overtaken")
    # the bulk step's message is on its way; an interactive step asks meanwhile
    lease = quota.acquire(QuotaClaim(priority="interactive", owner="task-urgent"))
    assert lease.id.startswith("w")
    ended = redis_client.zscore("hub:quota:wake:overtaken:log", out.id)
    assert ended is None or ended + 1000 <= _now_ms(redis_client)
    # the bulk step is not sent a second time while its message is out
    assert waker.release(quota.budget.key)[1] == []
    # when it comes, it waits again, first in the room
    waker.arrived(bulk.state())
    resumed = QuotaClaim.from_state("bulk", bulk.state(), owner="task-a")
    with pytest.raises(QuotaWait) as info:
        quota.acquire(resumed)
    assert info.value.ticket == bulk.ticket(quota.budget.key)
    assert quota.raw_status().waiting == {"interactive": 0, "default": 0, "bulk": 1}
    assert redis_client.hget("hub:quota:wake:overtaken:stats", "overtaken") == b"1"


def test_a_caller_behind_does_not_take_the_slots_of_a_step_woken_ahead(
    redis_client: redis.Redis,
) -> None:
    quota, _, _, bulk = _woken_ahead(redis_client, "wake:kept")
    # a bulk step arriving now is younger than the woken one: it waits
    with pytest.raises(QuotaWait):
        quota.acquire(QuotaClaim(priority="bulk", owner="task-late"))
    lease = quota.acquire(QuotaClaim.from_state("bulk", bulk.state(), owner="task-a"))
    assert lease.id.startswith("w")


def test_slots_whose_lease_ran_out_before_the_step_came_are_not_used(
    redis_client: redis.Redis,
) -> None:
    quota = _quota(redis_client, 1, window=0.2, lease_seconds=0.2)
    waker = QuotaWaker(redis_client)
    (out,) = _hold(quota, 1)
    claim = QuotaClaim(owner="task-late")
    _park(quota, waker, claim, "late-message")
    quota.give_back(out)
    assert waker.wake_due() == ["late-message"]
    time.sleep(0.2 + 0.05)  # its lease ran out: its slot counts as a call made
    waker.arrived(claim.state())
    resumed = QuotaClaim.from_state("default", claim.state(), owner="task-late")
    with pytest.raises(QuotaWait):  # it asks anew, and waits for the window
        quota.acquire(resumed)


def test_steps_slow_to_come_are_woken_at_most_100_ms_ahead(redis_client: redis.Redis) -> None:
    # woken steps took a second to come (every worker process busy): waking them further
    # ahead would only keep more processes waiting
    budget = Budget("wake:capped", 1, 2.0)
    quota, waker = RedisQuota(redis_client, budget), QuotaWaker(redis_client)
    (out,) = _hold(quota, 1)
    quota.settle(out)
    redis_client.hset("hub:quota:wake:capped:stats", "wake_ms", 1000)
    _park(quota, waker, QuotaClaim(owner="task-a"), "a-message")
    next_ms, woken = waker.release(budget.key)
    assert woken == [] and 2000 - 100 - 10 <= next_ms <= 2000 - 100 + 2


@pytest.mark.parametrize(("window", "lead_ms"), [(0.4, 100), (2.0, FIRST_LEAD_MS)])
def test_before_any_woken_step_came_steps_are_woken_a_quarter_window_ahead(
    redis_client: redis.Redis, window: float, lead_ms: int
) -> None:
    # a backlog just arrived: the workers are still parking it when the first slots free,
    # so the first woken steps come late, and nothing says how late yet
    budget = Budget(f"wake:first:{window}", 1, window)
    quota, waker = RedisQuota(redis_client, budget), QuotaWaker(redis_client)
    (out,) = _hold(quota, 1)
    quota.settle(out)
    _park(quota, waker, QuotaClaim(owner="task-a"), "a-message")
    next_ms, woken = waker.release(budget.key)
    frees = round(window * 1000)
    assert woken == [] and frees - lead_ms - 10 <= next_ms <= frees - lead_ms + 2


def test_a_step_of_two_calls_makes_each_when_its_own_slot_frees(
    redis_client: redis.Redis,
) -> None:
    slept = RecordedSleep()
    budget = Budget("wake:pair", 2, 1.0)
    quota, waker = RedisQuota(redis_client, budget, sleep=slept), QuotaWaker(redis_client)
    first, second = _hold(quota, 2)
    quota.settle(first)
    time.sleep(0.06)
    quota.settle(second)  # the two slots free 60 ms apart
    # woken steps lately came at once
    redis_client.hset("hub:quota:wake:pair:stats", "wake_ms", 0)
    claim = QuotaClaim(owner="task-pair")
    claim.expect(2)  # a find and a create
    _park(quota, waker, claim, "pair-message")
    next_ms, woken = waker.release(budget.key)
    # woken (the lead: 5 ms) 20 ms before its last slot frees, not once both have: the
    # find goes in the slot free already, the create waits in the worker for the other
    assert woken == [] and 1000 - 20 - 5 - 15 <= next_ms <= 1000 - 20 - 5 + 2
    time.sleep(next_ms / 1000)
    assert waker.wake_due() == ["pair-message"]
    resumed = QuotaClaim.from_state("default", claim.state(), owner="task-pair")
    resumed.expect(2)
    log = "hub:quota:wake:pair:log"
    for call, ended in ((1, first), (2, second)):
        quota.acquire(resumed)
        # each call goes once the call whose slot it takes has left the window
        score = redis_client.zscore(log, ended.id)
        assert score is None or score + 1000 <= _now_ms(redis_client), f"call {call}"
    assert slept and 0 < slept[-1] <= 0.03  # the create waited for its slot


def test_a_later_call_whose_slot_frees_while_it_looks_does_not_sleep_a_negative_time(
    redis_client: redis.Redis,
) -> None:
    # the clock passes the slot's time between two looks: under load a process can be
    # preempted right there, and time.sleep() refuses a negative length (ValueError, a
    # step failed for good)
    due = 100.0
    looks = iter([due - 0.004, due + 0.002])
    slept: list[float] = []
    budget = Budget("wake:race", 2, 1.0)
    quota = RedisQuota(
        redis_client, budget, register=False, sleep=slept.append, clock=lambda: next(looks)
    )
    claim = QuotaClaim(owner="task-race")
    claim.granted(budget.key, ["w1", "w1.2"], quota, [0.0, due])
    lease = quota.acquire(claim)
    assert lease.id == "w1.2"
    assert slept == [pytest.approx(0.004)]  # one look, and the wait it measured


class _Interrupted(Exception):
    """What a time limit or a shutdown raises in a sleeping worker."""


def test_a_later_call_interrupted_while_it_waits_for_its_slot_gives_the_slot_back(
    redis_client: redis.Redis,
) -> None:
    given_back: list[list[str]] = []

    def interrupted(_seconds: float) -> None:
        raise _Interrupted

    class Releaser:
        def release(self, lease_ids: list[str]) -> None:
            given_back.append(lease_ids)

    budget = Budget("wake:interrupted", 2, 1.0)
    quota = RedisQuota(redis_client, budget, register=False, sleep=interrupted)
    claim = QuotaClaim(owner="task-interrupted")
    claim.granted(budget.key, ["w1", "w1.2"], Releaser(), [0.0, time.monotonic() + 5])
    with pytest.raises(_Interrupted):
        quota.acquire(claim)
    claim.close()  # the step ends: the slot it never called in is given back at once
    assert given_back == [["w1.2"]]
