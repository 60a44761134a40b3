"""Run records: what each workflow run did, kept in Redis for a bounded time.

One hash per run, ``hub:run:<run_id>``: workflow, revision, event id, status
(``held``: accepted while its workflow was paused, not started yet; ``running``,
``succeeded``, ``failed``, ``skipped``), start and finish times, the error
that failed it, and per step its status (``running``, ``succeeded``, ``skipped``,
``failed``), times, attempts, quota waits, item count and, while it is re-scheduled,
what it waits for (``quota``: a quota slot; ``held``: a key another run holds;
``paused``: a connector an operator paused; ``breaker``: its API client's open circuit
breaker; ``concurrency``: its turn on a concurrency key). Run ids
are listed newest first in the sorted set ``hub:runs``, and per event id in
``hub:runs:event:<event_id>`` (so "what happened to event X" is one lookup). Every write
refreshes the record's expiry (``HUB_RUN_RETENTION_SECONDS``); the list drops runs older
than that, and keeps at most ``max_listed``. A run started by ``hub dlq replay`` names
the run it replays (``replay_of``).

Each transition (run started or ended, step started or ended) is also one log line
(:mod:`hub.history.events_log`) carrying the run's ids, secrets redacted.

Writes are idempotent under redelivery: a run's identity fields and a step's start time
are set once, attempts only grow, and a final status is never turned back to running.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from hub.history.events_log import TransitionLog

__all__ = [
    "EVENT_RUNS",
    "RUNS_INDEX",
    "RUN_KEY",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "StepRecord",
    "StepStatus",
    "WaitReason",
]

RUN_KEY = "hub:run:{}"
RUNS_INDEX = "hub:runs"
EVENT_RUNS = "hub:runs:event:{}"

RunStatus = Literal["held", "running", "succeeded", "failed", "skipped"]
StepStatus = Literal["running", "succeeded", "skipped", "failed"]
#: why a running step is re-scheduled: no quota slot, a key another run holds, a connector
#: an operator paused, its API client's open circuit breaker, or its turn on a workflow's
#: or step's concurrency key
WaitReason = Literal["quota", "held", "paused", "breaker", "concurrency"]

# KEYS: run key, index, event index. ARGV: step prefix ("" for none), now, ttl, workflow, revision,
# event id, run id, attempt, quota waits, max listed, retention.
_TOUCH = """
local key, index = KEYS[1], KEYS[2]
local p, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local created = redis.call('HSETNX', key, 'started_at', now)
if created == 1 then
  redis.call('HSET', key, 'workflow', ARGV[4], 'revision', ARGV[5], 'event_id', ARGV[6])
  if redis.call('HGET', key, 'status') == 'held' then redis.call('HDEL', key, 'status') end
  redis.call('HSETNX', key, 'status', 'running')
  redis.call('ZADD', index, now, ARGV[7])
  redis.call('ZREMRANGEBYSCORE', index, '-inf', tonumber(now) - tonumber(ARGV[11]))
  redis.call('ZREMRANGEBYRANK', index, 0, -tonumber(ARGV[10]) - 1)
  redis.call('ZADD', KEYS[3], now, ARGV[7])
  redis.call('EXPIRE', KEYS[3], ttl)
end
if p ~= '' then
  redis.call('HSETNX', key, p .. 'started_at', now)
  local status = redis.call('HGET', key, p .. 'status')
  if not status or status == 'running' then redis.call('HSET', key, p .. 'status', 'running') end
  for i, name in ipairs({'attempts', 'quota_waits'}) do
    local value = tonumber(ARGV[7 + i])
    local current = tonumber(redis.call('HGET', key, p .. name) or '0')
    if value > current then redis.call('HSET', key, p .. name, value) end
  end
