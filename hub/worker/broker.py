# kombu's classes are untyped; this module overrides their methods
# mypy: disable-error-code="no-untyped-call"
"""The Redis broker transport, without kombu's window for losing a task to a killed worker.

kombu's Redis transport takes a message with ``BRPOP``, which removes it from Redis, and
only then, in the worker, writes it to the ``unacked`` hash from which a dead worker's
tasks are delivered again. A worker killed in between loses the task for good, and the
window is not small: an answered ``BRPOP`` waits unread while the worker's main process
is busy, or holds all the tasks it may (kombu then leaves the answer in the socket until
one finishes). The chaos suite lost 4 events of 1,000 that way.

:class:`Transport` takes a message with a script instead: in one step on the server it
pops the message from the first of the worker's queues that has one (the order ``BRPOP``
would serve) and records it in ``unacked`` (and its index) under the message's delivery
tag, the entry kombu itself writes when it reads the message. From the moment it leaves
its queue, a message is in ``unacked``: if the worker dies, the restore sweep of any
live worker delivers it again after the visibility timeout, and the redelivered step is
not applied twice (:mod:`hub.worker.idempotency`).

A script cannot block, so when every queue was empty the channel naps on the server
(``BLPOP`` on a key nothing writes, :data:`NAP_SECONDS`) before it looks again: an idle
worker asks Redis ten times a second, and a message arriving at an idle worker waits up
to that long. With a global key prefix the channel polls with kombu's ``BRPOP`` as before.
"""

from __future__ import annotations

import logging
import time
from queue import Empty
from typing import Any

import redis
from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

__all__ = [
    "NAP_KEY",
    "NAP_SECONDS",
    "TAKE_SCRIPT",
    "Channel",
    "SentinelChannel",
    "SentinelTransport",
    "Transport",
]

log = logging.getLogger("hub.worker")

#: how long an idle channel waits on the server before it looks at its queues again
NAP_SECONDS = 0.1
#: a list nothing ever writes: blocking on it is a nap on the server
NAP_KEY = "hub:broker:nap"

# KEYS: unacked hash, unacked index, then the queues' lists in the order to serve them.
# ARGV: now. Returns {list, message} for the first message, or nil when all are empty.
# The unacked entry is [message, exchange, routing key], as kombu writes it; the message
# text is kept as it came (decoding and encoding again could change it).
TAKE_SCRIPT = """
for i = 3, #KEYS do
  local message = redis.call('RPOP', KEYS[i])
  if message then
    local ok, payload = pcall(cjson.decode, message)
    local properties = ok and type(payload) == 'table' and payload['properties']
    local tag = properties and properties['delivery_tag']
    if tag then
      local info = properties['delivery_info'] or {}
      local entry = '[' .. message .. ',' .. cjson.encode(info['exchange'] or '') .. ','
        .. cjson.encode(info['routing_key'] or '') .. ']'
      redis.call('HSET', KEYS[1], tag, entry)
      redis.call('ZADD', KEYS[2], ARGV[1], tag)
    end
    return {KEYS[i], message}
  end
end
return false
"""


class Channel(kombu_redis.Channel):
    """A Redis channel that takes messages with :data:`TAKE_SCRIPT` (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._taking = False  # the command in flight is a take (else a nap or BRPOP)
        self._nap_next = False

    def _brpop_start(self, timeout: int | None = None) -> None:
        if self.global_keyprefix:
            super()._brpop_start(timeout)
            return
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        self._in_poll = self.client.connection
        self._brpop_sent_at = time.monotonic()  # type: ignore[assignment]
        if self._nap_next:
            self._nap_next, self._taking = False, False
            self.client.connection.send_command("BLPOP", NAP_KEY, NAP_SECONDS)
            return
        keys = [self._q_for_pri(q, pri) for pri in self.priority_steps for q in queues]
        self._taking = True
        self.client.connection.send_command(
            "EVAL",
            TAKE_SCRIPT,
            2 + len(keys),
            self.unacked_key,
            self.unacked_index_key,
            *keys,
            repr(time.time()),
        )

    def _brpop_read(self, **options: Any) -> bool:
        if self.global_keyprefix:
            return bool(super()._brpop_read(**options))
        try:
            try:
                command = "EVAL" if self._taking else "BLPOP"
                reply = self.client.parse_response(self.client.connection, command, **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if not self._taking or not reply:
                self._nap_next = self._taking  # all empty: nap before looking again
                raise Empty()
            source, item = reply
            queue = bytes_to_str(source).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(queue)
            self._deliver_taken(loads(bytes_to_str(item)), queue)
            return True
        finally:
            self._in_poll = None  # type: ignore[assignment]
            self._taking = False
            self._flush_brpop_reauth()

    def _deliver_taken(self, payload: dict[str, Any], queue: str) -> None:
        """Deliver a taken message. kombu notes it delivered (and records it in
        ``unacked`` again) unless its consumer takes no acks; then nothing will ever
        acknowledge it, so its ``unacked`` entry goes at once."""
        self.connection._deliver(payload, queue)
        tag = payload.get("properties", {}).get("delivery_tag")
        if tag and tag not in self.qos._delivered:  # not awaiting an ack (or acked already)
            with self.conn_or_acquire() as client:
                pipe = client.pipeline()
                pipe.zrem(self.unacked_index_key, tag)
                pipe.hdel(self.unacked_key, tag)
                pipe.execute()


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`Channel`."""

    Channel = Channel


class SentinelChannel(Channel, kombu_redis.SentinelChannel):
    """:class:`Channel` on the primary Redis Sentinel names (kombu's sentinel pools).

    When the primary goes away, Celery closes the broker connection, and kombu's close
    gives the channel's unacknowledged messages back through a new pool, built from a
    connection that may be closed already (kombu raised ``AttributeError`` there, which
    the worker took as unrecoverable, and exited). Here that is a connection error, which
    the close ignores: the worker connects again to the new primary, and the messages,
    still in ``unacked``, are delivered again after the visibility timeout.
    """

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise redis.ConnectionError("the broker connection is closed")
        params: dict[str, Any] = super()._connparams(asynchronous)
        return params


class SentinelTransport(kombu_redis.SentinelTransport):
    """kombu's Redis Sentinel transport with :class:`SentinelChannel`."""

    Channel = SentinelChannel
