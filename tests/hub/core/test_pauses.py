"""Pauses on a real Redis: who paused what, why and since when; held runs released in
arrival order; every change told to the control-event hook."""

from __future__ import annotations

import pytest
import redis

from hub.core import ControlEvent, PauseChanged, PauseStore

NOW = 1_700_000_000.0


def _store(client: redis.Redis, told: list[ControlEvent], release_chunk: int = 500) -> PauseStore:
    return PauseStore(client, clock=lambda: NOW, events=told.append, release_chunk=release_chunk)


def test_a_pause_says_who_why_and_since_when_until_it_is_resumed(
    redis_client: redis.Redis,
) -> None:
    told: list[ControlEvent] = []
    pauses = _store(redis_client, told)
    assert pauses.pause("connector", "acme", by="ops", reason="upstream migration")
    assert not pauses.pause("connector", "acme", by="someone", reason="again")  # kept
    assert pauses.pause("source", "crm", by="ops")
    assert [(p.kind, p.name, p.by, p.reason, p.since) for p in pauses.paused()] == [
        ("source", "crm", "ops", "", NOW),
        ("connector", "acme", "ops", "upstream migration", NOW),
    ]
    assert pauses.is_paused("connector", "acme")
    assert not pauses.is_paused("workflow", "acme")
    assert pauses.resume("connector", "acme", by="ops2") == 0
    assert pauses.resume("connector", "acme", by="ops2") is None  # not paused any more
    assert [p.name for p in pauses.paused()] == ["crm"]
    assert told == [
        PauseChanged("connector", "acme", True, "ops", "upstream migration", NOW),
        PauseChanged("source", "crm", True, "ops", "", NOW),
        PauseChanged("connector", "acme", False, "ops2", "upstream migration", NOW),
    ]


def test_an_unknown_kind_is_refused(redis_client: redis.Redis) -> None:
    with pytest.raises(ValueError, match="unknown kind 'queue'"):
        PauseStore(redis_client).pause("queue", "x", by="ops")  # type: ignore[arg-type]


def test_resuming_a_workflow_releases_its_held_runs_in_arrival_order_in_chunks(
    redis_client: redis.Redis,
) -> None:
    told: list[ControlEvent] = []
    pauses = _store(redis_client, told, release_chunk=3)
    pauses.pause("workflow", "sync", by="ops")
    for number in range(8):  # as the ingress's accept script holds them
        queue = "hub.bulk" if number % 2 else "hub"
        redis_client.rpush("hub:held:sync", f'{queue}\n{{"run": {number}}}')
    assert pauses.get("workflow", "sync").held == 8  # type: ignore[union-attr]
    assert pauses.resume("workflow", "sync", by="ops") == 8
    assert redis_client.llen("hub:held:sync") == 0
    assert not pauses.is_paused("workflow", "sync")
    # consumers BRPOP: the oldest comes out first, on each message's own queue
    assert redis_client.lrange("hub", 0, -1)[::-1] == [
        f'{{"run": {n}}}'.encode() for n in (0, 2, 4, 6)
    ]
    assert redis_client.lrange("hub.bulk", 0, -1)[::-1] == [
        f'{{"run": {n}}}'.encode() for n in (1, 3, 5, 7)
    ]
    resumed = told[-1]
    assert isinstance(resumed, PauseChanged)
    assert (resumed.paused, resumed.released) == (False, 8)


def test_released_runs_ring_the_bell_of_each_queue_they_reach(redis_client: redis.Redis) -> None:
    from typing import Any

    rung: list[str] = []

    def ring(client: Any, queue: str) -> None:
        assert client.llen(queue) > 0  # rung once the messages are in the queue
        rung.append(queue)

    pauses = PauseStore(redis_client, ring=ring, release_chunk=2)
    pauses.pause("workflow", "bells", by="ops")
    for queue in ("hub", "hub.bulk", "hub", "hub"):
        redis_client.rpush("hub:held:bells", f"{queue}\n{{}}")
    assert pauses.resume("workflow", "bells", by="ops") == 4
    assert rung == ["hub", "hub.bulk", "hub"]  # per chunk of two, each queue once


def test_steps_held_by_a_paused_connector_are_counted_once_each(
    redis_client: redis.Redis,
) -> None:
    pauses = PauseStore(redis_client)
    pauses.pause("connector", "acme", by="ops")
    for step in ("run-1 a", "run-2 a", "run-1 a"):
        pauses.hold_step("acme", step, 5.0)
    assert pauses.held_steps("acme") == 2
    assert pauses.get("connector", "acme").held == 2  # type: ignore[union-attr]
    pauses.resume("connector", "acme", by="ops")
    assert pauses.held_steps("acme") == 0


def test_a_failing_hook_never_fails_the_pause(redis_client: redis.Redis) -> None:
    def broken(event: ControlEvent) -> None:
        raise RuntimeError("hook down")

    pauses = PauseStore(redis_client, events=broken)
    assert pauses.pause("source", "crm", by="ops")
    assert pauses.resume("source", "crm", by="ops") == 0
