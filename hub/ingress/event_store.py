"""Accepted events in Redis: the dedupe record and the runs' messages, atomically.

One Lua script either finds the event id already recorded (a duplicate: nothing is
written) or records the event and LPUSHes every run's message, all or nothing. A batched
delivery's events go into the same script call (:meth:`EventStore.accept_batch`): each
is deduped on its own, and all of them are stored, or none. With
``fsync`` the same connection then sends ``WAITAOF 1 0 <timeout>``, so the answer waits
until Redis has fsynced those writes to its AOF; a server without ``WAITAOF`` (Redis before
7.2) is durable only with its own ``appendfsync always``, which fsyncs every write before
it answers (:func:`check_fsync` tells which, at start). With ``replicas`` (at least one,
``HUB_INGRESS_MIN_REPLICAS_ACKED``) the connection then sends ``WAIT <replicas> <timeout>``
too: the answer waits until that many replicas have the writes, so an event answered 202
survives the primary's failover; fewer acknowledgements in time answer 503, and the sender
retries (the event is then found already recorded, and acknowledged again). Every Redis
failure (unreachable, timeout, out of memory, loading, read-only replica, ...) is a
:class:`StoreUnavailable`. The hub's own events (source ``hub``) are kept in the same
recent list and counters by :func:`record_internal_event`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import NoScriptError, RedisError, ResponseError

from hub.core import (
    HELD_RUNS_KEY,
    PAUSED_KEY,
    ConfigError,
    RetryableError,
    Settings,
    async_redis_client,
    new_hex,
)
from hub.history import EVENT_RUNS, RUN_KEY, RUNS_INDEX
from hub.ingress.publish import QueuedMessage

__all__ = [
    "Entry",
    "EventStore",
    "FsyncCheck",
    "Outcome",
    "StoreUnavailable",
    "check_fsync",
    "connect",
    "record_internal_event",
]

log = logging.getLogger("hub.ingress")

SEEN_KEY = "hub:ingress:seen:{}:{}"
RECENT_KEY = "hub:ingress:recent"
#: hash of counters, field ``<source>:accepted`` / ``<source>:duplicate`` (read by /metrics)
COUNTS_KEY = "hub:ingress:counts"
RECENT_KEPT = 1000
FSYNC_TIMEOUT_MS = 2000
#: how long an accept waits for its replicas' acknowledgement
REPLICA_TIMEOUT_MS = 2000
RETRY_AFTER_SECONDS = 5

# One call takes a whole batch of events (one Lua call and one AOF transaction for all):
# per event one SET NX GET (records it, or finds it recorded), then per batch one
# LPUSH per queue (values in event order, as one LPUSH each would leave them), one for
# the recent list, one HINCRBY per source and outcome, one LTRIM. A run whose workflow
# is paused (a field of the paused-workflows hash) is held instead: its queue and message
# RPUSHed onto its workflow's held list, its run record written as ``held``.
# KEYS: recent list, counters hash, paused-workflows hash, runs index, then per event:
#       its seen key, its runs-of-the-event index, and per message its queue, its
#       workflow's held list and its run record
# ARGV: event count, recent kept, touch duplicates (1/0), now, run record ttl, then per
#       event: message count, record, ttl, source, event id, and per message: workflow,
#       revision, run id, payload
# Returns per event: the previous record (a duplicate) or false (recorded and enqueued).
_ACCEPT = """
local function push(key, values)  -- unpack() takes at most a few thousand values at once
  for i = 1, #values, 1000 do
    redis.call('LPUSH', key, unpack(values, i, math.min(i + 999, #values)))
  end
end
local out, queues, order, recorded, counts, paused = {}, {}, {}, {}, {}, {}
local now, ttl = ARGV[4], tonumber(ARGV[5])
local function hold(q, m, event_id, event_runs)
  redis.call('RPUSH', KEYS[q + 1], KEYS[q] .. '\\n' .. ARGV[m + 3])
  redis.call('HSET', KEYS[q + 2], 'workflow', ARGV[m], 'revision', ARGV[m + 1],
    'event_id', event_id, 'status', 'held', 'held_at', now)
  redis.call('EXPIRE', KEYS[q + 2], ttl)
  redis.call('ZADD', KEYS[4], now, ARGV[m + 2])
  redis.call('ZADD', event_runs, now, ARGV[m + 2])
  redis.call('EXPIRE', event_runs, ttl)
end
local k, a = 5, 6
for e = 1, tonumber(ARGV[1]) do
  local runs = tonumber(ARGV[a])
  local previous = redis.call('SET', KEYS[k], ARGV[a + 1], 'NX', 'GET', 'EX', ARGV[a + 2])
  local outcome = ':accepted'
  if previous then
    if ARGV[3] == '1' then redis.call('SET', KEYS[k], previous, 'KEEPTTL') end
    outcome = ':duplicate'
    out[e] = previous
  else
    for i = 1, runs do
      local q, m = k + 2 + 3 * (i - 1), a + 5 + 4 * (i - 1)
      local wf = ARGV[m]
      if paused[wf] == nil then paused[wf] = redis.call('HEXISTS', KEYS[3], wf) == 1 end
      if paused[wf] then
        hold(q, m, ARGV[a + 4], KEYS[k + 1])
      else
        local queue = KEYS[q]
        if not queues[queue] then queues[queue] = {}; order[#order + 1] = queue end
        table.insert(queues[queue], ARGV[m + 3])
      end
    end
    recorded[#recorded + 1] = ARGV[a + 1]
    out[e] = false
  end
  local field = ARGV[a + 3] .. outcome
  counts[field] = (counts[field] or 0) + 1
  k = k + 2 + 3 * runs
  a = a + 5 + 4 * runs
end
for _, queue in ipairs(order) do push(queue, queues[queue]) end
if #recorded > 0 then
  push(KEYS[1], recorded)
  redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
end
for field, count in pairs(counts) do redis.call('HINCRBY', KEYS[2], field, count) end
return out
"""
_ACCEPT_SHA = hashlib.sha1(_ACCEPT.encode()).hexdigest()


class StoreUnavailable(RetryableError):
    """Redis cannot take or confirm the event now; the sender should retry."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=RETRY_AFTER_SECONDS)


@dataclass(slots=True)
class Entry:
    """One event of a batch to accept: its id, its record and its runs' messages."""

    event_id: str
    record: dict[str, Any]
    messages: Sequence[QueuedMessage]


@dataclass(frozen=True)
class Outcome:
    """The event's record, and whether it had been accepted before."""

    record: dict[str, Any]
    duplicate: bool


def connect(url: str, settings: Settings | None = None) -> aioredis.Redis:
    """The ingress's Redis client: short retries, so an outage answers 503 quickly
    (TLS as ``settings`` say, for a ``rediss://`` url)."""
    return async_redis_client(
        settings or Settings(),
        url,
        socket_connect_timeout=2,
        socket_timeout=FSYNC_TIMEOUT_MS / 1000 + 3,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 2),
    )


@dataclass(frozen=True)
class FsyncCheck:
    """How the ingress gets durable answers from this Redis."""

    #: confirm each group commit with ``WAITAOF``; False: the server fsyncs every write
    #: before it answers (``appendfsync always``), so nothing needs confirming
    waitaof: bool
    warning: str | None = None


def check_fsync(client: redis.Redis) -> FsyncCheck:
    """Check that Redis makes accepted events durable (for ``HUB_INGRESS_FSYNC=always``).

    With ``WAITAOF`` (Redis 7.2+, Valkey) each group commit is confirmed; a warning says
    when each confirmation waits for a once-a-second fsync. Without it, the server's own
    ``appendonly yes`` + ``appendfsync always`` makes every answer durable. Raises
    :class:`ConfigError` naming the server and the ways out when neither holds.
    """
    try:
        pipe = client.pipeline(transaction=False)
        pipe.set("hub:ingress:fsync-check", "1", ex=60)
        pipe.execute_command("WAITAOF", 1, 0, FSYNC_TIMEOUT_MS)  # type: ignore[no-untyped-call]
        _, (local, _replicas) = pipe.execute()
    except ResponseError as exc:
        if "unknown command" not in str(exc).lower():
            raise ConfigError(
                f"HUB_INGRESS_FSYNC=always needs Redis with appendonly yes to confirm fsyncs "
                f"({exc}); enable AOF, or set HUB_INGRESS_FSYNC=everysec"
            ) from exc
        return _server_fsyncs_every_write(client)
    except RedisError as exc:
        raise ConfigError(f"cannot check Redis's fsync: {exc}") from exc
    if int(local) < 1:
        raise ConfigError("Redis did not confirm an fsync within 2 s: check its disk")
    policy = _config(client, "appendfsync")
    if policy not in (None, "always"):
        return FsyncCheck(
            waitaof=True,
            warning=f"Redis appendfsync is {policy}: every 202 waits for Redis's next "
            "background fsync (up to 1/hz s); set appendfsync always for fast durable answers",
        )
    return FsyncCheck(waitaof=True)


def _server_fsyncs_every_write(client: redis.Redis) -> FsyncCheck:
    """For a server without ``WAITAOF``: durable only with AOF fsyncing every write."""
    server = _server_name(client)
    appendonly, policy = _config(client, "appendonly"), _config(client, "appendfsync")
    if appendonly == "yes" and policy == "always":
        return FsyncCheck(waitaof=False)
    found = (
        "CONFIG GET is refused, so the hub cannot tell whether it fsyncs every write"
        if appendonly is None or policy is None
        else f"its AOF is appendonly {appendonly}, appendfsync {policy}"
    )
    raise ConfigError(
        f"HUB_INGRESS_FSYNC=always: {server} has no WAITAOF (Redis 7.2+ and Valkey have it) "
        f"and {found}. Either use Redis 7.2+ or Valkey, or run this server with "
        "`appendonly yes` and `appendfsync always` (and allow CONFIG GET); or set "
        "HUB_INGRESS_FSYNC=everysec to accept losing the last second on a crash"
    )


def _config(client: redis.Redis, name: str) -> str | None:
    """A server setting, or None where ``CONFIG`` is refused (many managed Redis)."""
    try:
        value = client.config_get(name).get(name)
    except RedisError:
        return None
    return None if value is None else _text(value)


def _server_name(client: redis.Redis) -> str:
    try:
        info = client.info("server")
    except RedisError:
        return "this Redis server"
    product = "Valkey" if "valkey_version" in info else "Redis"
    return f"{product} {info.get('valkey_version') or info.get('redis_version', '?')}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class EventStore:
    """Records accepted events and enqueues their runs, in group commits.

    Up to ``writers`` pipelines are in flight; calls to :meth:`accept` that arrive while
    they all are wait and go together in the next one (one script call for all of them,
    then one ``WAITAOF``): one round trip, one Lua call and, with ``fsync``, one fsync for
    many events, and no added delay when idle. ``fsync`` is False where nothing needs
    confirming: ``HUB_INGRESS_FSYNC=everysec``, or a server that fsyncs every write itself
    (see :func:`check_fsync`). ``replicas`` above 0: each group commit also waits for that
    many replicas to acknowledge it (``WAIT``), else its events answer 503.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        fsync: bool,
        recent: int = RECENT_KEPT,
        max_batch: int = 256,
        writers: int = 4,
        replicas: int = 0,
        run_retention_seconds: int = 7 * 86_400,
    ) -> None:
        self._redis = redis
        self._run_ttl = run_retention_seconds
        self._fsync = fsync
        self._replicas = replicas
        self._recent = recent
        self._max_batch = max_batch
        self._max_writers = writers
        self._pending: list[_Item] = []
        self._writing = 0  # writers running; each drops out only once nothing is pending
        self._tasks: set[asyncio.Task[None]] = set()

    async def accept(
        self,
        source: str,
        event_id: str,
        record: dict[str, Any],
        messages: Sequence[QueuedMessage],
        dedupe_seconds: int,
    ) -> Outcome:
        """Record the event and enqueue ``messages``, unless ``event_id`` was seen."""
        receipt = new_hex()
        keys, args = _event(source, event_id, record, messages, receipt, dedupe_seconds)
        (found,) = await self._submit(_Item(keys, args, 1, self._future()))
        return _found(record, found, receipt)

    async def accept_batch(
        self, source: str, entries: Sequence[Entry], dedupe_seconds: int
    ) -> list[Outcome]:
        """Accept the events of one delivery together: each is deduped on its own, and
        all are stored in one script call, or none (:class:`StoreUnavailable`)."""
        if not entries:
            return []
        receipt = new_hex()
        keys: list[str] = []
        args: list[Any] = []
        for number, entry in enumerate(entries):
            more_keys, more_args = _event(
                source,
                entry.event_id,
                entry.record,
                entry.messages,
                f"{receipt}.{number}",
                dedupe_seconds,
            )
            keys += more_keys
            args += more_args
        found = await self._submit(_Item(keys, args, len(entries), self._future()))
        return [
            _found(entry.record, previous, f"{receipt}.{number}")
            for number, (entry, previous) in enumerate(zip(entries, found, strict=True))
        ]

    def _future(self) -> asyncio.Future[list[Any]]:
        return asyncio.get_running_loop().create_future()

    def _submit(self, item: _Item) -> asyncio.Future[list[Any]]:
        """Queue ``item`` for the next group commit; the future of its events' script
        results (a plain method: the ingress's hot path awaits no extra coroutine)."""
        self._pending.append(item)
        if self._writing < self._max_writers:
            self._writing += 1
            task = asyncio.create_task(self._write())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return item.result

    async def _write(self) -> None:
        batch: list[_Item] = []
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    results = await self._commit(batch)
                except StoreUnavailable as exc:
                    results = [exc] * len(batch)
                except (RedisError, OSError) as exc:
                    log.warning("Redis did not take %d event(s): %r", len(batch), exc)
                    results = [
                        StoreUnavailable(f"Redis did not take the event: {type(exc).__name__}")
                    ] * len(batch)
                for item, result in zip(batch, results, strict=True):
                    if item.result.done():
                        continue
                    if isinstance(result, BaseException):
                        item.result.set_exception(result)
                    else:
                        item.result.set_result(result)
                batch = []
        except BaseException as exc:  # never leave a caller waiting
            for item in [*batch, *self._pending]:
                if not item.result.done():
                    item.result.set_exception(StoreUnavailable(f"event writer failed: {exc!r}"))
            self._pending.clear()
            raise
        finally:
            self._writing -= 1

    async def _commit(self, batch: list[_Item]) -> list[Any]:
        """Run the script once for the whole batch (loading it if Redis lost it), then
        fsync; one result per item: its events' previous records or None, or the error
        to raise."""
        keys: list[str] = [RECENT_KEY, COUNTS_KEY, PAUSED_KEY.format("workflow"), RUNS_INDEX]
        events = sum(item.events for item in batch)
        # a duplicate is written again, so the WAITAOF/WAIT that follows covers its record
        touch = self._fsync or self._replicas > 0
        args: list[Any] = [
            events,
            self._recent,
            1 if touch else 0,
            repr(time.time()),
            self._run_ttl,
        ]
        for item in batch:
            keys += item.keys
            args += item.args
        for attempt in (1, 2):
            pipe = self._redis.pipeline(transaction=False)
            pipe.evalsha(_ACCEPT_SHA, len(keys), *keys, *args)
            if self._fsync:
                pipe.execute_command("WAITAOF", 1, 0, FSYNC_TIMEOUT_MS)
            if self._replicas:
                pipe.execute_command("WAIT", self._replicas, REPLICA_TIMEOUT_MS)
            replies = await pipe.execute(raise_on_error=False)
            if isinstance(replies[0], NoScriptError) and attempt == 1:
                await self._redis.script_load(_ACCEPT)
                continue
            if self._fsync:
                _check_fsync(replies[1])
            if self._replicas:
                _check_replicas(replies[-1], self._replicas)
            outcome = _outcome(replies[0])
            if isinstance(outcome, BaseException):
                return [outcome] * len(batch)
            results: list[Any] = []
            at = 0
            for item in batch:
                results.append(list(outcome[at : at + item.events]))
                at += item.events
            return results
        raise AssertionError("unreachable")  # pragma: no cover

    async def find(self, source: str, event_id: str) -> dict[str, Any] | None:
        """The record of an accepted event still in its dedupe window."""
        try:
            raw = await self._redis.get(SEEN_KEY.format(source, event_id))
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis did not answer: {type(exc).__name__}") from exc
        return None if raw is None else _public(raw)

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` accepted events, newest first."""
        try:
            raw = await self._redis.lrange(RECENT_KEY, 0, max(limit, 1) - 1)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis did not answer: {type(exc).__name__}") from exc
        return [_public(item) for item in raw]

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis did not answer: {type(exc).__name__}") from exc


def _event(
    source: str,
    event_id: str,
    record: dict[str, Any],
    messages: Sequence[QueuedMessage],
    receipt: str,
    dedupe_seconds: int,
) -> tuple[list[str], list[Any]]:
    """One event's keys and arguments for the accept script; ``record["runs"]`` names
    each message's workflow, revision and run id, in the messages' order."""
    runs = record.get("runs", [])
    if len(runs) != len(messages):
        raise ValueError(f"event {event_id}: {len(messages)} messages for {len(runs)} runs")
    keys = [SEEN_KEY.format(source, event_id), EVENT_RUNS.format(event_id)]
    stored = json.dumps({**record, "_receipt": receipt})
    args: list[Any] = [len(messages), stored, dedupe_seconds, source, event_id]
    for run, message in zip(runs, messages, strict=True):
        workflow, run_id = run["workflow"], run["run_id"]
        keys += [message.key, HELD_RUNS_KEY.format(workflow), RUN_KEY.format(run_id)]
        args += [workflow, run["revision"], run_id, message.payload]
    return keys, args


def record_internal_event(client: redis.Redis, record: dict[str, Any]) -> None:
    """Keep an event the hub emitted itself (source ``hub``: its runs were sent by the
    emitter, not enqueued here) where accepted events are kept: the recent list the
    ``/events`` view reads, and the ``<source>:accepted`` counter of ``hub_events_total``.
    Such events have fresh ids and are not deduped."""
    pipe = client.pipeline(transaction=True)
    pipe.lpush(RECENT_KEY, json.dumps({**record, "_receipt": new_hex()}))
    pipe.ltrim(RECENT_KEY, 0, RECENT_KEPT - 1)
    pipe.hincrby(COUNTS_KEY, f"{record['source']}:accepted", 1)
    pipe.execute()


@dataclass
class _Item:
    """One delivery's ``events`` (their keys and arguments) in a group commit."""

    keys: list[str]
    args: list[Any]
    events: int
    result: asyncio.Future[list[Any]]


def _found(record: dict[str, Any], found: Any, receipt: str) -> Outcome:
    """The outcome of one event: new, or the record of the earlier one it duplicates."""
    if found is None:
        return Outcome(record, duplicate=False)
    previous = json.loads(_text(found))
    # our own write, seen again after a retried call whose reply was lost
    mine = previous.pop("_receipt", None) == receipt
    return Outcome(previous, duplicate=not mine)


def _outcome(reply: Any) -> Any:
    """A script reply, or the error to hand its caller."""
    if isinstance(reply, NoScriptError):
        return StoreUnavailable("Redis lost the ingress's script")
    if isinstance(reply, BaseException):
        log.warning("Redis refused an event: %s", reply)
        return StoreUnavailable(f"Redis refused the event: {type(reply).__name__}")
    return reply


def _check_fsync(reply: Any) -> None:
    if isinstance(reply, BaseException):
        log.warning(
            "WAITAOF failed (%s): enable AOF on Redis, or set HUB_INGRESS_FSYNC=everysec", reply
        )
        raise StoreUnavailable("Redis cannot confirm an fsync of the event")
    if int(reply[0]) < 1:
        raise StoreUnavailable("Redis did not confirm the fsync of the event in time")


def _check_replicas(reply: Any, wanted: int) -> None:
    if isinstance(reply, BaseException):
        log.warning("WAIT failed (%s): check HUB_INGRESS_MIN_REPLICAS_ACKED", reply)
        raise StoreUnavailable("Redis cannot confirm the event on a replica")
    if int(reply) < wanted:
        raise StoreUnavailable("Redis replicas did not acknowledge the event in time")


def _public(raw: bytes | str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(_text(raw))
    record.pop("_receipt", None)
    return record
