"""The broker transport on a real Redis: a message leaves its queue already recorded as
unacknowledged, so a consumer that dies holding it cannot lose it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.messaging import Consumer, Producer

from hub.core.redis_server import RedisServer
from hub.core.settings import Settings
from hub.worker.broker import Channel
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

    time.sleep(1.1)  # the visibility timeout passes
    got: list[Any] = []
    with _connect(redis_server.url, visibility_timeout=1) as live:
        channel = live.channel()

        def on_message(body: Any, message: Any) -> None:
            got.append((body, message.delivery_info.get("redelivered")))
            message.ack()

        with Consumer(channel, QUEUES, callbacks=[on_message]):
            channel.qos.restore_visible()  # the sweep every live worker makes
            live.drain_events(timeout=5)
    assert got == [({"n": 2}, True)]
    assert redis_client.hlen("unacked") == 0


def test_an_idle_consumer_naps_on_the_server_instead_of_spinning(
    connection: Connection, redis_client: redis.Redis
) -> None:
    def evals() -> int:
        stats = redis_client.info("commandstats")
        return int(stats.get("cmdstat_eval", {}).get("calls", 0))

    with Consumer(connection.channel(), QUEUES, callbacks=[]):
        before = evals()
        with pytest.raises(socket.timeout):
            connection.drain_events(timeout=1)
        looks = evals() - before
    assert 1 <= looks <= 15  # about one look per nap of 0.1 s, not a busy loop
