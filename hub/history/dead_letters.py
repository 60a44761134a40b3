"""The dead-letter store: runs that failed for good, kept until replayed or purged.

A run whose step used up its retries or failed fatally (a refused call, a template error)
is stored once, under its run id, in the hash ``hub:dlq:<run_id>``: the event (in the run
context), source, event type and id, the workflow and the revision it ran, the failed step
(and foreach index), every attempt's error, the final error, the context the step was
given (secrets redacted) and the time. ``hub:dlq`` indexes them by time. Dead letters do
not expire: ``hub dlq replay`` runs them again (:mod:`hub.history.replay`) and marks them
``replayed`` with the new run's id, after which they are kept for the run retention as a
record of what happened; ``hub dlq purge`` deletes them.

Each failed attempt of a step execution is noted as it happens, in the list
``hub:run:<run_id>:attempts:<key>`` (kept for the run retention), so the dead letter can
tell every attempt's error, not only the last.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from hub.workflow import redact

__all__ = [
    "ATTEMPTS_KEY",
    "DLQ_INDEX",
    "DLQ_KEY",
    "DeadLetter",
    "DeadLetterFilter",
    "DeadLetterStore",
]

DLQ_KEY = "hub:dlq:{}"
DLQ_INDEX = "hub:dlq"
ATTEMPTS_KEY = "hub:run:{}:attempts:{}"

DeadLetterStatus = Literal["dead", "replayed"]

# KEYS: dead letter hash, index. ARGV: score, member, field, value, ... 1 when stored.
_ADD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
return 1
"""

# KEYS: dead letter hash. ARGV: new run id, now, ttl. 1 when marked now.
_REPLAYED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'status') == 'replayed' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'replayed', 'replayed_as', ARGV[1], 'replayed_at', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""

# KEYS: dead letter hash. ARGV: run id to use if none was chosen. The chosen id, or nil.
_REPLAY_ID = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSETNX', KEYS[1], 'replay_run_id', ARGV[1])
return redis.call('HGET', KEYS[1], 'replay_run_id')
"""

_SUMMARY = (
    "workflow",
    "revision",
    "step",
    "index",
    "event_id",
    "source",
    "event_type",
    "error",
    "failed_at",
    "status",
    "replayed_as",
    "replayed_at",
    "replay_of",
    "attempt_count",
)


@dataclass(frozen=True)
class DeadLetter:
    """One run that failed for good. ``attempts`` and ``context`` are empty in listings."""

    run_id: str
    workflow: str
    revision: str
    step: str
    index: int | None
    event_id: str
    source: str
    event_type: str
    error: dict[str, Any]
    failed_at: float
    status: DeadLetterStatus = "dead"
    attempt_count: int = 0
    attempts: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    replayed_as: str | None = None
    replayed_at: float | None = None
    replay_of: str | None = None

    @property
    def event(self) -> Any:
        """The event body that started the run."""
        return self.context.get("event")


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters a listing, replay or purge takes (every field optional)."""

    workflow: str | None = None
    source: str | None = None
    #: a part of the error's message, type or HTTP status (any case)
    error: str | None = None
    #: failed at or after this epoch time
    since: float | None = None
    event_id: str | None = None
    #: ``dead`` (not replayed yet), ``replayed``, or ``None`` for both
    status: DeadLetterStatus | None = "dead"

    def matches(self, letter: DeadLetter) -> bool:
        if self.workflow is not None and letter.workflow != self.workflow:
            return False
        if self.source is not None and letter.source != self.source:
            return False
        if self.event_id is not None and letter.event_id != self.event_id:
            return False
        if self.status is not None and letter.status != self.status:
            return False
        if self.error is not None:
            error = letter.error
            text = f"{error.get('type', '')} {error.get('status', '')} {error.get('message', '')}"
            if self.error.lower() not in text.lower():
                return False
        return True


