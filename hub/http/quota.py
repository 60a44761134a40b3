"""Cluster-wide call budgets kept in Redis: a strict sliding log per API client.

Every worker process on every host takes its slot from one budget in Redis, in one
atomic Lua script on the Redis server's clock (:mod:`hub.http.quota_scripts`):

- **Strict.** A granted call counts from its grant until it is settled, then as made
  when its answer came back, which is no earlier than when the upstream received it. A
  slot is granted only when fewer than ``limit`` calls are in flight or ended within
  the last window, so in any rolling window the upstream receives at most ``limit``
  calls from the hub, however long calls take to travel. A call never settled (its
  worker died) counts until its lease runs out, then for one more window.
- **No sleeping.** A call that finds no slot raises :class:`~hub.core.errors.QuotaWait` with
  the time until its turn and a ticket; the caller re-schedules itself and presents the
  ticket when it comes back; a caller that names itself (a task's id) and comes back
  without it (its worker died first) takes back the same place.
- **Priorities.** Waiting tickets queue in a waiting room ordered by priority, then age;
  a caller is granted its slots only when more slots are free than the slots callers
  ahead of it asked for.
- **Several calls, one grant.** A step whose operation declares several calls (an
  upsert's find and create) takes their slots together or none, so it never makes a
  call, finds no slot for the next one, and makes the first again when it comes back
  (see :mod:`hub.http.quota_claim`). Calls made again all the same are counted
  (``repeated``), and so are the slots left free while steps waited (``idle_ms``).
  A ticket whose caller does not come back within its wait plus a grace expires.
- **The upstream's word.** :meth:`RedisQuota.settle` adopts a lower remaining allowance
  than the hub counts, and a 429's ``Retry-After`` pauses the budget for every worker.
  The calls adopted are kept as one counted mark, so a 429 costs the same whatever the
  limit. A bare 429 (no ``Retry-After``, no reset) is a quota signal too: the budget is
  paused 1 s, then 2, 4 ... up to the window while bare 429s go on, one call at a time
  going out to probe, until a call succeeds.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, runtime_checkable

from redis.exceptions import NoScriptError

from hub.core import AtSend, QuotaWait, RedisBatch, flush_trailing
from hub.http.quota_claim import QuotaClaim, current_claim, priority_rank
from hub.http.quota_scripts import ACQUIRE, GIVE_BACK, SETTLE, STATUS
from hub.http.ratelimit import Observation

__all__ = [
    "BELL_KEY",
    "BUDGETS_KEY",
    "DUE_KEY",
    "Budget",
    "Lease",
    "PausedFor",
    "Quota",
    "RawStatus",
    "RedisQuota",
    "SettlesInBatch",
    "Unlimited",
]

#: hash of every budget a process has used: budget key -> its figures as JSON
BUDGETS_KEY = "hub:quota:budgets"
#: budgets with parked steps, scored by when their releaser should look again (ms)
DUE_KEY = "hub:quota:due"
#: rung (a list pushed) when a budget's parked steps may be granted slots now
BELL_KEY = "hub:quota:bell"


@dataclass(frozen=True)
class Budget:
    """``limit`` calls in any ``window_seconds`` for one API client, less a reserve."""

    key: str
    limit: int
    window_seconds: float
    #: share of ``limit`` left for other users of the same API client
    reserve_percent: float = 0.0

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"budget {self.key}: limit must be at least 1, not {self.limit}")
        if self.window_seconds <= 0:
            raise ValueError(f"budget {self.key}: window must be positive")
        if not 0 <= self.reserve_percent < 100:
            raise ValueError(f"budget {self.key}: reserve must be in [0, 100) percent")

    @property
    def effective_limit(self) -> int:
        """The calls the hub itself may make per window (the reserve rounded up)."""
        reserve = math.ceil(self.limit * self.reserve_percent / 100 - 1e-9)
        return max(1, self.limit - reserve)

    @property
    def window_ms(self) -> int:
        return max(1, round(self.window_seconds * 1000))


@dataclass(frozen=True)
class Lease:
    """One granted call, to be settled when its answer arrives."""

    key: str
    id: str


class Quota(Protocol):
    """Takes a slot before each upstream call and learns from each answer."""

    def acquire(self, claim: QuotaClaim | None = None) -> Lease | None:
        """A slot for one call now, or :class:`QuotaWait`."""
        ...

    def settle(self, lease: Lease | None, observation: Observation | None = None) -> float | None:
        """The call ended (answered or failed); adopt what the upstream said. The seconds
        the budget is now paused for (``None``: it is not)."""
        ...

    def give_back(self, lease: Lease) -> None:
        """The call never reached the upstream (no connection): its slot is free at once."""
        ...


#: what a settle sent in a batch answers once the batch has been sent: the seconds the
#: budget is now paused for (``None``: it is not)
PausedFor = Callable[[], "float | None"]


def _not_paused() -> float | None:
    return None


@runtime_checkable
class SettlesInBatch(Protocol):
    """A quota whose settle can go in one round trip with other Redis commands."""

    def settle_in(
        self,
        batch: RedisBatch,
        lease: Lease | None,
        observation: Observation | None = None,
        *,
        later: bool = False,
    ) -> PausedFor:
        """:meth:`Quota.settle`, sent with ``batch``; its answer once the batch is sent.
        With ``later``, ``batch`` may be sent well after the answer (it waits for the
        step's next round trip): the slot still counts from the answer, that is now."""
        ...


class Unlimited:
    """No budget: for upstreams without a documented limit."""

    def acquire(self, claim: QuotaClaim | None = None) -> Lease | None:
        return None

    def settle(self, lease: Lease | None, observation: Observation | None = None) -> float | None:
        return None

    def settle_in(
        self,
        batch: RedisBatch,
        lease: Lease | None,
        observation: Observation | None = None,
        *,
        later: bool = False,
    ) -> PausedFor:
        return _not_paused

    def give_back(self, lease: Lease) -> None:
        return None


@dataclass(frozen=True)
class RawStatus:
    """A budget's figures at one instant of the Redis clock (see :mod:`hub.http.quota_report`)."""

    now_ms: int
    used: int
    in_flight: int
    paused_ms: int
    next_free_ms: int
    drain_ms: int
    #: calls made again because the step that made them then found no slot (goal 0)
    repeated: int
    #: slot-milliseconds free while steps waited for a slot
    idle_ms: int
    #: slots asked for by waiting steps, by priority
    waiting: dict[str, int]


def _seconds_ms(seconds: float | None) -> int:
    return -1 if seconds is None else max(0, math.ceil(seconds * 1000))


class RedisQuota:
    """A strict sliding-log budget in Redis, shared by the whole cluster."""

    def __init__(
        self,
        redis: Any,
        budget: Budget,
        *,
        lease_seconds: float = 120.0,
        ticket_grace_seconds: float = 5.0,
        register: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._sleep = sleep
        self._clock = clock
        self.budget = budget
        self._lease_ms = max(1, round(lease_seconds * 1000))
        self._grace_ms = max(0, round(ticket_grace_seconds * 1000))
        self._acquire = _Script(redis, ACQUIRE)
        self._settle = _Script(redis, SETTLE)
        self._status = _Script(redis, STATUS)
        self._give_back = _Script(redis, GIVE_BACK)
        prefix = f"hub:quota:{budget.key}:"
        names = ("log", "room", "alive", "pause", "stats", "marks", "marked", "owners")
        self._keys = [
            prefix + name for name in (*names, "strikes", "probe", "granted", "parked", "woken")
        ]
        self._log, self._room, _, self._pause, self._stats, self._marks, self._marked = self._keys[
            :7
        ]
        self._strikes, self._probe = self._keys[8:10]
        # the arguments every acquire sends alike, encoded once
        self._acquire_head = [
            str(x).encode()
            for x in (
                len(self._keys),
                *self._keys,
                budget.effective_limit,
                budget.window_ms,
                self._lease_ms,
                self._grace_ms,
            )
        ]
        if register:  # for `hub quota` and metrics
            redis.hset(BUDGETS_KEY, budget.key, json.dumps(self.describe()))

    def describe(self) -> dict[str, Any]:
        """The budget's figures, as registered for ``hub quota``."""
        return {
            "limit": self.budget.limit,
            "window_seconds": self.budget.window_seconds,
            "reserve_percent": self.budget.reserve_percent,
            "effective_limit": self.budget.effective_limit,
        }

    def acquire(self, claim: QuotaClaim | None = None) -> Lease:
        """A slot for one call, taken in the order of ``claim``'s priority and ticket."""
        claim = claim or current_claim()
        key = self.budget.key
        reserved = claim.take_reserved(key)
        if reserved is not None:
            lease_id, due = reserved
            wait = due - self._clock()  # the clock read once: it must not pass due between
            if wait > 0:  # a woken step's later call: its slot frees in a few ms
                try:
                    self._sleep(wait)
                except BaseException:  # a time limit, a shutdown: the slot goes back
                    claim.put_back(key, lease_id, due)
                    raise
            return Lease(key, lease_id)
        cost = claim.cost(key, self.budget.effective_limit)
        lease_id = _new_id()
        flush_trailing(self._redis)  # the step's settles before it: the log up to date
        result = self._acquire(
            *self._acquire_head,
            cost,
            claim.ticket(key) or "",
            priority_rank(claim.priority),
            1 if claim.queues else 0,
            lease_id,
            claim.owner,
            claim.calls(key),
        )
        if int(result[0]) == 1:
            ids = [lease_id, *(f"{lease_id}.{n}" for n in range(2, cost + 1))]
            return Lease(key, claim.granted(key, ids, self))
        if int(result[0]) == 2:  # woken for its turn, its slots taken for it
            return self._take_granted(claim, _text(result[2]), int(result[3]), result[4:])
        wait_ms, ticket = int(result[2]), _text(result[3])
        if ticket:
            claim.waiting(key, ticket)
        raise QuotaWait(key, wait_ms / 1000.0, ticket=ticket or None)

    def _take_granted(self, claim: QuotaClaim, base: str, n: int, early_ms: list[Any]) -> Lease:
        """Take up the ``n`` slots taken for a woken step (lease ids ``base``,
        ``base.<i>``), each free ``early_ms`` from now: the first call waits for its
        slot here, each later one in :meth:`acquire` (+1 ms: the Redis clock is read in
        whole milliseconds)."""
        early = [int(ms) for ms in early_ms]
        now = self._clock()
        due = [now + (ms + 1) / 1000.0 if ms > 0 else 0.0 for ms in early]
        ids = [base, *(f"{base}.{i}" for i in range(2, n + 1))]
        if early and early[0] > 0:
            self._sleep((early[0] + 1) / 1000.0)
        return Lease(self.budget.key, claim.granted(self.budget.key, ids, self, due))

    @property
    def redis(self) -> Any:
        """The Redis client the budget lives in."""
        return self._redis

    def settle(self, lease: Lease | None, observation: Observation | None = None) -> float | None:
        """Record when the call ended, and adopt the upstream's remaining count or pause
        (a bare 429 pauses the budget too); the seconds the budget is paused for now."""
        if lease is None and observation is None:
            return None
        return _paused_seconds(self._settle(10, *self._settle_keys_args(lease, observation)))

    def settle_in(
        self,
        batch: RedisBatch,
        lease: Lease | None,
        observation: Observation | None = None,
        *,
        later: bool = False,
    ) -> PausedFor:
        """:meth:`settle`, sent with ``batch`` (the script's text: no second round trip
        when the server lost its scripts). With ``later``, the script is told how long
        before the batch was sent the answer came, now: the slot counts from then on
        Redis's clock, never earlier than the answer (the time to reach Redis is not
        taken off)."""
        if lease is None and observation is None:
            return _not_paused
        keys_args = self._settle_keys_args(lease, observation)
        if later:
            keys_args[-1] = AtSend(partial(_ms_since, self._clock(), self._clock))
        reply = batch.script(SETTLE, keys_args[:10], keys_args[10:])
        return lambda: _paused_seconds(reply.value)

    def _settle_keys_args(self, lease: Lease | None, observation: Observation | None) -> list[Any]:
        obs = observation or Observation()
        outcome = "throttled" if obs.throttled else "ok" if obs.succeeded else ""
        return [
            self._log,
            self._pause,
            self._stats,
            self._marks,
            self._marked,
            self._strikes,
            self._probe,
            self._room,
            DUE_KEY,
            BELL_KEY,
            lease.id if lease is not None else "",
            self.budget.window_ms,
            self.budget.effective_limit,
            -1 if obs.remaining is None else obs.remaining,
            _seconds_ms(obs.reset_seconds),
            max(0, _seconds_ms(obs.pause_seconds)),
            _new_id(),
            self._lease_ms,
            outcome,
            self.budget.key,
            0,  # answered how many ms ago: a settle sent as its answer came
        ]

    def release(self, lease_ids: list[str]) -> None:
        """Give back slots taken ahead and never used for a call; steps parked for a slot
        are woken for them at once."""
        if lease_ids:
            self._give_back(3, self._log, DUE_KEY, BELL_KEY, self.budget.key, *lease_ids)

    def give_back(self, lease: Lease) -> None:
        """The call never reached the upstream: its slot is free for the next caller now,
        not one window after."""
        self.release([lease.id])

    def raw_status(self) -> RawStatus:
        """Used, pause, next free slot, waiting tickets and drain time, atomically."""
        r = self._status(
            len(self._keys), *self._keys, self.budget.effective_limit, self.budget.window_ms
        )
        now, used, in_flight, paused, next_free, drain, repeated, idle, *waiting = (
            int(x) for x in r
        )
        return RawStatus(
            now_ms=now,
            used=used,
            in_flight=in_flight,
            paused_ms=paused,
            next_free_ms=next_free,
            drain_ms=drain,
            repeated=repeated,
            idle_ms=idle,
            waiting=dict(zip(("interactive", "default", "bulk"), waiting, strict=True)),
        )

    def used(self) -> int:
        """Calls in the current window, in flight included."""
        return self.raw_status().used


class _Script:
    """A Lua script run by ``EVALSHA``, loaded again if the server lost it (a restart)."""

    def __init__(self, redis: Any, source: str) -> None:
        self._redis = redis
        self._source = source
        self._sha = hashlib.sha1(source.encode()).hexdigest()

    def __call__(self, numkeys: int | bytes, *keys_and_args: Any) -> Any:
        try:
            return self._redis.execute_command("EVALSHA", self._sha, numkeys, *keys_and_args)
        except NoScriptError:
            self._redis.script_load(self._source)
            return self._redis.execute_command("EVALSHA", self._sha, numkeys, *keys_and_args)


def _ms_since(then: float, monotonic: Callable[[], float]) -> int:
    """Whole milliseconds since ``then`` (rounded down: the slot never counts early)."""
    return max(0, int((monotonic() - then) * 1000))


def _paused_seconds(paused_ms: Any) -> float | None:
    return int(paused_ms) / 1000.0 if int(paused_ms) > 0 else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _new_id() -> str:
    """A lease or ticket id unique across the cluster (64 random bits)."""
    return os.urandom(8).hex()
