"""Cluster-wide concurrency keys: at most ``limit`` holders per key, the rest parked FIFO.

Each key (its text hashed, so values never show in key names) has, in Redis:

- ``hub:conc:{id}:holders``: a sorted set of holders scored by their lease's end (Redis
  server time, ms). A holder that is not renewed before then (its worker was killed)
  loses its place at the next operation on the key;
- ``hub:conc:{id}:queue``: the waiters, scored by their arrival at the key (FIFO);
- ``hub:conc:{id}:parked``: what each waiter asked to be sent when its turn comes (an
  opaque payload, e.g. a task message);
- ``hub:conc:{id}:limit`` (the last limit given) and ``:seq`` (arrival counter);
- ``hub:conc:due``: the keys that have waiters, scored by when their first lease runs
  out, so a sweeper finds the keys due a sweep (:meth:`KeySlots.due`).

A waiter holds nothing while it waits: :meth:`KeySlots.enter` either grants a place or
parks the payload in the queue; whoever frees a place (:meth:`KeySlots.leave`, or
:meth:`KeySlots.sweep` once a lease has run out) gets the payloads of the waiters that
were granted places, in arrival order, and sends them; each worker sweeps the keys that
are due now and then. A granted waiter is a holder from
that moment, so no newcomer overtakes it; its payload is kept until it comes (enters),
and a woken waiter that never comes before its lease runs out (its message was lost) is
first in line again and woken again. Each operation is one Lua script, so the
check and the change are atomic across the cluster.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

__all__ = ["DUE_KEY", "KeySlots", "SlotEntry", "key_id"]

# KEYS: holders, queue, parked, limit, seq, due. ARGV: ..., the key's id last.
_COMMON = """
local holders, queue, parked = KEYS[1], KEYS[2], KEYS[3]
local limitk, seqk, duek = KEYS[4], KEYS[5], KEYS[6]
local ident = ARGV[#ARGV]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function grant(limit, lease)
  local woken = {}
  while redis.call('ZCARD', holders) < limit do
    local head = redis.call('ZRANGE', queue, 0, 0)[1]
    if not head then break end
    redis.call('ZREM', queue, head)
    redis.call('ZADD', holders, now + lease, head)
    woken[#woken + 1] = head
    woken[#woken + 1] = redis.call('HGET', parked, head) or ''
  end
  return woken
end
local function expire()
  for _, gone in ipairs(redis.call('ZRANGEBYSCORE', holders, '-inf', now)) do
    redis.call('ZREM', holders, gone)
    if redis.call('HEXISTS', parked, gone) == 1 then
      redis.call('ZADD', queue, 0, gone)  -- woken but never came: first in line again
    end
  end
end
local function finish(granted, woken, ttl, skip)
  for _, k in ipairs({holders, queue, parked, seqk}) do redis.call('EXPIRE', k, ttl) end
  local out = {granted}
  if redis.call('ZCARD', queue) > 0 then
    local first = redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')
    redis.call('ZADD', duek, tonumber(first[2] or now), ident)
  else
    redis.call('ZREM', duek, ident)
  end
  for i = 1, #woken, 2 do
    if woken[i] ~= skip then out[#out + 1] = woken[i + 1] end
  end
  return out
end
"""

# ARGV: holder, limit, lease ms, payload, ttl s, key id.
_ENTER = (
    _COMMON
    + """
local holder, limit, lease, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5])
redis.call('SET', limitk, limit, 'EX', ttl)
expire()
if redis.call('ZSCORE', holders, holder) then
  redis.call('ZADD', holders, now + lease, holder)
  redis.call('ZREM', queue, holder)
  redis.call('HDEL', parked, holder)
  return finish(1, grant(limit, lease), ttl, holder)
end
if not redis.call('ZSCORE', queue, holder) then
  redis.call('ZADD', queue, redis.call('INCR', seqk), holder)
end
redis.call('HSET', parked, holder, ARGV[4])
local woken = grant(limit, lease)
local granted = 0
if redis.call('ZSCORE', holders, holder) then
  granted = 1
  redis.call('HDEL', parked, holder)
end
return finish(granted, woken, ttl, holder)
"""
)

# ARGV: holder ("" for none), lease ms, ttl s, key id.
_LEAVE = (
    _COMMON
    + """
local holder, lease, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if holder ~= '' then
  redis.call('ZREM', holders, holder)
  redis.call('ZREM', queue, holder)
  redis.call('HDEL', parked, holder)
end
expire()
local limit = tonumber(redis.call('GET', limitk) or '1')
return finish(0, grant(limit, lease), ttl, '')
"""
)

_PARTS = ("holders", "queue", "parked", "limit", "seq")
#: the keys with waiters, scored by when their first lease runs out (ms)
DUE_KEY = "hub:conc:due"


def key_id(text: str) -> str:
    """The id of the key whose text is ``text`` (hashed: key values are event data)."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SlotEntry:
    """What an operation on a key decided.

    ``granted``: the caller holds a place (always False for leave and sweep);
    ``woken``: payloads of waiters that now hold a place, in arrival order, for the
    caller to send.
    """

    granted: bool
    woken: tuple[str, ...] = ()

    @classmethod
    def from_reply(cls, reply: list[Any]) -> SlotEntry:
        granted, *woken = reply
        return cls(bool(int(granted)), tuple(_text(p) for p in woken))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class KeySlots:
    """The concurrency keys in ``redis``; see the module docstring.

    ``lease_seconds``: how long a place is kept without a renewal (:meth:`enter` again);
    ``ttl_seconds``: how long an idle key's queue and parked payloads are kept.
    """

    def __init__(self, redis: Any, *, lease_seconds: float, ttl_seconds: int) -> None:
        self._redis = redis
        self._lease_ms = max(1, int(lease_seconds * 1000))
        self._ttl = max(1, int(ttl_seconds))
        self._enter = redis.register_script(_ENTER)
        self._leave = redis.register_script(_LEAVE)

    @staticmethod
    def keys(ident: str) -> list[str]:
        """The Redis keys of the key with id ``ident``, then :data:`DUE_KEY`."""
        return [*(f"hub:conc:{{{ident}}}:{part}" for part in _PARTS), DUE_KEY]

    def enter(self, ident: str, holder: str, limit: int, payload: str) -> SlotEntry:
        """Take (or renew) a place for ``holder`` on key ``ident``, or park ``payload``
        in the key's queue until a place is granted."""
        args = [holder, limit, self._lease_ms, payload, self._ttl, ident]
        return SlotEntry.from_reply(self._enter(keys=self.keys(ident), args=args))

    def leave(self, ident: str, holder: str) -> SlotEntry:
        """``holder`` gives up its place (or its place in the queue)."""
        args = [holder, self._lease_ms, self._ttl, ident]
        return SlotEntry.from_reply(self._leave(keys=self.keys(ident), args=args))

    def sweep(self, ident: str) -> SlotEntry:
        """Free the places whose lease ran out."""
        args = ["", self._lease_ms, self._ttl, ident]
        return SlotEntry.from_reply(self._leave(keys=self.keys(ident), args=args))

    def due(self, count: int = 100) -> list[str]:
        """Ids of keys with waiters whose first lease has run out (by Redis's clock)."""
        return self.due_and_next(count)[0]

    def due_and_next(self, count: int = 100) -> tuple[list[str], float | None]:
        """The keys :meth:`due` names, and the seconds until the next key is due (None
        while no other key has waiters), in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.time()
        pipe.zrange(DUE_KEY, 0, count, withscores=True)
        (seconds, micros), firsts = pipe.execute()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        due = [_text(ident) for ident, score in firsts if score <= now_ms][:count]
        later = [score for _, score in firsts if score > now_ms]
        return due, (min(later) - now_ms) / 1000 if later else None

    @staticmethod
    def waiting_per_key(redis: Any) -> dict[str, int]:
        """How many wait on each key that has waiters, by key id."""
        idents = [_text(ident) for ident in redis.zrange(DUE_KEY, 0, -1)]
        pipe = redis.pipeline(transaction=False)
        for ident in idents:
            pipe.zcard(KeySlots.keys(ident)[1])
        return {ident: int(n) for ident, n in zip(idents, pipe.execute(), strict=True) if n}

    def holders(self, ident: str) -> list[str]:
        """The holders of key ``ident`` (expired leases included until swept)."""
        return [_text(h) for h in self._redis.zrange(self.keys(ident)[0], 0, -1)]

    def waiting(self, ident: str) -> list[str]:
        """The waiters of key ``ident``, first in line first."""
        return [_text(h) for h in self._redis.zrange(self.keys(ident)[1], 0, -1)]
