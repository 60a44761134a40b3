# kombu's classes are untyped; this module overrides their methods
# mypy: disable-error-code="no-untyped-call"
"""The Redis broker transport: a blocking take that cannot lose a task to a killed worker.

kombu's Redis transport takes a message with ``BRPOP``, which removes it from Redis, and
only then, in the worker, writes it to the ``unacked`` hash from which a dead worker's
tasks are delivered again. A worker killed in between loses the task for good, and the
window is not small: an answered ``BRPOP`` waits unread while the worker's main process
is busy, or holds all the tasks it may (kombu then leaves the answer in the socket until
one finishes). The chaos suite lost 4 events of 1,000 that way.

:class:`Channel` takes a message with a script instead (:data:`TAKE_SCRIPT`): in one step
on the server it pops the message from the first of the worker's queues that has one
(the order ``BRPOP`` would serve) and records it in ``unacked`` (and its index) under the
message's delivery tag, the entry kombu itself writes when it reads the message. From the
moment it leaves its queue, a message is in ``unacked``: if the worker dies, the restore
sweep of any live worker delivers it again after the visibility timeout, and the
redelivered step is not applied twice (:mod:`hub.worker.idempotency`).

A script cannot block, so a worker that found every queue empty waits on its queues'
*bells* (``BLPOP`` on :data:`BELL_KEY` of each, at most :data:`WAIT_SECONDS`) and takes
with the script again the moment one rings. Whoever pushes a message rings its queue's
bell in the same transaction: this channel when it publishes or restores a message, the
ingress in its accept script (:func:`ring_commands` gives both the commands). The take
keeps every bell of its queues true: rung while the queue holds a message, silent once it
holds none, so one ring wakes one waiting worker, and a worker that took a message of
another queue than the one that woke it leaves that queue's bell rung for the next. A
bell holds a token, never a message: whatever happens to a waiting worker, nothing of
value is in flight to it, and the no-loss argument above is unchanged.

Why not the other blocking commands: ``BLMOVE`` moves a message into an in-flight list
atomically but waits on one list, and a worker serves four queues (times kombu's
priority steps) in priority order: one blocked connection per queue would take messages
the worker has no room for. ``BLMPOP`` waits on many lists but pops the message into its
answer, the very window this transport closes. Streams consumer groups would change every
producer, Flower's queue lengths and the autoscaler's metric.

An idle worker asks Redis nothing but that wait, renewed every :data:`WAIT_SECONDS` with
one take: the renewal is the connection's heartbeat (kombu drops a connection whose wait
is overdue), and its take finds a message pushed without a ring (by a producer that is
not the hub's). A ring swallowed by a worker that died in the instant between the ring
and its take costs at most that wait. With a global key prefix the channel uses kombu's
``BRPOP`` as before.

A message's acknowledgement rides with the take that follows it: the tag goes into the
take script's arguments, and the script removes its ``unacked`` entry before it pops. A
worker's main process so makes one round trip per message where kombu makes two (its
acknowledgement waits for Redis, fsynced, before the next take may start). An
acknowledgement is sent on its own, and waited for, when no take follows it at once:
the channel is about to wait on its bells, holds as many messages as it may, stops
consuming, or closes. If the worker dies before the take that carries it, the entry
stays in ``unacked`` and the restore sweep delivers the message again after the
visibility timeout, as it would had the worker died before acknowledging: the step's
ledger has it done, and it is not applied twice. An acknowledgement that cannot reach
Redis is kept for the next take; one the channel closes without is logged and left to the
sweep the same way. ``basic_recover`` (never called by Celery) puts back the messages
still held, not those acknowledged and not yet removed.

Task events and broadcasts (fanout) are published without waiting for Redis's answer
(:mod:`hub.worker.fanout_publish`): the worker's main process no longer stops between a
message's take and its hand-over to wait for the answer to a ``task-received`` event.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from queue import Empty
from typing import Any

import redis
from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads
from redis.exceptions import NoScriptError

from hub.worker.fanout_publish import UnansweredPublish

__all__ = [
    "BELL_KEY",
    "BELL_TOKENS",
    "TAKE_SCRIPT",
    "WAIT_SECONDS",
    "Channel",
    "SentinelChannel",
    "SentinelTransport",
    "Transport",
    "bell_key",
    "ring_commands",
    "ring_for",
]

log = logging.getLogger("hub.worker")

#: the bell of a queue (by its name): a list that holds tokens while the queue holds messages
BELL_KEY = "hub:broker:bell:{}"
#: the most tokens a bell keeps: one wakes one waiting worker; each take rings again if needed
BELL_TOKENS = 64
#: the longest an idle worker waits on its bells before it looks at its queues anyway
WAIT_SECONDS = 5.0

# KEYS: unacked hash, unacked index, the bell of each of the Q queues, then the queues'
# lists in the order to serve them (kombu's: every queue at priority step 0, then at the
# next step, ...). ARGV: now, Q, then the delivery tags acknowledged since the last take,
# whose unacked entries go before anything is taken. Returns {list, message} for the
# first message, or nil when all are empty. The unacked entry is [message, exchange,
# routing key], as kombu writes it; the message text is kept as it came (decoding and
# encoding again could change it). Then each bell is set true: rung while its queue holds
# a message, silent once it holds none.
TAKE_SCRIPT = """
for i = 3, #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[i])
end
local queues = tonumber(ARGV[2])
local first = 3 + queues
local taken
for i = first, #KEYS do
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
    taken = {KEYS[i], message}
    break
  end
