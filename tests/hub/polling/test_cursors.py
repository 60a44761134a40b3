"""Poll cursors in a real Redis: advance, fencing by the poll lock, reset."""

from __future__ import annotations

import pytest
import redis

from hub.core.locks import lock_key, try_lock
from hub.polling.cursors import CursorStore, LockLost, cursor_seconds, position_before


def test_a_cursor_starts_empty_and_advances(redis_client: redis.Redis) -> None:
    store = CursorStore(redis_client, now=lambda: 100.0)
    assert not store.get("wf").started
    store.advance(
        "wf",
        "2024-01-01T00:00:05.000Z",
        "b",
        [("a", "2024-01-01T00:00:04.000Z"), ("b", "2024-01-01T00:00:05.000Z")],
        seen=2,
        keep_seconds=None,
    )
    cursor = store.get("wf")
    assert (cursor.value, cursor.id, cursor.seen, cursor.updated_at) == (
        "2024-01-01T00:00:05.000Z",
        "b",
        2,
        100.0,
    )
    since = cursor_seconds("2024-01-01T00:00:05.000Z")
    assert len(store.recent("wf", since)) == 1 and len(store.recent("wf", None)) == 2
    store.record_poll("wf", pages=3, error="")
    assert store.get("wf").last["pages"] == "3"
    assert store.workflows() == ["wf"]


def test_old_handed_on_keys_are_trimmed(redis_client: redis.Redis) -> None:
    store = CursorStore(redis_client)
    store.advance("wf", 10, "a", [("a", 5), ("b", 10)], seen=2, keep_seconds=None)
    store.advance("wf", 20, "c", [("c", 20)], seen=1, keep_seconds=8)
    assert len(store.recent("wf", None)) == 2


def test_an_advance_needs_the_poll_lock_still_held(redis_client: redis.Redis) -> None:
    store = CursorStore(redis_client)
    key = lock_key("poll", "wf")
    token = try_lock(redis_client, key, ttl_seconds=5)
    assert token is not None
    store.advance(
        "wf", 1, "a", [], seen=0, keep_seconds=None, lock=(key, token), lock_ttl_seconds=30
    )
    assert redis_client.pttl(key) > 10_000  # pushed on
    redis_client.delete(key)
    with pytest.raises(LockLost):
        store.advance("wf", 2, "b", [], seen=0, keep_seconds=None, lock=(key, token))
    assert store.get("wf").value == 1


def test_reset_to_the_start_or_to_a_value(redis_client: redis.Redis) -> None:
    store = CursorStore(redis_client)
    store.advance(
        "wf",
        "2024-01-02T00:00:00.000Z",
        "x",
        [("x", "2024-01-02T00:00:00.000Z")],
        seen=1,
        keep_seconds=None,
    )
    store.reset("wf", "2024-01-01T00:00:00.000Z")
    cursor = store.get("wf")
    assert (cursor.value, cursor.id, cursor.seen) == ("2024-01-01T00:00:00.000Z", "", 0)
    assert store.recent("wf", None) == set()
    store.reset("wf")
    assert not store.get("wf").started


def test_overlap_moves_dates_back_only() -> None:
    assert position_before("2024-01-01T00:01:00.000Z", 90) == "2023-12-31T23:59:30.000Z"
    assert position_before("2024-01-01T00:01:00Z", 0) == "2024-01-01T00:01:00Z"
    assert position_before(1000, 60) == 1000
    assert position_before("not a date", 60) == "not a date"
