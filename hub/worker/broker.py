# kombu's classes are untyped; this module overrides their methods
# mypy: disable-error-code="no-untyped-call"
"""The Redis broker transport, without kombu's window for losing a task to a killed worker.

kombu's Redis transport takes a message with ``BRPOP`` (which removes it from Redis) and
only then, in the worker, writes it to the ``unacked`` hash from which a dead worker's
tasks are redelivered. A worker killed in between loses the task for good. That window is
not small: when a worker has all the tasks it may hold, kombu leaves an answered
``BRPOP`` unread until one finishes (seconds under load), and the message in it exists
only in that worker's socket buffer. The chaos suite lost 4 events of 1,000 that way.

:class:`Transport` closes it: a worker takes a message with ``BLMOVE`` into a staging
list of its own (``hub:staging:<id>``), still in Redis, and writes ``unacked`` and empties
the staging list in one transaction when it reads the message. Each worker notes in
``hub:staging`` when it was last alive, every restore sweep (``unacked_restore_interval``);
a sweep also moves the staged message of any worker not seen for
:func:`staging_timeout` seconds back to its queue. So a killed worker's tasks come back:
those it had read after the visibility timeout (``unacked``), those it had not read after
the staging timeout. A redelivered step is not applied twice (:mod:`hub.worker.idempotency`).

This needs one Redis list per consumed queue (``priority_steps`` ``[0]``, the hub's
setting) and Redis 6.2 or later; with several lists to poll, or a global key prefix, the
channel polls with kombu's ``BRPOP`` as before.
"""

from __future__ import annotations

import logging
import time
import uuid
from queue import Empty
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads

__all__ = ["STAGING_INDEX", "Channel", "QoS", "Transport", "staging_timeout"]

log = logging.getLogger("hub.worker")

STAGING_INDEX = "hub:staging"
_STAGING_KEY = "hub:staging:{}"


def staging_timeout(restore_interval: float) -> float:
    """Seconds after which a staging list whose worker stopped noting itself is swept
    back: three missed sweeps, and some slack."""
    return 3 * restore_interval + 5


class QoS(kombu_redis.QoS):
    """Writes ``unacked`` and empties the channel's staging list in one transaction."""

    def append(self, message: Any, delivery_tag: str) -> None:
        channel: Channel = self.channel
        staged = channel.staged
        if staged is None:
            super().append(message, delivery_tag)
            return
        delivery = message.delivery_info
        raw = dumps([message._raw, delivery["exchange"], delivery["routing_key"]])
        with self.pipe_or_acquire() as pipe:
            pipe.zadd(self.unacked_index_key, {delivery_tag: time.time()})
            pipe.hset(self.unacked_key, delivery_tag, raw)
            pipe.delete(staged)
            pipe.execute()
        channel.staged = None
        virtual.QoS.append(self, message, delivery_tag)

    def restore_visible(self, start: int = 0, num: int = 10, interval: int = 10) -> Any:
        self.channel.sweep_staging()
        return super().restore_visible(start=start, num=num, interval=interval)


class Channel(kombu_redis.Channel):
    """A Redis channel that takes messages into its own staging list (see the module)."""

    QoS = QoS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.staging_key = _STAGING_KEY.format(uuid.uuid4().hex)
        #: the staging list while it holds a message not yet in ``unacked``
        self.staged: str | None = None
        self._staging_source: str | None = None
        self._registered_staging = False

    def _restore_interval(self) -> float:
        options = self.connection.client.transport_options
        return float(options.get("unacked_restore_interval", self.unacked_restore_interval))

    def _single_key(self) -> str | None:
        """The one Redis list this channel polls, or None when it polls several."""
        queues = list(self.active_queues)
        if len(queues) != 1 or len(self.priority_steps) != 1 or self.global_keyprefix:
            return None
        key: str = self._q_for_pri(queues[0], self.priority_steps[0])
        return key

    def _brpop_start(self, timeout: int | None = None) -> None:
        key = self._single_key()
        if key is None:
            self._staging_source = None
            super()._brpop_start(timeout)
            return
        if not self._registered_staging:
            with self.conn_or_acquire() as client:
                client.zadd(STAGING_INDEX, {self.staging_key: time.time()})
            self._registered_staging = True
        self._staging_source = key
        self._in_poll = self.client.connection
        self._brpop_sent_at = time.monotonic()  # type: ignore[assignment]
        wait = self.brpop_timeout if timeout is None else timeout
        self.client.connection.send_command(
            "BLMOVE", key, self.staging_key, "RIGHT", "LEFT", wait or 0
        )

    def _brpop_read(self, **options: Any) -> bool:
        source = self._staging_source
        if source is None:
            return bool(super()._brpop_read(**options))
        try:
            try:
                item = self.client.parse_response(self.client.connection, "BLMOVE", **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if not item:
                raise Empty()
            queue = bytes_to_str(source).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(queue)
            self.staged = self.staging_key
            self.connection._deliver(loads(bytes_to_str(item)), queue)
            if self.staged is not None:  # delivered without an ack to wait for
                with self.conn_or_acquire() as client:
                    client.delete(self.staging_key)
                self.staged = None
            return True
        finally:
            self._in_poll = None  # type: ignore[assignment]
            self._staging_source = None
            self._flush_brpop_reauth()

    def sweep_staging(self) -> None:
        """Note this channel alive; move the staged messages of channels not seen for
        :func:`staging_timeout` back to their queues."""
        if not self._registered_staging:
            return
        now = time.time()
        limit = now - staging_timeout(self._restore_interval())
        with self.conn_or_acquire() as client:
            client.zadd(STAGING_INDEX, {self.staging_key: now})
            for member in client.zrangebyscore(STAGING_INDEX, "-inf", limit):
                moved = self._unstage_all(client, bytes_to_str(member))
                if moved:
                    log.warning("%d task(s) a dead worker had taken went back to the queue", moved)

    def _unstage_all(self, client: Any, key: str) -> int:
        """Move what staging list ``key`` holds back to its queue; forget the list."""
        moved: int = client.transaction(
            lambda pipe: self._unstage(pipe, key), key, value_from_callable=True
        )
        return moved

    def _unstage(self, pipe: Any, key: str) -> int:
        items = pipe.lrange(key, 0, -1)
        pipe.multi()
        for item in items:
            payload = loads(bytes_to_str(item))
            info = payload.get("properties", {}).get("delivery_info", {})
            exchange, routing_key = info.get("exchange", ""), info.get("routing_key", "")
            self._do_restore_message(payload, exchange, routing_key, pipe)
        pipe.delete(key)
        pipe.zrem(STAGING_INDEX, key)
        return len(items)

    def close(self) -> None:
        registered = self._registered_staging and not self.closed
        client = self._create_client() if registered else None
        super().close()  # reads (and delivers) a pending message first
        if client is not None:
            try:
                self._unstage_all(client, self.staging_key)
            except Exception:  # Redis away: a live worker's sweep moves it back later
                log.debug("staging list %s left for the sweep", self.staging_key, exc_info=True)


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`Channel`."""

    Channel = Channel
