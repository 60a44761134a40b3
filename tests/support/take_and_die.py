"""A consumer on the hub's transport that SIGKILLs itself right after its first take.

    python -m tests.support.take_and_die read      # killed once the take's answer is read
    python -m tests.support.take_and_die unread    # killed before it reads the answer

It consumes the step queues of ``HUB_REDIS_URL`` as a worker does and prints ``waiting``
once it waits on its queues' bells. ``read``: the first message is handed to its consumer,
which kills the process before doing anything with it. ``unread``: once a message is
queued, it sends one take and kills the process as soon as the message has left its
queue, with the answer unread in the socket (the window kombu's ``BRPOP`` loses a task in).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from typing import Any

import redis
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.messaging import Consumer

from hub.core.settings import Settings
from hub.worker.broker import Channel
from hub.worker.celery_app import create_celery
from hub.worker.queues import STEP_QUEUES

__all__ = ["main"]


def _die(*_: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _connection(url: str) -> Connection:
    conf = create_celery(Settings(hub_redis_url=url)).conf
    options = conf.broker_transport_options
    return Connection(url, transport=conf.broker_transport, transport_options=options)


def main(mode: str) -> None:
    url = os.environ["HUB_REDIS_URL"]
    queues = [Queue(name, Exchange(name), routing_key=name) for name in STEP_QUEUES]
    client = redis.Redis.from_url(url)
    with _connection(url) as conn:
        channel = conn.channel()
        assert isinstance(channel, Channel)
        consumer = Consumer(channel, queues, callbacks=[_die])
        consumer.consume()
        if mode == "unread":
            print("waiting", flush=True)
            while not any(client.llen(q) for q in STEP_QUEUES):
                time.sleep(0.01)
            channel.connection.cycle._register_BRPOP(channel)  # sends the take
            while any(client.llen(q) for q in STEP_QUEUES):
                time.sleep(0.001)
            _die()
        with contextlib.suppress(TimeoutError):
            conn.drain_events(timeout=0.5)  # an empty take: the channel waits on the bells
        print("waiting", flush=True)
        while True:
            try:
                conn.drain_events(timeout=30)
            except TimeoutError:
                continue


if __name__ == "__main__":
    main(sys.argv[1])
