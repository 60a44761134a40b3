"""Short cluster-wide locks on a key, for find-then-create upserts and token refreshes.

A run that finds the key locked raises :class:`~hub.core.errors.LockBusy` and is re-scheduled
a moment later; it never waits inside a worker. Locks expire on their own (``ttl``) so a
killed worker cannot hold one for ever, and are released only by their holder.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from hub.core.batch import RedisBatch
from hub.core.errors import LockBusy

__all__ = [
    "find_or_create",
    "keyed_lock",
    "lock_key",
    "release_lock",
    "release_lock_in",
    "try_lock",
    "try_lock_in",
]

T = TypeVar("T")

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def lock_key(*parts: str) -> str:
    """A Redis key for a lock on ``parts`` (hashed, so values never show in key names)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"hub:lock:{digest}"


def try_lock(redis: Any, key: str, *, ttl_seconds: float = 60.0) -> str | None:
    """Take ``key`` (``SET NX PX``): the holder's token, or ``None`` when already held."""
    token = uuid.uuid4().hex
    if redis.set(key, token, nx=True, px=max(1, int(ttl_seconds * 1000))):
        return token
    return None


def release_lock(redis: Any, key: str, token: str) -> bool:
    """Release ``key`` if ``token`` still holds it; True when it did."""
    return bool(redis.eval(_RELEASE, 1, key, token))


def try_lock_in(
    batch: RedisBatch, key: str, *, ttl_seconds: float = 60.0
) -> Callable[[], str | None]:
    """:func:`try_lock`, sent with ``batch``: once it is sent, the holder's token, or
    ``None`` when the key was held already."""
    token = uuid.uuid4().hex
    taken = batch.add("SET", key, token, "NX", "PX", max(1, int(ttl_seconds * 1000)))
    return lambda: token if taken.value else None


def release_lock_in(batch: RedisBatch, key: str, token: str) -> None:
    """:func:`release_lock`, sent with ``batch``."""
    batch.script(_RELEASE, [key], [token])


@contextmanager
def keyed_lock(redis: Any, key: str, *, ttl_seconds: float = 60.0) -> Iterator[None]:
    """Hold ``key`` for the block, or raise :class:`LockBusy` at once."""
    token = try_lock(redis, key, ttl_seconds=ttl_seconds)
    if token is None:
        raise LockBusy(key)
    try:
        yield
    finally:
        release_lock(redis, key, token)


def find_or_create(
    redis: Any,
    key: str,
    find: Callable[[], T | None],
    create: Callable[[], T],
    *,
    ttl_seconds: float = 60.0,
) -> tuple[bool, T]:
    """``(False, found)`` or ``(True, created)``: find, then create if none, under a lock.

    Two runs for the same ``key`` never both create; one of them finds the other's record
    (or raises :class:`LockBusy` and is re-scheduled while the other holds the key).
    """
    with keyed_lock(redis, key, ttl_seconds=ttl_seconds):
        found = find()
        if found is not None:
            return False, found
        return True, create()
