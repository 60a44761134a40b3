"""The broker transport on a real Redis: messages are taken through a staging list, and a
dead consumer's staged message goes back to its queue."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Producer, Queue

from hub.redis_server import RedisServer
from hub.settings import Settings
from hub.worker.broker import STAGING_INDEX, Channel, staging_timeout
from hub.worker.celery_app import create_celery

QUEUE = Queue("hub", Exchange("hub"), routing_key="hub")


def _connect(url: str) -> Connection:
    conf = create_celery(Settings(hub_redis_url=url)).conf
    options = {**conf.broker_transport_options, "unacked_restore_interval": 1}
    return Connection(url, transport=conf.broker_transport, transport_options=options)


@pytest.fixture
def connection(redis_server: RedisServer, redis_client: redis.Redis) -> Iterator[Connection]:
    with _connect(redis_server.url) as conn:
        yield conn


def _publish(conn: Connection, body: dict[str, Any]) -> None:
    with conn.channel() as channel:
        Producer(channel).publish(body, exchange=QUEUE.exchange, routing_key="hub", declare=[QUEUE])


def test_a_message_is_in_unacked_once_read_and_its_staging_list_is_empty(
    connection: Connection, redis_client: redis.Redis
) -> None:
    _publish(connection, {"n": 1})
    seen: list[tuple[Any, int, int]] = []
    channel = connection.channel()
    assert isinstance(channel, Channel)

    def on_message(body: Any, message: Any) -> None:
        staged = redis_client.llen(channel.staging_key)
        seen.append((body, redis_client.hlen("unacked"), staged))
        message.ack()

    with Consumer(channel, [QUEUE], callbacks=[on_message]):
        connection.drain_events(timeout=5)
    assert seen == [({"n": 1}, 1, 0)]  # taken into unacked, out of staging, in one go
    assert redis_client.hlen("unacked") == 0  # acknowledged
    assert redis_client.zscore(STAGING_INDEX, channel.staging_key) is not None
    channel.close()
    assert redis_client.zscore(STAGING_INDEX, channel.staging_key) is None


def test_a_message_taken_by_a_consumer_that_died_goes_back_to_its_queue(
    connection: Connection, redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    _publish(connection, {"n": 2})
    dead = connection.channel()
    Consumer(dead, [QUEUE], callbacks=[lambda body, message: None]).consume()
    dead.connection.cycle._register_BRPOP(dead)  # the message moves to its staging list
    # ... and it never reads the answer
    deadline = time.monotonic() + 5
    while not redis_client.llen(dead.staging_key) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert redis_client.llen("hub") == 0 and redis_client.llen(dead.staging_key) == 1
    assert redis_client.hlen("unacked") == 0  # in neither the queue nor unacked: only staged
    # it stops noting itself alive: as a killed worker would
    stale = time.time() - staging_timeout(1) - 1
    redis_client.zadd(STAGING_INDEX, {dead.staging_key: stale})

    live = _connect(redis_server.url)
    got: list[Any] = []
    with live:
        channel = live.channel()

        def on_message(body: Any, message: Any) -> None:
            got.append((body, message.delivery_info.get("redelivered")))
            message.ack()

        with Consumer(channel, [QUEUE], callbacks=[on_message]):
            with pytest.raises(socket.timeout):
                live.drain_events(timeout=1.5)  # nothing: the message is staged elsewhere
            channel.qos.restore_visible()  # the sweep a live worker makes every interval
            live.drain_events(timeout=5)
    assert got == [({"n": 2}, True)]
    assert not redis_client.exists(dead.staging_key)
    assert redis_client.zscore(STAGING_INDEX, dead.staging_key) is None