end
if not taken then
  redis.call('DEL', unpack(KEYS, 3, first - 1))
  return false
end
for q = 0, queues - 1 do
  local waiting = false
  for i = first + q, #KEYS, queues do
    if redis.call('LLEN', KEYS[i]) > 0 then waiting = true; break end
  end
  local bell = KEYS[3 + q]
  if not waiting then
    redis.call('DEL', bell)
  elseif redis.call('LLEN', bell) == 0 then
    redis.call('LPUSH', bell, '1')
  end
end
return taken
"""
TAKE_SHA = hashlib.sha1(TAKE_SCRIPT.encode()).hexdigest()


def bell_key(queue: str, sep: str = kombu_redis.Channel.sep) -> str:
    """The bell of ``queue``, given its name or one of its lists (``queue<sep><step>``)."""
    return BELL_KEY.format(queue.split(sep, 1)[0])


def ring_commands(queue: str) -> list[tuple[str, ...]]:
    """The commands that ring ``queue``'s bell (run them in the transaction that pushes)."""
    bell = bell_key(queue)
    return [("LPUSH", bell, "1"), ("LTRIM", bell, "0", str(BELL_TOKENS - 1))]


def ring_for(client: Any, queue: str) -> None:
    """Ring ``queue``'s bell through ``client`` (a Redis client or pipeline): for messages
    that reached the queue other than through this transport or the ingress."""
    for command in ring_commands(queue):
        client.execute_command(*command)


