"""Concurrency key slots on a real Redis: limits, FIFO hand-over, leases, sweeps."""

from __future__ import annotations

import time

import redis

from hub.core import KeySlots, key_id


def _slots(client: redis.Redis, lease: float = 60.0) -> KeySlots:
    return KeySlots(client, lease_seconds=lease, ttl_seconds=3600)


def test_at_most_limit_holders_and_the_rest_wait_in_arrival_order(
    redis_client: redis.Redis,
) -> None:
    slots, key = _slots(redis_client), key_id("key:contact-1")
    assert slots.enter(key, "a", 2, "pa").granted
    assert slots.enter(key, "b", 2, "pb").granted
    for name in ("c", "d", "e"):
        entry = slots.enter(key, name, 2, f"p{name}")
        assert not entry.granted and entry.woken == ()
    assert sorted(slots.holders(key)) == ["a", "b"]
    assert slots.waiting(key) == ["c", "d", "e"]
    # the holder leaves: the first waiter holds its place at once, its payload to send
    assert slots.leave(key, "b").woken == ("pc",)
    assert sorted(slots.holders(key)) == ["a", "c"]
    assert slots.waiting(key) == ["d", "e"]
    # a newcomer does not overtake the waiters
    assert not slots.enter(key, "f", 2, "pf").granted
    assert slots.leave(key, "a").woken == ("pd",)
    assert slots.leave(key, "c").woken == ("pe",)
    assert slots.leave(key, "d").woken == ("pf",)
    assert slots.waiting(key) == []


def test_entering_again_renews_and_keeps_ones_place(redis_client: redis.Redis) -> None:
    slots, key = _slots(redis_client), key_id("k")
    assert slots.enter(key, "a", 1, "pa").granted
    assert slots.enter(key, "a", 1, "pa").granted  # the run's next step: a renewal
    assert not slots.enter(key, "b", 1, "pb1").granted
    assert not slots.enter(key, "c", 1, "pc").granted
    assert not slots.enter(key, "b", 1, "pb2").granted  # a redelivered waiter
    assert slots.waiting(key) == ["b", "c"]
    assert slots.leave(key, "a").woken == ("pb2",)  # the newest payload, first place kept
    assert slots.enter(key, "b", 1, "pb3").granted  # the woken task holds its place


def test_a_waiter_that_leaves_gives_up_its_place_in_the_queue(redis_client: redis.Redis) -> None:
    slots, key = _slots(redis_client), key_id("k")
    slots.enter(key, "a", 1, "pa")
    slots.enter(key, "b", 1, "pb")
    slots.enter(key, "c", 1, "pc")
    assert slots.leave(key, "b").woken == ()
    assert slots.leave(key, "a").woken == ("pc",)


def test_keys_are_independent_and_stored_hashed(redis_client: redis.Redis) -> None:
    slots = _slots(redis_client)
    one, two = key_id("key:ada@example.com"), key_id("key:bob@example.com")
    assert slots.enter(one, "a", 1, "pa").granted
    assert slots.enter(two, "b", 1, "pb").granted
    names = [k.decode() for k in redis_client.scan_iter("hub:conc:*")]
    assert names and not any("example" in name for name in names)


def test_an_expired_lease_frees_the_place_at_the_sweep(redis_client: redis.Redis) -> None:
    slots, key = _slots(redis_client, lease=2.0), key_id("k")
    other = key_id("no waiters")
    assert slots.enter(other, "x", 1, "px").granted
    assert slots.enter(key, "killed", 1, "p0").granted
    assert not slots.enter(key, "b", 1, "pb").granted
    assert not slots.enter(key, "c", 1, "pc").granted
    assert slots.due() == []  # the holder's lease has not run out yet
    time.sleep(2.2)  # the holder never renews: its worker was killed
    assert slots.due() == [key]  # a key without waiters is never due
    swept = slots.sweep(key)
    assert swept.woken == ("pb",)
    assert slots.holders(key) == ["b"]
    assert slots.due() == []  # b's lease is fresh; c waits for it
    assert slots.enter(key, "killed", 1, "p0").granted is False  # late: it queues again
    assert slots.waiting(key) == ["c", "killed"]
    slots.leave(key, "b")
    slots.leave(key, "c")
    slots.leave(key, "killed")
    assert slots.waiting(key) == [] and slots.due() == []


def test_a_woken_waiter_that_never_comes_is_woken_again_after_its_lease(
    redis_client: redis.Redis,
) -> None:
    slots, key = _slots(redis_client, lease=2.0), key_id("k")
    slots.enter(key, "a", 1, "pa")
    slots.enter(key, "b", 1, "pb")
    slots.enter(key, "c", 1, "pc")
    assert slots.leave(key, "a").woken == ("pb",)  # b's message is lost on its way
    time.sleep(2.2)
    assert slots.due() == [key]
    assert slots.sweep(key).woken == ("pb",)  # b first again, ahead of c
    assert slots.enter(key, "b", 1, "pb").granted  # b comes this time
    time.sleep(2.2)  # and is killed: a holder that came is not woken again
    assert slots.sweep(key).woken == ("pc",)


def test_due_and_next_name_the_keys_due_and_when_the_next_one_is(
    redis_client: redis.Redis,
) -> None:
    from hub.core.key_slots import DUE_KEY

    slots = KeySlots(redis_client, lease_seconds=60, ttl_seconds=600)
    seconds, micros = redis_client.time()
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    redis_client.delete(DUE_KEY)
    assert slots.due_and_next() == ([], None)
    redis_client.zadd(DUE_KEY, {"past": now_ms - 1000, "soon": now_ms + 30_000})
    due, next_in = slots.due_and_next()
    assert due == ["past"]
    assert next_in is not None and 25 < next_in <= 30
    assert slots.due() == ["past"]
    redis_client.delete(DUE_KEY)
