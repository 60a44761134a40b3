"""The event store on real Redis servers: dedupe, atomic enqueue, fsync, every failure a 503."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import redis

from hub.core.redis_server import RedisServer
from hub.ingress.event_store import Entry, EventStore, StoreUnavailable, connect
from hub.ingress.publish import QueuedMessage
from tests.support.redis_sentinel import SentinelGroup

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _record(event_id: str, runs: int = 1) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source": "crm",
        "event_type": "t",
        "runs": [{"workflow": "w", "revision": "r", "run_id": f"run-{i}"} for i in range(runs)],
        "skipped": [],
    }


def _messages(count: int = 1) -> list[QueuedMessage]:
    return [QueuedMessage("test:q", f'{{"message": {i}}}', f"task-{i}") for i in range(count)]


async def test_a_repeated_event_id_is_a_duplicate_with_the_original_record(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    store = EventStore(connect(redis_server.url), fsync=False)
    first = await store.accept("crm", "e1", _record("e1", 2), _messages(2), 60)
    again = await store.accept("crm", "e1", _record("e1", 5), _messages(5), 60)
    other = await store.accept("shop", "e1", _record("e1"), _messages(1), 60)
    assert not first.duplicate and again.duplicate and not other.duplicate
    assert again.record == _record("e1", 2)
    assert redis_client.llen("test:q") == 3
    assert 55 <= redis_client.ttl("hub:ingress:seen:crm:e1") <= 60
    assert await store.find("crm", "e1") == _record("e1", 2)
    assert [r["event_id"] for r in await store.recent(10)] == ["e1", "e1"]
    assert await store.find("crm", "nope") is None


async def test_concurrent_deliveries_of_one_event_start_it_once(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    store = EventStore(connect(redis_server.url), fsync=False, max_batch=7)
    outcomes = await asyncio.gather(
        *(
            store.accept("crm", f"e{i % 5}", _record(f"e{i % 5}"), _messages(), 60)
            for i in range(40)
        )
    )
    assert sum(not o.duplicate for o in outcomes) == 5
    assert redis_client.llen("test:q") == 5


async def test_one_batch_keeps_each_events_messages_and_record_apart(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    # events with 0..3 runs each, on queues of their own, some repeated, all in flight at
    # once so they share script calls: every message lands on its event's queues only
    store = EventStore(connect(redis_server.url), fsync=False, writers=1)

    def queued(event: str, runs: int) -> list[QueuedMessage]:
        return [QueuedMessage(f"test:q:{event}:{i}", f"{event}/{i}", f"t{i}") for i in range(runs)]

    events = [(f"b{i % 9}", i % 4) for i in range(36)]
    outcomes = await asyncio.gather(
        *(store.accept("crm", e, _record(e, runs), queued(e, runs), 60) for e, runs in events)
    )
    first: dict[str, int] = {}
    for (event, runs), outcome in zip(events, outcomes, strict=True):
        assert outcome.duplicate == (event in first)
        first.setdefault(event, runs)
        assert outcome.record == _record(event, first[event])
    for event, runs in first.items():
        for i in range(4):
            expected = [f"{event}/{i}".encode()] if i < runs else []
            assert redis_client.lrange(f"test:q:{event}:{i}", 0, -1) == expected
    assert redis_client.llen("hub:ingress:recent") == len(first)


async def test_a_batch_with_thousands_of_messages_for_one_queue_keeps_their_order(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    # 80 events of 120 runs each share one script call: 9,600 messages to one queue, more
    # than Lua can pass to one LPUSH, land in event order
    store = EventStore(connect(redis_server.url), fsync=False, writers=1)

    def queued(event: int) -> list[QueuedMessage]:
        return [QueuedMessage("test:wide", f"{event:02d}/{i:03d}", "t") for i in range(120)]

    outcomes = await asyncio.gather(
        *(store.accept("crm", f"w{e}", _record(f"w{e}", 120), queued(e), 60) for e in range(80))
    )
    assert not any(o.duplicate for o in outcomes)
    raw = redis_client.lrange("test:wide", 0, -1)
    pushed = [m.decode() if isinstance(m, bytes) else m for m in reversed(raw)]
    assert pushed == [f"{e:02d}/{i:03d}" for e in range(80) for i in range(120)]


async def test_a_lost_script_is_loaded_again(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    store = EventStore(connect(redis_server.url), fsync=False)
    await store.accept("crm", "a", _record("a"), _messages(), 60)
    redis_client.script_flush()
    assert not (await store.accept("crm", "b", _record("b"), _messages(), 60)).duplicate
    assert redis_client.llen("test:q") == 2


async def test_redis_stopped_is_unavailable(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, appendonly=False).start()
    store = EventStore(connect(server.url), fsync=False)
    await store.accept("crm", "a", _record("a"), _messages(), 60)
    server.stop()
    with pytest.raises(StoreUnavailable) as caught:
        await store.accept("crm", "b", _record("b"), _messages(), 60)
    assert caught.value.retry_after == 5
    with pytest.raises(StoreUnavailable):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.recent(5)


async def test_redis_out_of_memory_is_unavailable_and_writes_nothing(tmp_path: Path) -> None:
    with RedisServer(tmp_path, appendonly=False) as server:
        client = redis.Redis.from_url(server.url)
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", "1")
        store = EventStore(connect(server.url), fsync=False)
        with pytest.raises(StoreUnavailable, match="refused"):
            await store.accept("crm", "a", _record("a"), _messages(), 60)
        client.config_set("maxmemory", "0")
        assert client.dbsize() == 0


async def test_fsync_waits_for_the_aof(tmp_path: Path) -> None:
    with RedisServer(tmp_path, appendonly=True, need_waitaof=True) as server:
        store = EventStore(connect(server.url), fsync=True)
        outcome = await store.accept(
            "crm", "fsynced-event", _record("fsynced-event"), _messages(), 60
        )
        assert not outcome.duplicate
        again = await store.accept("crm", "fsynced-event", _record("x"), _messages(), 60)
        assert again.duplicate
        aof = b"".join(p.read_bytes() for p in tmp_path.rglob("*.aof"))
        assert b"fsynced-event" in aof and b'{"message": 0}' in aof


async def test_fsync_without_aof_is_unavailable(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    # the session server runs without AOF: the answer cannot be confirmed durable
    store = EventStore(connect(redis_server.url), fsync=True)
    with pytest.raises(StoreUnavailable, match="fsync"):
        await store.accept("crm", "a", _record("a"), _messages(), 60)


def _script_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(
        int(stats.get(name, {}).get("calls", 0)) for name in ("cmdstat_evalsha", "cmdstat_eval")
    )


async def test_a_batch_is_one_script_call_and_each_event_is_deduped_on_its_own(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    store = EventStore(connect(redis_server.url), fsync=False)
    await store.accept("crm", "e1", _record("e1"), _messages(), 60)  # loads the script
    before = _script_calls(redis_client)
    entries = [Entry(e, _record(e, 2), _messages(2)) for e in ("e1", "e2", "e3", "e2")]
    outcomes = await store.accept_batch("crm", entries, 60)
    assert _script_calls(redis_client) == before + 1
    assert [o.duplicate for o in outcomes] == [True, False, False, True]
    assert outcomes[0].record == _record("e1") and outcomes[3].record == _record("e2", 2)
    assert redis_client.llen("test:q") == 1 + 2 + 2
    assert await store.find("crm", "e3") == _record("e3", 2)
    assert [r["event_id"] for r in await store.recent(10)] == ["e3", "e2", "e1"]
    assert await store.accept_batch("crm", [], 60) == []


async def test_batches_and_single_events_sharing_a_script_call_keep_their_outcomes_apart(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    store = EventStore(connect(redis_server.url), fsync=False, writers=1)
    singles = [
        store.accept("crm", f"s{i % 3}", _record(f"s{i % 3}"), _messages(), 60) for i in range(6)
    ]
    batches = [
        store.accept_batch(
            "crm",
            [
                Entry(f"b{i}", _record(f"b{i}"), _messages()),
                Entry("s0", _record("s0"), _messages()),
            ],
            60,
        )
        for i in range(4)
    ]
    single_outcomes, batch_outcomes = await asyncio.gather(
        asyncio.gather(*singles), asyncio.gather(*batches)
    )
    new_singles = sum(not o.duplicate for o in single_outcomes)
    new_in_batches = sum(not o.duplicate for batch in batch_outcomes for o in batch)
    assert new_singles + new_in_batches == 3 + 4  # s0, s1, s2 once each, b0..b3
    assert redis_client.llen("test:q") == 7


async def test_a_batch_redis_cannot_take_is_unavailable_and_writes_nothing(tmp_path: Path) -> None:
    with RedisServer(tmp_path, appendonly=False) as server:
        client = redis.Redis.from_url(server.url)
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", "1")
        store = EventStore(connect(server.url), fsync=False)
        entries = [Entry(e, _record(e), _messages()) for e in ("a", "b", "c")]
        with pytest.raises(StoreUnavailable, match="refused"):
            await store.accept_batch("crm", entries, 60)
        client.config_set("maxmemory", "0")
        assert client.dbsize() == 0


async def test_runs_of_a_paused_workflow_are_held_recorded_held_and_released_in_order(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    from hub.core import PauseStore
    from hub.history import RunStore

    pauses = PauseStore(redis_client)
    pauses.pause("workflow", "paused", by="ops")
    store = EventStore(connect(redis_server.url), fsync=False)

    def record(event: str) -> dict[str, Any]:
        runs = [
            {"workflow": "paused", "revision": "r1", "run_id": f"{event}-p"},
            {"workflow": "live", "revision": "r2", "run_id": f"{event}-l"},
        ]
        return {"event_id": event, "source": "crm", "event_type": "t", "runs": runs}

    def messages(event: str) -> list[QueuedMessage]:
        return [QueuedMessage("test:q", f"{event}/{wf}", "t") for wf in ("paused", "live")]

    for event in ("e1", "e2", "e3"):
        outcome = await store.accept("crm", event, record(event), messages(event), 60)
        assert not outcome.duplicate
    assert redis_client.lrange("test:q", 0, -1)[::-1] == [b"e1/live", b"e2/live", b"e3/live"]
    runs = RunStore(redis_client)
    held = runs.get("e2-p")
    assert held is not None
    assert (held.status, held.workflow, held.revision, held.event_id) == (
        "held",
        "paused",
        "r1",
        "e2",
    )
    assert held.held_at is not None and held.started_at is None
    assert runs.get("e2-l") is None  # a live run is recorded by its worker, as before
    assert runs.for_event("e2") == ["e2-p"]

    assert pauses.resume("workflow", "paused", by="ops") == 3
    assert redis_client.lrange("test:q", 0, -1)[::-1] == [
        b"e1/live",
        b"e2/live",
        b"e3/live",
        b"e1/paused",
        b"e2/paused",
        b"e3/paused",
    ]
    runs.step_started("e2-p", "first", workflow="paused", revision="r1", event_id="e2")
    started = runs.get("e2-p")
    assert started is not None and started.status == "running"
    assert await store.accept("crm", "e4", record("e4"), messages("e4"), 60)
    assert redis_client.llen("hub:held:paused") == 0  # resumed: enqueued at once


async def test_with_replicas_an_accepted_event_is_on_the_replica_when_answered(
    tmp_path: Path,
) -> None:
    with RedisServer(tmp_path / "primary", appendonly=False) as primary:
        args = ("--replicaof", "127.0.0.1", str(primary.port))
        with RedisServer(tmp_path / "replica", appendonly=False, extra_args=args) as replica:
            SentinelGroup.wait_replicated(primary, 20)
            store = EventStore(connect(primary.url), fsync=False, replicas=1)
            outcome = await store.accept("crm", "kept", _record("kept"), _messages(), 60)
            assert not outcome.duplicate
            on_replica = redis.Redis.from_url(replica.url)
            assert on_replica.exists("hub:ingress:seen:crm:kept") == 1  # no wait: WAIT did
            assert on_replica.llen("test:q") == 1


async def test_with_replicas_and_none_acknowledging_the_event_is_unavailable(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    # the session server has no replica: nothing can acknowledge the event
    store = EventStore(connect(redis_server.url), fsync=False, replicas=1)
    with pytest.raises(StoreUnavailable, match="replicas did not acknowledge") as caught:
        await store.accept("crm", "alone", _record("alone"), _messages(), 60)
    assert caught.value.retry_after == 5
    # the primary kept it: the sender's retry finds it recorded and starts nothing twice
    again = EventStore(connect(redis_server.url), fsync=False)
    assert (await again.accept("crm", "alone", _record("alone"), _messages(), 60)).duplicate
