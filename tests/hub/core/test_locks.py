from __future__ import annotations

import pytest
import redis

from hub.core.errors import LockBusy
from hub.core.locks import keyed_lock, lock_key


def test_second_holder_is_deferred_then_lock_frees(redis_client: redis.Redis) -> None:
    key = lock_key("plutio", "people", "ada@example.com")
    assert "ada" not in key
    with keyed_lock(redis_client, key):
        with pytest.raises(LockBusy) as info, keyed_lock(redis_client, key):
            pass
        assert info.value.wait > 0
    with keyed_lock(redis_client, key):
        pass


def test_lock_expires_if_holder_dies(redis_client: redis.Redis) -> None:
    import time

    key = lock_key("x")
    redis_client.set(key, "dead-holder", px=100)
    time.sleep(0.15)
    with keyed_lock(redis_client, key):
        assert redis_client.get(key) not in (None, b"dead-holder")


def test_release_only_by_holder(redis_client: redis.Redis) -> None:
    key = lock_key("y")
    with keyed_lock(redis_client, key, ttl_seconds=0.05):
        import time

        time.sleep(0.1)  # our lock expired; someone else takes it
        redis_client.set(key, "other")
    assert redis_client.get(key) == b"other"


def test_find_or_create_creates_once(redis_client: redis.Redis) -> None:
    from hub.core.locks import find_or_create

    records: list[str] = []

    def find() -> str | None:
        return records[0] if records else None

    def create() -> str:
        records.append("new")
        return "new"

    key = lock_key("plane", "work-item", "ext-1")
    assert find_or_create(redis_client, key, find, create) == (True, "new")
    assert find_or_create(redis_client, key, find, create) == (False, "new")
    assert records == ["new"]
    with keyed_lock(redis_client, key), pytest.raises(LockBusy):
        find_or_create(redis_client, key, find, create)
