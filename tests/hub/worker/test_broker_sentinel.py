"""The broker transport on the primary Redis Sentinel names: it takes messages with the
same script, and a connection closing after the primary went away is a connection error."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.messaging import Consumer, Producer

from hub.core.settings import Settings
from hub.worker.broker import SentinelChannel, SentinelTransport
from hub.worker.celery_app import create_celery
from tests.support.redis_sentinel import SentinelGroup

QUEUE = Queue("hub", Exchange("hub"), routing_key="hub")


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelGroup]:
    group = SentinelGroup(tmp_path_factory.mktemp("sentinel")).start()
    try:
        yield group
    finally:
        group.stop()


def _connect(url: str) -> Connection:
    conf = create_celery(Settings(hub_redis_url=url)).conf
    return Connection(
        conf.broker_url,
        transport=conf.broker_transport,
        transport_options=conf.broker_transport_options,
    )


def test_a_message_goes_through_the_primary_the_sentinels_name(group: SentinelGroup) -> None:
    primary = redis.Redis(port=group.primary.port)
    seen: list[tuple[Any, int]] = []
    with _connect(group.url()) as conn:
        channel = conn.channel()
        assert isinstance(channel, SentinelChannel)
        Producer(channel).publish(
            {"n": 1}, exchange=QUEUE.exchange, routing_key="hub", declare=[QUEUE]
        )
        assert primary.llen("hub") == 1  # on the primary: found through the sentinels

        def on_message(body: Any, message: Any) -> None:
            seen.append((body, primary.hlen("unacked")))  # taken by the hub's script
            message.ack()

        with Consumer(channel, [QUEUE], callbacks=[on_message]):
            conn.drain_events(timeout=5)
    assert seen == [({"n": 1}, 1)]
    assert primary.llen("hub") == 0 and primary.hlen("unacked") == 0


def test_a_pool_asked_for_after_the_connection_closed_is_a_connection_error() -> None:
    closed = SimpleNamespace(connection=SimpleNamespace(client=None))
    with pytest.raises(redis.ConnectionError) as caught:
        SentinelChannel._connparams(closed)  # type: ignore[arg-type]
    # what kombu's close ignores, so the worker connects again instead of exiting
    assert isinstance(caught.value, SentinelTransport.connection_errors)


def test_the_sentinel_transport_takes_its_settings_from_hub_redis_url() -> None:
    url = "redis+sentinel://:pw@127.0.0.1:26390,127.0.0.1:26391/hubprimary/2"
    conn = _connect(url)
    assert isinstance(conn.transport, SentinelTransport)
    assert [alt.split("@")[1] for alt in conn.alt] == ["127.0.0.1:26390/2", "127.0.0.1:26391/2"]
    assert (conn.transport_options or {}).get("master_name") == "hubprimary"
    # a failed connection moves on to the next sentinel's URL: still the hub's transport
    conn.switch(conn.alt[1])
    assert isinstance(conn.transport, SentinelTransport)
    assert conn.as_uri().startswith("sentinel://")  # the scheme Flower's broker page reads
