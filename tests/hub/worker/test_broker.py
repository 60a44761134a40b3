"""The broker transport on a real Redis: a message leaves its queue already recorded as
unacknowledged, so a consumer that dies holding it cannot lose it; an idle consumer waits
on its queues' bells and takes a message the moment its bell rings."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from queue import Empty
from typing import Any

import pytest
import redis
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.messaging import Consumer, Producer

from hub.core.redis_server import RedisServer
from hub.core.settings import Settings
from hub.worker.broker import BELL_TOKENS, TAKE_SCRIPT, Channel, SentinelChannel, bell_key
from hub.worker.celery_app import create_celery
from hub.worker.queues import STEP_QUEUES

QUEUES = [Queue(name, Exchange(name), routing_key=name) for name in STEP_QUEUES]


def _connect(url: str, **options: Any) -> Connection:
    conf = create_celery(Settings(hub_redis_url=url)).conf
    merged = {**conf.broker_transport_options, **options}
    return Connection(url, transport=conf.broker_transport, transport_options=merged)


@pytest.fixture
def connection(redis_server: RedisServer, redis_client: redis.Redis) -> Iterator[Connection]:
    with _connect(redis_server.url) as conn:
        yield conn


def _publish(conn: Connection, queue: str, body: dict[str, Any]) -> None:
    (declared,) = [q for q in QUEUES if q.name == queue]
    with conn.channel() as channel:
        Producer(channel).publish(
            body, exchange=declared.exchange, routing_key=queue, declare=[declared]
        )


def test_a_message_is_in_unacked_as_it_leaves_its_queue(
    connection: Connection, redis_client: redis.Redis
) -> None:
    _publish(connection, "hub", {"n": 1})
    seen: list[tuple[Any, int, int]] = []
    channel = connection.channel()
    assert isinstance(channel, Channel)

    def on_message(body: Any, message: Any) -> None:
        seen.append((body, redis_client.llen("hub"), redis_client.hlen("unacked")))
        message.ack()

    with Consumer(channel, QUEUES, callbacks=[on_message]):
        connection.drain_events(timeout=5)
    assert seen == [({"n": 1}, 0, 1)]
    assert redis_client.hlen("unacked") == 0 and redis_client.zcard("unacked_index") == 0


def test_queues_are_served_in_the_workers_order(
    connection: Connection, redis_client: redis.Redis
) -> None:
    _publish(connection, "hub.bulk", {"n": "bulk"})
    _publish(connection, "hub", {"n": "default"})
    _publish(connection, "hub.interactive", {"n": "interactive"})
    got: list[Any] = []

    def on_message(body: Any, message: Any) -> None:
        got.append(body["n"])
        message.ack()

    with Consumer(connection.channel(), QUEUES, callbacks=[on_message]):
        for _ in range(3):
            connection.drain_events(timeout=5)
    assert got == ["interactive", "default", "bulk"]


def test_a_message_taken_by_a_consumer_that_died_comes_back(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    with _connect(redis_server.url, visibility_timeout=1) as conn:
        _publish(conn, "hub", {"n": 2})
        dead = conn.channel()
        Consumer(dead, QUEUES, callbacks=[lambda body, message: None]).consume()
        dead.connection.cycle._register_BRPOP(dead)  # it takes the message ...
        deadline = time.monotonic() + 5
        while redis_client.llen("hub") and time.monotonic() < deadline:
            time.sleep(0.02)
        # ... and is killed before it reads the answer: the message is not in its queue,
        # and not lost either
        assert redis_client.llen("hub") == 0 and redis_client.hlen("unacked") == 1

    assert _swept_and_delivered_again(redis_server.url) == [({"n": 2}, True)]
    assert redis_client.hlen("unacked") == 0


def _swept_and_delivered_again(url: str) -> list[tuple[Any, Any]]:
    """Once the visibility timeout (1 s) passed, what a live consumer's sweep delivers
    again: each body with its ``redelivered`` flag."""
    time.sleep(1.1)
    got: list[tuple[Any, Any]] = []
    with _connect(url, visibility_timeout=1) as live:
        channel = live.channel()

        def on_message(body: Any, message: Any) -> None:
            got.append((body, message.delivery_info.get("redelivered")))
            message.ack()

        with Consumer(channel, QUEUES, callbacks=[on_message]):
            channel.qos.restore_visible()  # the sweep every live worker makes
            live.drain_events(timeout=5)
    return got


def _calls(client: redis.Redis, *commands: str) -> int:
    stats = client.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in commands)


def test_an_idle_consumer_waits_on_its_bells_and_looks_once_a_wait(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    with (
        _connect(redis_server.url, wait_seconds=1) as conn,
        Consumer(conn.channel(), QUEUES, callbacks=[]),
    ):
        before = _calls(redis_client, "eval", "evalsha"), _calls(redis_client, "blpop")
        with pytest.raises(socket.timeout):
            conn.drain_events(timeout=3.5)
        takes = _calls(redis_client, "eval", "evalsha") - before[0]
        waits = _calls(redis_client, "blpop") - before[1]
    # a take, then per second of waiting one wait and the take after it: not a busy loop
    assert 1 <= waits <= 4 and takes <= waits + 1


def test_a_message_is_taken_the_moment_its_bell_rings(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    got: list[Any] = []

    def on_message(body: Any, message: Any) -> None:
        got.append(body)
        message.ack()

    # the wait is far longer than the test: only the ring can bring the message
    with (
        _connect(redis_server.url, wait_seconds=60) as conn,
        Consumer(conn.channel(), QUEUES, callbacks=[on_message]),
    ):
        with pytest.raises(socket.timeout):
            conn.drain_events(timeout=0.5)  # found nothing: now waiting on the bells
        with _connect(redis_server.url) as producer:
            _publish(producer, "hub.bulk", {"n": 3})
        conn.drain_events(timeout=10)
    assert got == [{"n": 3}]
    assert redis_client.exists(bell_key("hub.bulk")) == 0  # its queue is empty again


def _take(client: redis.Redis, queues: list[str]) -> Any:
    """One run of the take script over ``queues`` (priority step 0 only)."""
    keys = ["unacked", "unacked_index", *(bell_key(q) for q in queues), *queues]
    return client.eval(TAKE_SCRIPT, len(keys), *keys, repr(time.time()), len(queues))


def test_the_take_keeps_each_bell_rung_while_its_queue_holds_messages(
    redis_client: redis.Redis,
) -> None:
    redis_client.lpush("hub", "a", "b")  # pushed without a ring (by some other producer)
    redis_client.lpush("hub.bulk", "c")
    redis_client.lpush(bell_key("hub.bulk"), "1", "1", "1")
    assert _take(redis_client, ["hub", "hub.bulk"]) == [b"hub", b"a"]
    # a waiting worker may take the rest: both bells rung, once is enough
    assert redis_client.llen(bell_key("hub")) == 1
    assert redis_client.llen(bell_key("hub.bulk")) == 3
    assert _take(redis_client, ["hub", "hub.bulk"]) == [b"hub", b"b"]
    assert redis_client.exists(bell_key("hub")) == 0  # empty: silent
    assert _take(redis_client, ["hub", "hub.bulk"]) == [b"hub.bulk", b"c"]
    assert _take(redis_client, ["hub", "hub.bulk"]) is None
    assert redis_client.exists(bell_key("hub"), bell_key("hub.bulk")) == 0


def test_publishing_and_restoring_ring_the_queues_bell(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    with _connect(redis_server.url, visibility_timeout=1) as conn:
        _publish(conn, "hub", {"n": 4})
        assert redis_client.lrange(bell_key("hub"), 0, -1) == [b"1"]
        channel = conn.channel()
        Consumer(channel, QUEUES, callbacks=[lambda body, message: None]).consume()
        conn.drain_events(timeout=5)  # taken and never acknowledged
        assert redis_client.exists(bell_key("hub")) == 0
        time.sleep(1.1)
        channel.qos.restore_visible()
    assert redis_client.llen("hub") == 1  # back in its queue, and its bell rung
    assert redis_client.lrange(bell_key("hub"), 0, -1) == [b"1"]


def test_a_bell_holds_few_tokens_however_many_messages_wait(
    connection: Connection, redis_client: redis.Redis
) -> None:
    for n in range(BELL_TOKENS + 10):
        _publish(connection, "hub", {"n": n})
    assert redis_client.llen("hub") == BELL_TOKENS + 10
    assert redis_client.llen(bell_key("hub")) == BELL_TOKENS


def test_a_consumer_cancelled_while_it_waits_gives_the_ring_back(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    with _connect(redis_server.url, wait_seconds=60) as conn:
        consumer = Consumer(conn.channel(), QUEUES, callbacks=[])
        consumer.consume()
        with pytest.raises(socket.timeout):
            conn.drain_events(timeout=0.5)  # waiting on the bells
        consumer.cancel()  # as a worker shutting down does, its wait still on the server
        with _connect(redis_server.url) as producer:
            _publish(producer, "hub", {"n": 5})
        with pytest.raises(socket.timeout):
            conn.drain_events(timeout=1)  # it reads the ring, and has nothing to take with
    # the ring is there again for a worker that does consume `hub`
    assert redis_client.llen(bell_key("hub")) == 1 and redis_client.llen("hub") == 1


def test_the_sentinel_channel_reads_the_bells_and_the_sentinels_options() -> None:
    # both bases name options; the first base's tuple alone would drop the primary's name
    names = SentinelChannel.from_transport_options
    assert {"wait_seconds", "master_name", "sentinel_kwargs", "visibility_timeout"} <= set(names)


# --- acknowledgements ride with the next take ------------------------------------------------


def test_the_take_removes_the_entries_it_is_given_before_it_takes(
    redis_client: redis.Redis,
) -> None:
    redis_client.hset("unacked", mapping={"done-1": "[]", "done-2": "[]", "held": "[]"})
    redis_client.zadd("unacked_index", {"done-1": 1, "done-2": 1, "held": 1})
    redis_client.lpush("hub", "a")
    keys = ["unacked", "unacked_index", bell_key("hub"), "hub"]
    taken = redis_client.eval(
        TAKE_SCRIPT, len(keys), *keys, repr(time.time()), 1, "done-1", "done-2"
    )
    assert taken == [b"hub", b"a"]
    assert set(redis_client.hkeys("unacked")) == {b"held"}
    assert redis_client.zrange("unacked_index", 0, -1) == [b"held"]


def test_an_acknowledgement_rides_with_the_next_take(
    connection: Connection, redis_client: redis.Redis
) -> None:
    for n in range(3):
        _publish(connection, "hub", {"n": n})
    seen: list[tuple[int, int]] = []

    def on_message(body: Any, message: Any) -> None:
        seen.append((body["n"], redis_client.hlen("unacked")))
        message.ack()

    with Consumer(connection.channel(), QUEUES, callbacks=[on_message]):
        connection.drain_events(timeout=5)
        before = _calls(redis_client, "multi", "exec")
        for _ in range(2):
            connection.drain_events(timeout=5)
        # each message's take removed the entry of the one acknowledged before it: no
        # transaction of kombu's own per acknowledgement, and one entry at a time
        assert [n for n, _ in seen] == [0, 1, 2]
        assert all(entries == 1 for _, entries in seen)
        assert _calls(redis_client, "multi", "exec") == before
        assert redis_client.hlen("unacked") == 1  # the last one waits for a take


def test_an_acknowledgement_no_take_follows_is_sent_before_the_wait(
    connection: Connection, redis_client: redis.Redis
) -> None:
    _publish(connection, "hub", {"n": 1})
    with Consumer(connection.channel(), QUEUES, callbacks=[lambda b, m: m.ack()]):
        connection.drain_events(timeout=5)
        assert redis_client.hlen("unacked") == 1
        with pytest.raises(socket.timeout):
            # the take after it finds the queues empty, then the channel waits on its
            # bells: the acknowledgement goes before that wait, not after it
            connection.drain_events(timeout=0.5)
        assert redis_client.hlen("unacked") == 0 and redis_client.zcard("unacked_index") == 0


def test_acknowledgements_due_are_sent_as_the_consumer_stops_or_the_channel_closes(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    with _connect(redis_server.url) as conn:
        _publish(conn, "hub", {"n": 1})
        consumer = Consumer(conn.channel(), QUEUES, callbacks=[lambda b, m: m.ack()])
        consumer.consume()
        conn.drain_events(timeout=5)
        assert redis_client.hlen("unacked") == 1
        consumer.cancel()
        assert redis_client.hlen("unacked") == 0
    with _connect(redis_server.url) as conn:
        _publish(conn, "hub", {"n": 2})
        channel = conn.channel()
        Consumer(channel, QUEUES, callbacks=[lambda b, m: m.ack()]).consume()
        conn.drain_events(timeout=5)
        assert redis_client.hlen("unacked") == 1
        channel.close()
        assert redis_client.hlen("unacked") == 0


def test_an_acknowledgement_made_while_the_channel_waits_on_its_bells_is_sent_at_once(
    connection: Connection, redis_client: redis.Redis
) -> None:
    _publish(connection, "hub", {"n": 1})
    held: list[Any] = []
    channel = connection.channel()
    with Consumer(channel, QUEUES, callbacks=[lambda b, m: held.append(m)]):
        connection.drain_events(timeout=5)
        with pytest.raises(socket.timeout):
            connection.drain_events(timeout=0.3)
        assert channel._command == "BLPOP"  # no take follows until a bell rings
        held[0].ack()
        assert redis_client.hlen("unacked") == 0 and redis_client.zcard("unacked_index") == 0


def test_an_acknowledgement_made_after_an_empty_take_is_sent_before_the_wait(
    connection: Connection, redis_client: redis.Redis
) -> None:
    _publish(connection, "hub", {"n": 1})
    held: list[Any] = []
    channel = connection.channel()
    with Consumer(channel, QUEUES, callbacks=[lambda b, m: held.append(m)]):
        connection.drain_events(timeout=5)
        channel._brpop_start()
        with pytest.raises(Empty):
            channel._brpop_read()  # every queue empty: the channel waits on its bells next
        held[0].ack()
        assert redis_client.hlen("unacked") == 1  # left for the next take...
        channel._brpop_start()
        assert channel._command == "BLPOP"
        assert redis_client.hlen("unacked") == 0  # ...which is a wait: sent before it
        _publish(connection, "hub", {"n": 2})  # rings the bell, ending the wait
        with pytest.raises(Empty):
            channel._brpop_read()


def test_acknowledgements_carried_by_a_take_the_server_had_no_script_for_go_with_the_next(
    connection: Connection, redis_client: redis.Redis
) -> None:
    _publish(connection, "hub", {"n": 1})
    held: list[Any] = []
    with Consumer(connection.channel(), QUEUES, callbacks=[lambda b, m: held.append(m)]):
        connection.drain_events(timeout=5)
        first = held[0].delivery_tag
        held[0].ack()
        redis_client.script_flush()  # a restarted server: the take by digest fails
        _publish(connection, "hub", {"n": 2})
        connection.drain_events(timeout=5)
        assert [m.payload for m in held] == [{"n": 1}, {"n": 2}]
        assert redis_client.hkeys("unacked") == [held[1].delivery_tag.encode()]
        assert not redis_client.zscore("unacked_index", first)


def test_an_acknowledgement_is_sent_at_once_when_a_lowered_prefetch_holds_off_the_next_take(
    connection: Connection, redis_client: redis.Redis
) -> None:
    for n in range(3):
        _publish(connection, "hub", {"n": n})
    held: list[Any] = []
    consumer = Consumer(connection.channel(), QUEUES, callbacks=[lambda b, m: held.append(m)])
    with consumer:
        consumer.qos(prefetch_count=2)
        for _ in range(2):
            connection.drain_events(timeout=5)
        consumer.qos(prefetch_count=1)  # Celery lowers it as a task with an ETA runs
        held[1].ack()
        # one message still held fills the prefetch: no take may carry the ack
        assert not redis_client.hexists("unacked", held[1].delivery_tag)
        assert redis_client.hlen("unacked") == 1 and redis_client.llen("hub") == 1


def test_a_channel_closes_when_redis_is_gone_with_acknowledgements_due(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer(tmp_path, appendonly=False).start()
    conn = _connect(server.url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        _publish(conn, "hub", {"n": 1})
        channel = conn.channel()
        Consumer(channel, QUEUES, callbacks=[lambda b, m: m.ack()]).consume()
        conn.drain_events(timeout=5)
        assert len(channel._acks_due) == 1
    finally:
        server.stop()
    channel.close()  # neither raises nor stops halfway: its consumers are cancelled
    assert channel.closed and not channel._consumers and not channel._acks_due
    assert "1 acknowledgement(s) not sent as the channel closed" in caplog.text
    conn.release()


def test_a_message_acknowledged_by_a_consumer_that_died_before_its_next_take_comes_back(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    # its entry stays in `unacked`, as if it died before acknowledging: the message is
    # delivered again after the visibility timeout (the step's ledger has it done)
    with _connect(redis_server.url, visibility_timeout=1) as conn:
        _publish(conn, "hub", {"n": 3})
        dead = conn.channel()
        Consumer(dead, QUEUES, callbacks=[lambda b, m: m.ack()]).consume()
        conn.drain_events(timeout=5)
        dead._acks_due.clear()  # killed outright: what it held in memory is gone
    assert redis_client.hlen("unacked") == 1
    assert _swept_and_delivered_again(redis_server.url) == [({"n": 3}, True)]
    assert redis_client.hlen("unacked") == 0
