"""Step executions that survive redelivery: one owner, one delivery at a time, one effect.

Every step execution has a key: run id + step id + foreach index (:func:`execution_key`,
``person`` or ``people[3]`` within the run). At-least-once delivery gives a step task
three ways to run again, and the :class:`StepLedger` answers each from Redis:

- *The task is redelivered after it did its work* (its worker died before the ack): the
  step's output was recorded when it finished, so the delivery gets it back
  (``done``) and hands it on without calling the upstream again.
- *The chain is continued twice* (a task finished, handed on to the next step, then died
  before its ack and ran again): the next step gets two tasks with different ids. The
  first task id to reach an execution owns it; another id is a ``duplicate`` and stops.
- *The same task runs twice at once* (the broker redelivered it after its visibility
  timeout while the first delivery still ran, or restored it after a Redis restart): each
  delivery must hold a short lease on the execution, renewed while it runs; a second
  delivery finds it held and is re-scheduled (:class:`StepBusy`, not an attempt) until
  the first has finished (then it gets ``done``) or died (its lease lapses).

What the ledger cannot close is a worker killed after the upstream applied the call and
before the output was recorded: that step runs again. Creates are therefore upserts
(find by a key, create if none, under a cluster lock), or carry an upstream idempotency
field where the API has one (an ``external_id`` on the record, an ``Idempotency-Key``
header).
``foreach`` items are recorded by :class:`~hub.worker.foreach.ForeachState`; the ledger
gives them their owner and lease.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from hub.core import Deferred, RedisBatch

__all__ = [
    "LEDGER_KEY",
    "Execution",
    "StepBusy",
    "StepLedger",
    "execution_key",
]

log = logging.getLogger("hub.worker")

LEDGER_KEY = "hub:run:{}:steps"
_LEASE_KEY = "hub:run:{}:lease:{}"

# KEYS: ledger hash, lease. ARGV: execution key, task id, delivery token, lease ms, ttl.
_BEGIN = """
local ledger, lease, key = KEYS[1], KEYS[2], ARGV[1]
local owner = redis.call('HGET', ledger, 'owner:' .. key)
if not owner then
  redis.call('HSET', ledger, 'owner:' .. key, ARGV[2])
  redis.call('EXPIRE', ledger, tonumber(ARGV[5]))
  owner = ARGV[2]
end
if owner ~= ARGV[2] then return {'duplicate', owner} end
local done = redis.call('HGET', ledger, 'done:' .. key)
if done then return {'done', done} end
if redis.call('SET', lease, ARGV[3], 'NX', 'PX', ARGV[4]) then return {'run', ''} end
if redis.call('GET', lease) == ARGV[3] then
  redis.call('PEXPIRE', lease, ARGV[4])
  return {'run', ''}
end
return {'busy', tostring(redis.call('PTTL', lease))}
"""

# KEYS: ledger hash, lease. ARGV: execution key, output json, delivery token, ttl.
_DONE = """
redis.call('HSETNX', KEYS[1], 'done:' .. ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""

# KEYS: lease. ARGV: delivery token, lease ms ("" to release).
_LEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""


def execution_key(step_id: str, index: int | None = None) -> str:
    """The key of one step execution within its run: ``step`` or ``step[index]``."""
    return step_id if index is None else f"{step_id}[{index}]"


class StepBusy(Deferred):
    """Another delivery of this very task holds the step; look again in ``wait`` seconds."""

    def __init__(self, run_id: str, key: str, wait: float) -> None:
        super().__init__(
            f"run {run_id} step {key} is running in another delivery of the same task",
            key=f"{run_id}:{key}",
            wait=wait,
        )


@dataclass
class Execution:
    """What a delivery may do with one step execution.

    ``run``: execute the step, then :meth:`record` its output; ``done``: it ran before,
    ``output`` is what it recorded; ``duplicate``: another task owns it, stop here.
    """

    state: Literal["run", "done", "duplicate"]
    output: Any = None
    owner: str | None = None
    _ledger: StepLedger | None = None
    _run_id: str = ""
    _key: str = ""
    _token: str = ""
    _recorded: bool = False

    def record(self, output: Any, *, batch: RedisBatch | None = None) -> None:
        """The step finished with ``output`` (JSON-able): later deliveries get it back.

        The record also ends this delivery's lease. Joining ``batch``, it is written when
        the batch is sent, which may be after the ``execute`` block: the lease is then
        held (no longer renewed) until then.
        """
        assert self._ledger is not None and self.state == "run"
        joined = batch if batch is not None else RedisBatch(self._ledger.redis)
        self._ledger._done(joined, self._run_id, self._key, self._token, output)
        self._recorded = True
        if batch is None:
            joined.send()


class _Renewer:
    """Keeps the leases of the running deliveries of one process alive: one thread for
    all (not one per delivery), renewing each lease every third of its length until it is
    dropped; it ends when it finds none held, and the next lease held (or the first in a
    forked child) starts it again."""

    def __init__(self, ledger: StepLedger) -> None:
        self._ledger = ledger
        self._leases: dict[str, str] = {}  # lease key -> delivery token
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def hold(self, lease: str, token: str) -> None:
        with self._lock:
            self._leases[lease] = token
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._loop, name="hub-step-lease", daemon=True
                )
                self._thread.start()

    def drop(self, lease: str) -> None:
        with self._lock:
            self._leases.pop(lease, None)

    def _loop(self) -> None:
        while True:
            time.sleep(self._ledger.lease_seconds / 3)
            with self._lock:
                held = dict(self._leases)
                if not held:  # nothing running: the next hold starts a thread again
                    self._thread = None
                    return
            self._renew(held)

    def _renew(self, held: dict[str, str]) -> None:
        ms = int(self._ledger.lease_seconds * 1000)
        batch = RedisBatch(self._ledger.redis)
        replies = [
            (lease, batch.script(_LEASE, [lease], [token, ms])) for lease, token in held.items()
        ]
        try:
            batch.send()
        except Exception:  # Redis away for a moment: try again next round
            log.debug("renewal of %d lease(s) failed", len(held), exc_info=True)
            return
        for lease, reply in replies:
            if not reply.value:  # lost it (expired during a Redis outage): nothing to keep
                self.drop(lease)


