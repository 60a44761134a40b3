"""Circuit breakers per API client, cluster-wide in Redis.

Every call an :class:`~hub.http.client.ApiClient` makes is first admitted by its
client's breaker (keyed like its quota budget, so every worker on every host shares one)
and its outcome recorded once its answer comes (:mod:`hub.http.breaker_scripts`):

- **Closed**: calls go through. The breaker keeps a sliding log of calls and failures
  (5xx answers, transport errors, timeouts; a 429 is a quota signal and other 4xx
  answers are the caller's problem, so neither counts). It **opens** when at least
  ``min_calls`` calls in ``window_seconds`` included a share of failures of at least
  ``failure_rate``.
- **Open**: no call goes out. A call raises :class:`~hub.core.errors.BreakerOpen` with
  the time until the next probe: the step task re-schedules itself as for quota, holding
  no worker slot and spending no attempt, so an outage dead-letters nothing.
- **Half-open**: after ``open_seconds``, one call is let through as the probe (a lease,
  so a probe whose worker died frees its place after ``probe_lease_seconds``). Its
  success closes the breaker; its failure opens it again for twice as long as last time,
  up to ``max_open_seconds``. A failure that opened the breaker (a probe's included) or
  found it open (a call sent just before) is answered
  :class:`~hub.core.errors.BreakerOpen` too, not a failed attempt, so a step that probes
  again and again through a long outage never uses up its attempts.

A process that saw the breaker closed (its admission said so, or a call of its own
succeeded while it was) lets its calls through without asking Redis for
``trust_closed_seconds`` (a quarter of a second): one Redis round trip a call fewer on
the healthy path. A breaker that another process opened stops this one's calls at the
latest that long after its last success; a failure of its own ends the trust at once.

Each transition is a log line, a count in ``hub:breaker:transitions`` (the metrics read
it) and a :class:`~hub.core.control_events.BreakerChanged` told to the control-event
hook. :func:`breaker_status` gives what ``hub quota`` and the metrics show.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hub.core import (
    BreakerChanged,
    BreakerOpen,
    BreakerState,
    ControlEvents,
    RedisBatch,
    Settings,
    emit_control_event,
    new_hex,
)
from hub.http.breaker_scripts import ADMIT, CANCEL, RECORD, STATUS
from hub.http.quota_claim import current_claim

__all__ = [
    "BREAKERS_KEY",
    "NO_BREAKER",
    "TRANSITIONS_KEY",
    "Admission",
    "Breaker",
    "BreakerPolicy",
    "BreakerStatus",
    "NoBreaker",
    "OpenedFor",
    "RecordsInBatch",
    "RedisBreaker",
    "breaker_status",
]

log = logging.getLogger("hub.http.breaker")

#: set of every API client key a breaker was used for
BREAKERS_KEY = "hub:breaker:clients"
#: hash of transition counts, field ``<client>:<state>``
TRANSITIONS_KEY = "hub:breaker:transitions"
_STATE_KEY = "hub:breaker:{}"
#: while a probe is out, a waiting call looks again at least this often
_PROBE_RECHECK_MS = 2000


@dataclass(frozen=True)
class BreakerPolicy:
    """When a breaker opens and how long it stays open (see the module docstring)."""

    min_calls: int = 20
    failure_rate: float = 0.5
    window_seconds: float = 60.0
    open_seconds: float = 30.0
    max_open_seconds: float = 300.0
    probe_lease_seconds: float = 60.0
    #: how long a process lets calls through without asking Redis after it saw the
    #: breaker closed (an admission, or a call that succeeded while it was closed)
    trust_closed_seconds: float = 0.25

    @property
    def enabled(self) -> bool:
        return self.min_calls > 0

    @classmethod
    def from_settings(cls, settings: Settings, *, call_timeout: float = 30.0) -> BreakerPolicy:
        """The hub's ``HUB_BREAKER_*`` settings; a probe's lease outlives a call's
        ``call_timeout``."""
        return cls(
            min_calls=settings.hub_breaker_min_calls,
            failure_rate=settings.hub_breaker_failure_rate,
            window_seconds=settings.hub_breaker_window_seconds,
            open_seconds=settings.hub_breaker_open_seconds,
            max_open_seconds=max(
                settings.hub_breaker_max_open_seconds, settings.hub_breaker_open_seconds
            ),
            probe_lease_seconds=2 * call_timeout + 5.0,
        )


#: the policy of a client without a circuit breaker
NO_BREAKER = BreakerPolicy(min_calls=0)


@dataclass(frozen=True)
class Admission:
    """A call let through; ``probe`` is its probe id when it is the half-open probe."""

    probe: str = ""


class Breaker(Protocol):
    """Admits calls and learns their outcomes."""

    def admit(self) -> Admission:
        """Let one call through, or raise :class:`BreakerOpen`."""

    def cancel(self, admission: Admission) -> None:
        """The admitted call never went out (or has no verdict, a 429)."""

    def record(self, admission: Admission, *, failed: bool) -> float | None:
        """The admitted call's outcome; for a failure that opened the breaker or found
        it open, the seconds until the next probe (None otherwise)."""


#: what a verdict sent in a batch answers once the batch has been sent: as
#: :meth:`Breaker.record`
OpenedFor = Callable[[], "float | None"]


def _not_opened() -> float | None:
    return None


@runtime_checkable
class RecordsInBatch(Protocol):
    """A breaker whose verdicts can go in one round trip with other Redis commands."""

    def record_in(self, batch: RedisBatch, admission: Admission, *, failed: bool) -> OpenedFor:
        """:meth:`Breaker.record`, sent with ``batch``; its answer once the batch is sent."""
        ...


class NoBreaker:
    """Lets every call through (clients without Redis, ``HUB_BREAKER_MIN_CALLS=0``)."""

    def admit(self) -> Admission:
        return Admission()

    def cancel(self, admission: Admission) -> None:
        pass

    def record(self, admission: Admission, *, failed: bool) -> float | None:
        return None

    def record_in(self, batch: RedisBatch, admission: Admission, *, failed: bool) -> OpenedFor:
        return _not_opened


class RedisBreaker:
    """The breaker of API client ``key`` in ``redis``; ``events`` is told of each
    transition (default: the process-wide hook); ``clock`` dates the events."""

    def __init__(
        self,
        redis: Any,
        key: str,
        policy: BreakerPolicy,
        *,
        events: ControlEvents | None = None,
        clock: Any = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key = key
        self.policy = policy
        self._redis = redis
        self._events = events
        self._clock = clock
        self._monotonic = monotonic
        self._closed_until = 0.0  # on the monotonic clock: seen closed, trusted until then
        self._state = _STATE_KEY.format(key)
        self._admit = redis.register_script(ADMIT)
        self._record = redis.register_script(RECORD)
        self._cancel = redis.register_script(CANCEL)
        self._registered = False

    def admit(self) -> Admission:
        if self._monotonic() < self._closed_until:
            return Admission()
        if not self._registered:
            self._redis.sadd(BREAKERS_KEY, self.key)
            self._registered = True
        probe = new_hex()
        waiting = current_claim().owner or probe
        lease_ms = int(self.policy.probe_lease_seconds * 1000)
        verdict, wait_ms, previous = self._admit(
            keys=[self._state, f"{self._state}:held"],
            args=[probe, lease_ms, waiting, _PROBE_RECHECK_MS],
        )
        if int(verdict) == 1:
            raise BreakerOpen(self.key, int(wait_ms) / 1000)
        if int(verdict) == 0:
            self._trust_closed(True)
            return Admission()
        if _text(previous) == "open":
            self._told("half_open", "open")
        return Admission(probe)

    def cancel(self, admission: Admission) -> None:
        if admission.probe:
            self._cancel(keys=[self._state], args=[admission.probe])

    def record(self, admission: Admission, *, failed: bool) -> float | None:
        keys, args = self._record_keys_args(admission, failed)
        return self._verdict(self._record(keys=keys, args=args), admission, failed)

    def record_in(self, batch: RedisBatch, admission: Admission, *, failed: bool) -> OpenedFor:
        """:meth:`record`, sent with ``batch`` (the script's text)."""
        keys, args = self._record_keys_args(admission, failed)
        reply = batch.script(RECORD, keys, args)
        return lambda: self._verdict(reply.value, admission, failed)

    def _record_keys_args(self, admission: Admission, failed: bool) -> tuple[list[Any], list[Any]]:
        policy = self.policy
        keys = [self._state, f"{self._state}:calls", f"{self._state}:failures", TRANSITIONS_KEY]
        args = [
            1 if failed else 0,
            admission.probe,
            policy.min_calls,
            policy.failure_rate,
            int(policy.window_seconds * 1000),
            int(policy.open_seconds * 1000),
            int(policy.max_open_seconds * 1000),
            new_hex(),
            f"{self.key}:",
        ]
        return keys, args

    def _trust_closed(self, closed: bool) -> None:
        trust = self.policy.trust_closed_seconds if closed else 0.0
        self._closed_until = self._monotonic() + trust if trust > 0 else 0.0

    def _verdict(self, reply: Any, admission: Admission, failed: bool) -> float | None:
        state, previous, calls, fails, open_ms = reply
        self._trust_closed(not failed and _text(state or previous) == "closed")
        if not state:
            # a failure of a call sent before another call opened it: the outage's too
            opened_already = failed and not admission.probe and _text(previous) != "closed"
            return max(int(open_ms) / 1000, 0.05) if opened_already else None
        changed = BreakerChanged(
            self.key,
            _text(state),  # type: ignore[arg-type]
            _text(previous),  # type: ignore[arg-type]
            self._clock(),
            calls=int(calls),
            failures=int(fails),
            open_seconds=int(open_ms) / 1000,
        )
        self._tell(changed)
        return changed.open_seconds if changed.state == "open" else None

    def _told(self, state: BreakerState, previous: BreakerState) -> None:
        self._redis.hincrby(TRANSITIONS_KEY, f"{self.key}:{state}", 1)
        self._tell(BreakerChanged(self.key, state, previous, self._clock()))

    def _tell(self, changed: BreakerChanged) -> None:
        if changed.state == "open" and changed.previous == "closed":
            log.warning(
                "circuit breaker %s opened: %d of %d calls failed in %.0fs; probe in %.1fs",
                self.key,
                changed.failures,
                changed.calls,
                self.policy.window_seconds,
                changed.open_seconds,
            )
        elif changed.state == "open":
            log.warning(
                "circuit breaker %s: the probe failed; open again, next probe in %.1fs",
                self.key,
                changed.open_seconds,
            )
        else:
            log.info("circuit breaker %s: %s -> %s", self.key, changed.previous, changed.state)
        emit_control_event(changed, self._events)


@dataclass(frozen=True)
class BreakerStatus:
    """One client's breaker at one instant."""

    key: str
    state: BreakerState
    #: open: seconds until the next probe may go out
    probe_in_seconds: float
    #: opens in a row (the backoff's exponent)
    opens: int
    #: calls and failures in the current window (closed)
    calls: int
    failures: int
    #: steps waiting for it now
    held_steps: int
    #: transitions so far, by the state entered
    transitions: dict[str, int]


def breaker_status(redis: Any, window_seconds: float) -> list[BreakerStatus]:
    """Every client's breaker that was ever used, sorted by key."""
    keys = sorted(_text(k) for k in redis.smembers(BREAKERS_KEY))
    counts = {_text(k): int(v) for k, v in redis.hgetall(TRANSITIONS_KEY).items()}
    status = redis.register_script(STATUS)
    out = []
    for key in keys:
        base = _STATE_KEY.format(key)
        state, until_ms, opens, calls, fails, held = status(
            keys=[base, f"{base}:calls", f"{base}:failures", f"{base}:held"],
            args=[int(window_seconds * 1000)],
        )
        transitions = {s: counts.get(f"{key}:{s}", 0) for s in ("open", "half_open", "closed")}
        out.append(
            BreakerStatus(
                key,
                _text(state),  # type: ignore[arg-type]
                int(until_ms) / 1000,
                int(opens),
                int(calls),
                int(fails),
                int(held),
                transitions,
            )
        )
    return out


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