class QoS(kombu_redis.QoS):
    """kombu's QoS, without writing again the ``unacked`` entry of a message its take
    wrote already (kombu writes it when it hands the message to its consumer), and with
    acknowledgements that ride with the next take when one follows (see the module)."""

    def append(self, message: Any, delivery_tag: str) -> None:
        if delivery_tag is not None and delivery_tag == self.channel._taking:
            super(kombu_redis.QoS, self).append(message, delivery_tag)  # in memory only
            return
        super().append(message, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        if not self.channel._ack_with_next_take(delivery_tag):
            super().ack(delivery_tag)
            return
        super(kombu_redis.QoS, self).ack(delivery_tag)  # in memory; Redis with the take
        if not self.can_consume():  # a lowered prefetch: no take follows this ack
            self.channel._send_acks_due_or_keep()


class Channel(kombu_redis.Channel):
    """A Redis channel that takes messages with :data:`TAKE_SCRIPT` and waits on bells
    (see the module)."""

    QoS = QoS
    _pool_client: Any = None  # the client around the connection pool (conn_or_acquire)
    _keys_of: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}
    #: how long an idle channel waits on its bells (transport option ``wait_seconds``)
    wait_seconds = WAIT_SECONDS
    from_transport_options: tuple[str, ...] = (  # type: ignore[assignment]
        *kombu_redis.Channel.from_transport_options,
        "wait_seconds",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # kombu drops a connection whose blocking call is overdue by this much and more
        self.brpop_timeout = max(self.brpop_timeout, self.wait_seconds)
        self._command = ""  # the command in flight: EVAL (a take) or BLPOP (a wait)
        self._wait_next = False
        self._taking: str | None = None  # the delivery tag of the message being handed on
        self._script_cached = False  # the server has TAKE_SCRIPT (a take by digest will do)
        self._acks_due: list[str] = []  # acknowledged, for the next take to remove
        self._acks_in_take: list[str] = []  # sent with the take in flight

    # --- one client for the pool -------------------------------------------------------------

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        """kombu builds a client around the connection pool for every publish, ack and
        event (its callback table copied each time, about 0.1 ms); this channel builds
        one per pool and uses it again."""
        if client is not None:
            yield client
            return
        shared = self._pool_client
        if shared is None or shared.connection_pool is not self.pool:
            shared = self._pool_client = self._create_client()
        yield shared

    # --- publishing: every push rings its queue's bell --------------------------------------

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:
        batch = kwargs.pop("_publish_batch", None)
        if self.global_keyprefix:
            super()._put(queue, message, _publish_batch=batch)
            return
        key = self._q_for_pri(queue, self._get_message_priority(message, reverse=False))
        commands = [("LPUSH", key, dumps(message)), *ring_commands(queue)]
        if self._expires and queue in self._expires:
            expiry = self._expires[queue]
            for step in self.priority_steps:
                commands.append(("PEXPIRE", self._q_for_pri(queue, step), str(expiry)))
        if batch is not None:
            for name, *args in commands:
                batch.add(name.lower(), *args)
            return
        with self.conn_or_acquire() as client:
            pipe = client.pipeline()
            for command in commands:
                pipe.execute_command(*command)
            pipe.execute()

    def _put_fanout(self, exchange: str, message: Any, routing_key: str, **kwargs: Any) -> None:
        """Task events and broadcasts: sent without waiting for Redis's answer (see
        :mod:`hub.worker.fanout_publish`)."""
        if self.global_keyprefix or kwargs.get("_publish_batch") is not None:
            super()._put_fanout(exchange, message, routing_key, **kwargs)
            return
        payload = dumps(message)
        for topic in self._get_publish_topics(exchange, routing_key):
            self._unanswered.publish(topic, payload)

    @cached_property
    def _unanswered(self) -> UnansweredPublish:
        return UnansweredPublish(self.pool.make_connection)

    def close(self) -> None:
        if self._in_poll and self._command in ("EVAL", "EVALSHA"):
            try:
                self._brpop_read()  # the take in flight, with the acknowledgements it carries
            except Empty:
                pass
            except self.connection_errors:
                pass  # the acknowledgements it carried are sent again below
        if not self._send_acks_due_or_keep():
            # their messages come back after the visibility timeout; their steps are done
            log.warning("%d acknowledgement(s) not sent as the channel closed", len(self._acks_due))
            self._acks_due = []
        if "_unanswered" in self.__dict__:
            self._unanswered.close()
        super().close()

    def _basic_cancel(self, consumer_tag: str) -> Any:
        cancelled = super()._basic_cancel(consumer_tag)
        self._send_acks_due_or_keep()  # no take may follow; close() tries them again
        return cancelled

    def _do_restore_message(
        self, payload: Any, exchange: str, routing_key: str, pipe: Any, leftmost: bool = False
    ) -> None:
        super()._do_restore_message(payload, exchange, routing_key, pipe, leftmost)
        if self.global_keyprefix:
            return
        for queue in self._lookup(exchange, routing_key):
            ring_for(pipe, queue)

    # --- taking: a take, and a wait on the bells when every queue was empty --------------

    def _brpop_start(self, timeout: int | None = None) -> None:
        if self.global_keyprefix:
            super()._brpop_start(timeout)
            return
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            self._send_acks_due()
            return
        bells, keys = self._take_keys(tuple(queues))
        if self._wait_next:
            self._send_acks_due()  # a wait on the bells cannot carry them
            connection = self.client.connection
            self._in_poll = connection
            self._brpop_sent_at = time.monotonic()  # type: ignore[assignment]
            self._wait_next, self._command = False, "BLPOP"
            connection.send_command("BLPOP", *bells, self.wait_seconds)
            return
        connection = self.client.connection
        self._in_poll = connection
        self._brpop_sent_at = time.monotonic()  # type: ignore[assignment]
        # by its digest once the server has it: a take sends no script text
        self._command = "EVALSHA" if self._script_cached else "EVAL"
        self._acks_in_take, self._acks_due = self._acks_in_take + self._acks_due, []
        connection.send_command(
            self._command,
            TAKE_SHA if self._script_cached else TAKE_SCRIPT,
            len(keys),
            *keys,
            repr(time.time()),
            len(bells),
            *self._acks_in_take,
        )

    def _take_keys(self, queues: tuple[str, ...]) -> tuple[list[str], list[str]]:
        """The bells of ``queues``, and the keys of a take from them (see the script)."""
        found = self._keys_of.get(queues)
        if found is None:
            bells = [bell_key(q) for q in queues]
            lists = [self._q_for_pri(q, pri) for pri in self.priority_steps for q in queues]
            found = bells, [self.unacked_key, self.unacked_index_key, *bells, *lists]
            self._keys_of = {queues: found}  # the worker's queues: one entry is enough
        return found

    def _brpop_read(self, **options: Any) -> bool:
        if self.global_keyprefix:
            return bool(super()._brpop_read(**options))
        command = self._command
        try:
            try:
                reply = self.client.parse_response(self.client.connection, command, **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                self._script_cached = False  # a new connection may reach a new server
                raise  # the acknowledgements it carried go with the next take
            except NoScriptError:  # the server lost its scripts (a restart): send the text
                self._script_cached = False
                raise Empty() from None
            if command == "BLPOP":
                self._woken(reply)
                raise Empty()  # rung, or the wait ran out: take next
            self._script_cached = True  # a take answered: the server has the script
            self._acks_in_take = []  # and removed the entries it carried
            if not reply:
                self._wait_next = True  # every queue empty: wait on the bells next
                raise Empty()
            source, item = reply
            queue = bytes_to_str(source).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(queue)
            self._deliver_taken(loads(bytes_to_str(item)), queue)
            return True
        finally:
            self._in_poll = None  # type: ignore[assignment]
            self._command = ""
            self._flush_brpop_reauth()
            if self._acks_due and not self.qos.can_consume():
                self._send_acks_due_or_keep()  # it holds all it may: no take follows at once

    # --- acknowledging: with the next take (see the module) ---------------------------------

    def _ack_with_next_take(self, delivery_tag: str) -> bool:
        """Leave ``delivery_tag``'s acknowledgement to the next take; False (acknowledge it
        now) when no take may follow soon: the channel waits on its bells, consumes no
        more (a worker shutting down), closes, or uses a key prefix (kombu's takes)."""
        if (
            self.global_keyprefix
            or self._command == "BLPOP"
            or self._closing
            or not self.active_queues
        ):
            return False
        self._acks_due.append(delivery_tag)
        return True

    def _send_acks_due(self) -> None:
        """Remove the ``unacked`` entries of the acknowledgements no take carried (and of
        a take that may not have run), in one round trip."""
        tags, self._acks_in_take, self._acks_due = self._acks_in_take + self._acks_due, [], []
        if not tags:
            return
        try:
            with self.conn_or_acquire() as client:
                pipe = client.pipeline()
                pipe.zrem(self.unacked_index_key, *tags)
                pipe.hdel(self.unacked_key, *tags)
                pipe.execute()
        except self.connection_errors:
            self._acks_due = tags + self._acks_due  # for the next take, after reconnecting
            raise

    def _send_acks_due_or_keep(self) -> bool:
        """:meth:`_send_acks_due`, keeping them for the next take (or :meth:`close`) when
        Redis cannot be reached: the caller, an ack or a cancel, is not the one to fail.
        False when they were kept."""
        try:
            self._send_acks_due()
        except self.connection_errors:
            return False
        return True

    def _woken(self, reply: Any) -> None:
        """A wait ended with ``reply``: a bell's token, or nothing (it ran out). A channel
        that no longer consumes (its consumers were cancelled while it waited) gives the
        token back, so the message it announced wakes another worker."""
        if reply and not self.active_queues:
            bell, token = reply
            with self.conn_or_acquire() as client:
                client.lpush(bell, token)

    def _deliver_taken(self, payload: dict[str, Any], queue: str) -> None:
        """Deliver a taken message. kombu notes it delivered (its ``unacked`` entry is
        the take's: :class:`QoS`) unless its consumer takes no acks; then nothing will
        ever acknowledge it, so its ``unacked`` entry goes at once."""
        tag = payload.get("properties", {}).get("delivery_tag")
        self._taking = tag
        try:
            self.connection._deliver(payload, queue)
        finally:
            self._taking = None
        if tag and tag not in self.qos._delivered and tag not in self._acks_due:
            # not awaiting an ack: its consumer takes none
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

    #: both bases' options: the bells' wait and the sentinels' (``master_name``, ...)
    from_transport_options = tuple(  # type: ignore[assignment]
        dict.fromkeys(
            (*Channel.from_transport_options, *kombu_redis.SentinelChannel.from_transport_options)
        )
    )

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise redis.ConnectionError("the broker connection is closed")
        params: dict[str, Any] = super()._connparams(asynchronous)
        return params


class SentinelTransport(kombu_redis.SentinelTransport):
    """kombu's Redis Sentinel transport with :class:`SentinelChannel`."""

    Channel = SentinelChannel