end
redis.call('EXPIRE', key, ttl)
return created + 1
"""

# KEYS: run key. ARGV: status, now, error json ("" for none), ttl.
_FINISH = """
local key = KEYS[1]
local status = redis.call('HGET', key, 'status')
if status and status ~= 'running' then return 0 end
redis.call('HSET', key, 'status', ARGV[1], 'finished_at', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSETNX', key, 'error', ARGV[3]) end
redis.call('EXPIRE', key, tonumber(ARGV[4]))
return redis.call('HMGET', key, 'workflow', 'revision', 'event_id', 'started_at')
"""


@dataclass(frozen=True)
class StepRecord:
    """What one step did in a run."""

    status: StepStatus
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0
    quota_waits: int = 0
    items: int | None = None
    error: dict[str, Any] | None = None
    #: while running: what its last re-scheduling waits for
    waiting: WaitReason | None = None


@dataclass(frozen=True)
class RunRecord:
    """What one run did."""

    run_id: str
    workflow: str
    revision: str
    event_id: str
    status: RunStatus
    started_at: float | None = None
    finished_at: float | None = None
    error: dict[str, Any] | None = None
    reason: str | None = None
    #: when it was accepted while its workflow was paused
    held_at: float | None = None
    replay_of: str | None = None
    steps: dict[str, StepRecord] = field(default_factory=dict)


class RunStore:
    """Reads and writes run records; ``clock`` gives epoch seconds."""

    def __init__(
        self,
        redis: Any,
        *,
        retention_seconds: float = 7 * 86_400,
        max_listed: int = 100_000,
        clock: Callable[[], float] = time.time,
        log: TransitionLog | None = None,
    ) -> None:
        self._redis = redis
        self._log = log or TransitionLog()
        self._ttl = max(1, int(retention_seconds))
        self._max_listed = max_listed
        self._clock = clock
        self._touch = redis.register_script(_TOUCH)
        self._finish = redis.register_script(_FINISH)

    def _args(self, run_id: str, prefix: str, **run: Any) -> list[Any]:
        return [
            prefix,
            repr(self._clock()),
            self._ttl,
            run["workflow"],
            run["revision"],
            run["event_id"],
            run_id,
            run.get("attempt", 0),
            run.get("quota_waits", 0),
            self._max_listed,
            self._ttl,
        ]

    def _keys(self, run_id: str, event_id: str) -> list[str]:
        return [RUN_KEY.format(run_id), RUNS_INDEX, EVENT_RUNS.format(event_id)]

    def start(
        self,
        run_id: str,
        *,
        workflow: str,
        revision: str,
        event_id: str,
        replay_of: str | None = None,
    ) -> None:
        """Record a run as running (no-op when it is recorded already); ``replay_of``: the
        run it replays."""
        args = self._args(run_id, "", workflow=workflow, revision=revision, event_id=event_id)
        created = self._touch(keys=self._keys(run_id, event_id), args=args)
        if int(created) == 2:
            self._log.run(
                run_id, "running", workflow=workflow, revision=revision, event_id=event_id
            )
        if replay_of:
            self._redis.hsetnx(RUN_KEY.format(run_id), "replay_of", replay_of)

    def step_started(
        self,
        run_id: str,
        step_id: str,
        *,
        workflow: str,
        revision: str,
        event_id: str,
        attempt: int = 1,
        quota_waits: int = 0,
    ) -> None:
        """A task of ``step_id`` is running (its run is recorded too, if it was not)."""
        args = self._args(
            run_id,
            f"step:{step_id}:",
            workflow=workflow,
            revision=revision,
            event_id=event_id,
            attempt=attempt,
            quota_waits=quota_waits,
        )
        created = self._touch(keys=self._keys(run_id, event_id), args=args)
        ids = {"workflow": workflow, "revision": revision, "event_id": event_id}
        if int(created) == 2:
            self._log.run(run_id, "running", **ids)
        self._log.step(run_id, step_id, "running", attempt=attempt, quota_waits=quota_waits, **ids)

    def step_waiting(self, run_id: str, step_id: str, reason: WaitReason) -> None:
        """The step was re-scheduled to wait for ``reason`` (until it ends)."""
        key = RUN_KEY.format(run_id)
        pipe = self._redis.pipeline()
        pipe.hset(key, f"step:{step_id}:waiting", reason)
        pipe.expire(key, self._ttl)
        pipe.execute()

    def step_finished(
        self,
        run_id: str,
        step_id: str,
        status: StepStatus,
        *,
        items: int | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> None:
        """The step ended as ``status``."""
        prefix = f"step:{step_id}:"
        values: dict[str, Any] = {
            f"{prefix}status": status,
            f"{prefix}finished_at": repr(self._clock()),
        }
        if items is not None:
            values[f"{prefix}items"] = items
        if error is not None:
            values[f"{prefix}error"] = json.dumps(dict(error))
        key = RUN_KEY.format(run_id)
        pipe = self._redis.pipeline()
        pipe.hset(key, mapping=values)
        pipe.hdel(key, f"{prefix}waiting")
        pipe.expire(key, self._ttl)
        pipe.hmget(key, "workflow", "revision", "event_id", f"{prefix}started_at")
        *_, (workflow, revision, event_id, started) = pipe.execute()
        self._log.step(
            run_id,
            step_id,
            status,
            **_ids(workflow, revision, event_id),
            duration_seconds=_duration(started, self._clock()),
            items=items,
            error=None if error is None else dict(error),
        )

    def finish(
        self, run_id: str, status: RunStatus, *, error: Mapping[str, Any] | None = None
    ) -> bool:
        """End the run as ``status``; False when it had ended already (nothing changed)."""
        payload = json.dumps(dict(error)) if error is not None else ""
        now = self._clock()
        args = [status, repr(now), payload, self._ttl]
        ended = self._finish(keys=[RUN_KEY.format(run_id)], args=args)
        if not ended:
            return False
        workflow, revision, event_id, started = ended
        self._log.run(
            run_id,
            status,
            **_ids(workflow, revision, event_id),
            duration_seconds=_duration(started, now),
            error=None if error is None else dict(error),
        )
        return True

    def record_error(self, run_id: str, error: Mapping[str, Any]) -> None:
        """Note what failed the run (the first error recorded stays)."""
        key = RUN_KEY.format(run_id)
        pipe = self._redis.pipeline()
        pipe.hsetnx(key, "error", json.dumps(dict(error)))
        pipe.expire(key, self._ttl)
        pipe.execute()

    def skipped(
        self, run_id: str, *, workflow: str, revision: str, event_id: str, reason: str
    ) -> None:
        """Record a run that did not start because the workflow's ``if`` kept it out."""
        self.start(run_id, workflow=workflow, revision=revision, event_id=event_id)
        key = RUN_KEY.format(run_id)
        self._redis.hset(key, "reason", reason)
        self.finish(run_id, "skipped")

    def get(self, run_id: str) -> RunRecord | None:
        """The record of ``run_id``, or None (never recorded, or expired)."""
        return _record(run_id, self._redis.hgetall(RUN_KEY.format(run_id)))

    def get_many(self, run_ids: list[str]) -> list[RunRecord | None]:
        """The records of ``run_ids`` (None for each not there), in one round trip."""
        pipe = self._redis.pipeline()
        for run_id in run_ids:
            pipe.hgetall(RUN_KEY.format(run_id))
        return [_record(i, raw) for i, raw in zip(run_ids, pipe.execute(), strict=True)]

    def statuses(self, run_ids: list[str]) -> list[str | None]:
        """The status of each of ``run_ids`` (None for a run not recorded), in one round
        trip."""
        pipe = self._redis.pipeline()
        for run_id in run_ids:
            pipe.hget(RUN_KEY.format(run_id), "status")
        return [None if s is None else s.decode() for s in pipe.execute()]

    def recent(self, limit: int = 50) -> list[str]:
        """Run ids, newest first."""
        ids: list[bytes] = self._redis.zrevrange(RUNS_INDEX, 0, max(0, limit - 1))
        return [i.decode() for i in ids]

    def for_event(self, event_id: str) -> list[str]:
        """Ids of the runs event ``event_id`` started (replays included), newest first."""
        ids: list[bytes] = self._redis.zrevrange(EVENT_RUNS.format(event_id), 0, -1)
        return [i.decode() for i in ids]

    def listed(self, since: float | None = None, *, start: int = 0, count: int = 500) -> list[str]:
        """Run ids started at or after ``since`` (epoch), newest first, a page at a time."""
        low = "-inf" if since is None else repr(since)
        ids: list[bytes] = self._redis.zrevrangebyscore(
            RUNS_INDEX, "+inf", low, start=start, num=count
        )
        return [i.decode() for i in ids]


def _record(run_id: str, raw: dict[bytes, bytes]) -> RunRecord | None:
    if not raw:
        return None
    data = {k.decode(): v.decode() for k, v in raw.items()}
    steps: dict[str, dict[str, str]] = {}
    for name, value in data.items():
        if name.startswith("step:"):
            step_id, _, attribute = name[5:].rpartition(":")
            steps.setdefault(step_id, {})[attribute] = value
    return RunRecord(
        run_id=run_id,
        workflow=data.get("workflow", ""),
        revision=data.get("revision", ""),
        event_id=data.get("event_id", ""),
        status=data.get("status", "running"),  # type: ignore[arg-type]
        started_at=_float(data.get("started_at")),
        finished_at=_float(data.get("finished_at")),
        error=_json(data.get("error")),
        reason=data.get("reason"),
        held_at=_float(data.get("held_at")),
        replay_of=data.get("replay_of"),
        steps={step_id: _step(fields) for step_id, fields in steps.items()},
    )


def _step(fields: Mapping[str, str]) -> StepRecord:
    return StepRecord(
        status=fields.get("status", "running"),  # type: ignore[arg-type]
        started_at=_float(fields.get("started_at")),
        finished_at=_float(fields.get("finished_at")),
        attempts=int(fields.get("attempts", 0)),
        quota_waits=int(fields.get("quota_waits", 0)),
        items=int(fields["items"]) if "items" in fields else None,
        error=_json(fields.get("error")),
        waiting=fields.get("waiting"),  # type: ignore[arg-type]
    )


def _ids(workflow: bytes | None, revision: bytes | None, event_id: bytes | None) -> Any:
    def text(value: bytes | None) -> str:
        return "" if value is None else value.decode()

    return {"workflow": text(workflow), "revision": text(revision), "event_id": text(event_id)}


def _duration(started: bytes | None, now: float) -> float | None:
    return None if started is None else round(max(0.0, now - float(started)), 3)


def _float(value: str | None) -> float | None:
    return None if value is None else float(value)


def _json(value: str | None) -> dict[str, Any] | None:
    return None if value is None else json.loads(value)
