"""Task events published without waiting for Redis's answer: they arrive, in order, and
the answers left unread never confuse the connection."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import redis

from hub.core.redis_server import RedisServer
from hub.core.settings import Settings
from hub.worker.celery_app import create_celery
from hub.worker.fanout_publish import MAX_UNREAD, UnansweredPublish


class _Connection:
    """A connection that records what is sent and read; ``answered``: answers waiting."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.answered = 0
        self.reads = 0
        self.disconnected = False

    def send_command(self, *args: Any, check_health: bool = True) -> None:
        assert check_health is False  # a health check's PING would read a PUBLISH answer
        self.sent.append(args)

    def can_read(self, timeout: float = 0) -> bool:
        return self.answered > 0

    def read_response(self) -> int:
        assert self.answered > 0, "read an answer that is not there: the publish would block"
        self.answered -= 1
        self.reads += 1
        return 1

    def disconnect(self) -> None:
        self.disconnected = True


def _subscribed(client: redis.Redis, channel: str) -> Any:
    sub = client.pubsub()
    sub.subscribe(channel)
    assert sub.get_message(timeout=2)["type"] == "subscribe"
    return sub


def _received(sub: Any, count: int) -> list[bytes]:
    out: list[bytes] = []
    deadline = time.monotonic() + 5
    while len(out) < count and time.monotonic() < deadline:
        message = sub.get_message(timeout=0.5)
        if message and message["type"] == "message":
            out.append(message["data"])
    return out


def test_a_publish_sends_without_reading_an_answer_not_there_yet() -> None:
    connection = _Connection()
    publisher = UnansweredPublish(lambda: connection)
    for n in range(3):
        publisher.publish("events", f"e{n}")
    assert [args[2] for args in connection.sent] == ["e0", "e1", "e2"]
    assert connection.reads == 0 and publisher.unread == 3
    connection.answered = 2  # two answers came: the next send reads them first
    publisher.publish("events", "e3")
    assert connection.reads == 2 and publisher.unread == 2


def test_at_most_max_unread_answers_are_left_unread() -> None:
    connection = _Connection()
    publisher = UnansweredPublish(lambda: connection)
    for n in range(MAX_UNREAD):
        publisher.publish("events", f"e{n}")
    assert publisher.unread == MAX_UNREAD
    connection.answered = MAX_UNREAD  # the server answered them all
    publisher.publish("events", "one more")  # reads every answer due before sending
    assert connection.reads == MAX_UNREAD and publisher.unread == 1


def test_a_forked_child_makes_its_own_connection_and_leaves_its_parents_alone() -> None:
    made: list[_Connection] = []
    pid = [100]

    def make() -> _Connection:
        made.append(_Connection())
        return made[-1]

    publisher = UnansweredPublish(make, getpid=lambda: pid[0])
    publisher.publish("events", "from the parent")
    pid[0] = 101  # forked
    publisher.publish("events", "from the child")
    publisher.close()
    assert len(made) == 2
    assert [args[2] for args in made[1].sent] == ["from the child"]
    assert not made[0].disconnected  # the parent's socket: not the child's to close
    assert made[1].disconnected


def test_events_arrive_in_order_and_the_health_check_reads_no_answer_of_theirs(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    sub = _subscribed(redis_client, "events")
    # a health check due at every send: a PING among unread answers would fail it
    pool = redis.ConnectionPool.from_url(redis_server.url, health_check_interval=0.001)
    publisher = UnansweredPublish(pool.make_connection)
    for n in range(MAX_UNREAD * 2 + 5):
        publisher.publish("events", f"e{n}")
        if n % 100 == 0:
            time.sleep(0.01)
    got = _received(sub, MAX_UNREAD * 2 + 5)
    assert got == [f"e{n}".encode() for n in range(MAX_UNREAD * 2 + 5)]
    assert publisher.unread <= MAX_UNREAD
    publisher.close()


def test_a_connection_the_server_closed_is_replaced_at_the_next_publish(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    sub = _subscribed(redis_client, "events")
    pool = redis.ConnectionPool.from_url(redis_server.url, client_name="fanout-under-test")
    publisher = UnansweredPublish(pool.make_connection)
    publisher.publish("events", "before")
    assert _received(sub, 1) == [b"before"]
    (mine,) = [c for c in redis_client.client_list() if c["name"] == "fanout-under-test"]
    assert redis_client.client_kill_filter(_id=mine["id"]) == 1
    time.sleep(0.05)
    publisher.publish("events", "after")  # finds the old one closed, sends on a new one
    assert _received(sub, 1) == [b"after"]
    publisher.close()


def test_the_workers_task_events_go_through_it(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    app = create_celery(Settings(hub_redis_url=redis_server.url))
    sub = redis_client.pubsub()
    sub.psubscribe("*celeryev*")
    assert sub.get_message(timeout=2)["type"] == "psubscribe"
    with app.connection_for_write() as connection:
        dispatcher = app.events.Dispatcher(connection, enabled=True)
        for n in range(3):
            dispatcher.send("task-received", uuid=f"t{n}")
        publisher = connection.default_channel._unanswered
        assert isinstance(publisher, UnansweredPublish) and publisher.unread >= 1
        dispatcher.close()
    got: list[tuple[str, str]] = []
    deadline = time.monotonic() + 5
    while len(got) < 3 and time.monotonic() < deadline:
        message = sub.get_message(timeout=0.5)
        if message and message["type"] == "pmessage":
            envelope = json.loads(message["data"])  # kombu's: the event in its body
            event = json.loads(base64.b64decode(envelope["body"]))
            got.append((event["type"], event["uuid"]))
    assert got == [("task-received", f"t{n}") for n in range(3)]
