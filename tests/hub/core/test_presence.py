"""Processes say they are up in Redis; stale and gone ones drop out."""

from __future__ import annotations

import os
import socket

import redis

from hub.core.presence import INFO_KEY, PRESENCE_KEY, Presence, seen


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_an_announced_process_is_seen_until_stale_or_withdrawn(redis_client: redis.Redis) -> None:
    clock = Clock(1_800_000_000.0)
    worker = Presence(redis_client, "worker", "celery@a", detail={"concurrency": 4}, clock=clock)
    beat = Presence(redis_client, "beat", clock=clock)
    worker.announce()
    beat.announce()
    [first, second] = seen(redis_client, now=clock.now + 1)
    here = f"{socket.gethostname()}:{os.getpid()}"
    assert (first.kind, first.name, first.pid) == ("beat", here, os.getpid())
    assert (second.kind, second.name, second.detail) == ("worker", "celery@a", {"concurrency": 4})
    assert second.seen_at == clock.now and second.host == socket.gethostname()
    assert [s.kind for s in seen(redis_client, now=clock.now + 30)] == []  # stale
    clock.now += 30
    worker.announce()
    assert [s.kind for s in seen(redis_client, now=clock.now)] == ["worker"]
    worker.withdraw()
    assert seen(redis_client, now=clock.now) == []


def test_entries_an_hour_old_are_forgotten(redis_client: redis.Redis) -> None:
    clock = Clock(1_800_000_000.0)
    Presence(redis_client, "ingress", clock=clock).announce()
    seen(redis_client, now=clock.now + 7200)
    assert redis_client.zcard(PRESENCE_KEY) == 0
    assert redis_client.hlen(INFO_KEY) == 0


def test_keep_up_announces_in_a_thread_until_withdrawn(redis_client: redis.Redis) -> None:
    presence = Presence(redis_client, "ingress")
    thread = presence.keep_up(interval=0.05)
    try:
        deadline = 200
        while not seen(redis_client) and deadline:
            deadline -= 1
            thread.join(0.05)
        assert [s.kind for s in seen(redis_client)] == ["ingress"]
    finally:
        presence.withdraw()
    thread.join(5)
    assert not thread.is_alive()
    assert seen(redis_client) == []