class StepLedger:
    """Owners, leases and recorded outputs of a run's step executions, in Redis.

    ``lease_seconds``: how long a delivery that died keeps others out (its lease is
    renewed every third of that while it runs); ``ttl_seconds``: how long the records of
    a run are kept (the run retention).
    """

    def __init__(
        self, redis: Any, *, lease_seconds: float = 10.0, ttl_seconds: int = 7 * 86_400
    ) -> None:
        self.redis = redis
        self.lease_seconds = lease_seconds
        self._ttl = ttl_seconds
        self._renewer = _Renewer(self)

    @contextmanager
    def execute(
        self, run_id: str, key: str, task_id: str, *, batch: RedisBatch | None = None
    ) -> Iterator[Execution]:
        """Begin execution ``key`` of ``run_id`` as task ``task_id`` (see the module);
        the beginning joins ``batch`` (and sends it) when one is given.

        Raises :class:`StepBusy` when another delivery of the same task holds it. With
        ``run``, the lease is renewed until the block ends, then released unless the
        output was recorded (the record releases it), whatever happened: a failed
        attempt's retry may take it at once.
        """
        token = uuid.uuid4().hex
        lease = _LEASE_KEY.format(run_id, key)
        ms = int(self.lease_seconds * 1000)
        joined = batch if batch is not None else RedisBatch(self.redis)
        args = [key, task_id, token, ms, self._ttl]
        reply = joined.script(_BEGIN, [LEDGER_KEY.format(run_id), lease], args)
        joined.send()
        state, detail = (_text(part) for part in reply.value)
        if state == "busy":
            wait = max(int(detail), 0) / 1000 if detail.lstrip("-").isdigit() else 1.0
            raise StepBusy(run_id, key, min(max(wait, 0.2), self.lease_seconds))
        if state == "duplicate":
            yield Execution("duplicate", owner=detail)
            return
        if state == "done":
            yield Execution("done", output=json.loads(detail))
            return
        execution = Execution("run", _ledger=self, _run_id=run_id, _key=key, _token=token)
        self._renewer.hold(lease, token)
        try:
            yield execution
        finally:
            self._renewer.drop(lease)
            if not execution._recorded:
                self._release(lease, token)

    def _release(self, lease: str, token: str) -> None:
        try:
            self.redis.eval(_LEASE, 1, lease, token, "")
        except Exception:  # it lapses on its own
            log.debug("could not release lease %s", lease, exc_info=True)

    def _done(self, batch: RedisBatch, run_id: str, key: str, token: str, output: Any) -> None:
        lease = _LEASE_KEY.format(run_id, key)
        args = [key, json.dumps(output), token, self._ttl]
        batch.script(_DONE, [LEDGER_KEY.format(run_id), lease], args)

    def recorded(self, run_id: str, key: str) -> tuple[bool, Any]:
        """``(True, output)`` when execution ``key`` of ``run_id`` finished, else
        ``(False, None)``."""
        raw = self.redis.hget(LEDGER_KEY.format(run_id), f"done:{key}")
        return (False, None) if raw is None else (True, json.loads(raw))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