class DeadLetterStore:
    """Reads and writes dead letters and attempt notes; ``clock`` gives epoch seconds."""

    def __init__(
        self,
        redis: Any,
        *,
        attempts_ttl_seconds: int = 7 * 86_400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self._ttl = max(1, int(attempts_ttl_seconds))
        self._clock = clock
        self._add = redis.register_script(_ADD)
        self._replayed = redis.register_script(_REPLAYED)
        self._replay_id = redis.register_script(_REPLAY_ID)

    # --- attempts -------------------------------------------------------------------

    def note_attempt(self, run_id: str, key: str, attempt: int, error: Mapping[str, Any]) -> None:
        """Note that attempt ``attempt`` of execution ``key`` failed with ``error``."""
        entry = {"attempt": attempt, "at": self._clock(), **error}
        name = ATTEMPTS_KEY.format(run_id, key)
        pipe = self.redis.pipeline()
        pipe.rpush(name, json.dumps(entry))
        pipe.expire(name, self._ttl)
        pipe.execute()

    def attempts(self, run_id: str, key: str) -> list[dict[str, Any]]:
        """Every failed attempt noted for execution ``key``, oldest first."""
        raw: list[bytes] = self.redis.lrange(ATTEMPTS_KEY.format(run_id, key), 0, -1)
        return [json.loads(item) for item in raw]

    # --- dead letters ---------------------------------------------------------------

    def add(
        self,
        *,
        run_id: str,
        workflow: str,
        revision: str,
        step: str,
        index: int | None,
        context: Mapping[str, Any],
        error: Mapping[str, Any],
        attempts: Sequence[Mapping[str, Any]],
        secrets: Mapping[str, Any],
    ) -> bool:
        """Store the dead letter of ``run_id`` (secrets redacted); False when it is
        stored already (a redelivered failure)."""
        ctx = redact(dict(context), secrets)
        now = self._clock()
        values: dict[str, Any] = {
            "run_id": run_id,
            "workflow": workflow,
            "revision": revision,
            "step": step,
            "index": "" if index is None else index,
            "event_id": str(ctx.get("event_id", "")),
            "source": str(ctx.get("source", "")),
            "event_type": str(ctx.get("event_type", "")),
            "error": json.dumps(redact(dict(error), secrets)),
            "attempts": json.dumps(redact([dict(a) for a in attempts], secrets)),
            "attempt_count": len(attempts),
            "context": json.dumps(ctx, default=str),
            "failed_at": repr(now),
            "status": "dead",
            "replay_of": str(ctx.get("replay_of") or ""),
        }
        args: list[Any] = [repr(now), run_id]
        for name, value in values.items():
            args += [name, value]
        return bool(self._add(keys=[DLQ_KEY.format(run_id), DLQ_INDEX], args=args))

    def get(self, run_id: str) -> DeadLetter | None:
        """The dead letter of ``run_id`` in full, or None."""
        raw: dict[bytes, bytes] = self.redis.hgetall(DLQ_KEY.format(run_id))
        if not raw:
            return None
        data = {k.decode(): v.decode() for k, v in raw.items()}
        return _letter(
            run_id,
            data,
            attempts=json.loads(data.get("attempts") or "[]"),
            context=json.loads(data.get("context") or "{}"),
        )

    def find(
        self, where: DeadLetterFilter | None = None, *, limit: int | None = None
    ) -> list[DeadLetter]:
        """Dead letters matching ``where``, newest first (without attempts and context)."""
        where = where or DeadLetterFilter()
        found: list[DeadLetter] = []
        for letter in self._scan(where.since):
            if where.matches(letter):
                found.append(letter)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def _scan(self, since: float | None, chunk: int = 500) -> Iterator[DeadLetter]:
        low = "-inf" if since is None else repr(since)
        start = 0
        while True:
            ids: list[bytes] = self.redis.zrevrangebyscore(
                DLQ_INDEX, "+inf", low, start=start, num=chunk
            )
            if not ids:
                return
            pipe = self.redis.pipeline()
            for member in ids:
                pipe.hmget(DLQ_KEY.format(member.decode()), _SUMMARY)
            gone: list[str] = []
            for member, values in zip(ids, pipe.execute(), strict=True):
                run_id = member.decode()
                if values[0] is None:  # a replayed letter that expired
                    gone.append(run_id)
                    continue
                data = {k: v.decode() for k, v in zip(_SUMMARY, values, strict=True) if v}
                yield _letter(run_id, data)
            if gone:
                self.redis.zrem(DLQ_INDEX, *gone)
            start += len(ids) - len(gone)
            if len(ids) < chunk:
                return

    def mark_replayed(self, run_id: str, new_run_id: str, *, keep_seconds: int) -> bool:
        """Mark ``run_id`` replayed as ``new_run_id``; it expires after ``keep_seconds``.
        False when it was marked already (or is gone)."""
        args = [new_run_id, repr(self._clock()), max(1, keep_seconds)]
        return int(self._replayed(keys=[DLQ_KEY.format(run_id)], args=args)) == 1

    def replay_run_id(self, run_id: str, new_run_id: str) -> str | None:
        """The run id the replay of ``run_id`` goes under: ``new_run_id`` the first time,
        the one chosen before when an earlier replay stopped half-way; None when there is
        no such dead letter."""
        chosen = self._replay_id(keys=[DLQ_KEY.format(run_id)], args=[new_run_id])
        return None if chosen is None else bytes(chosen).decode()

    def purge(self, run_ids: Iterable[str]) -> int:
        """Delete these dead letters; how many there were."""
        ids = list(run_ids)
        if not ids:
            return 0
        pipe = self.redis.pipeline()
        for run_id in ids:
            pipe.delete(DLQ_KEY.format(run_id))
        pipe.zrem(DLQ_INDEX, *ids)
        return sum(int(n) for n in pipe.execute()[:-1])


def _letter(
    run_id: str,
    data: Mapping[str, str],
    *,
    attempts: list[dict[str, Any]] | None = None,
    context: dict[str, Any] | None = None,
) -> DeadLetter:
    index = data.get("index")
    return DeadLetter(
        run_id=run_id,
        workflow=data.get("workflow", ""),
        revision=data.get("revision", ""),
        step=data.get("step", ""),
        index=int(index) if index else None,
        event_id=data.get("event_id", ""),
        source=data.get("source", ""),
        event_type=data.get("event_type", ""),
        error=json.loads(data.get("error") or "{}"),
        failed_at=float(data.get("failed_at") or 0),
        status="replayed" if data.get("status") == "replayed" else "dead",
        attempt_count=int(data.get("attempt_count") or 0),
        attempts=attempts or [],
        context=context or {},
        replayed_as=data.get("replayed_as") or None,
        replayed_at=float(data["replayed_at"]) if data.get("replayed_at") else None,
        replay_of=data.get("replay_of") or None,
    )
