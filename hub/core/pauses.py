"""What an operator paused: workflows, sources and connectors, cluster-wide in Redis.

One hash per kind, ``hub:paused:<kind>``, maps each paused name to who paused it, why and
since when (JSON). Every process reads it where it acts, so a pause holds for the whole
cluster at once:

- a paused **workflow**'s runs are accepted and stored as ``held`` by the ingress's accept
  script, their Celery messages kept in arrival order in the list ``hub:held:<workflow>``
  (one entry per run: the broker queue, a newline, the message);
  :meth:`PauseStore.resume` moves them to their queues in that order, a chunk per script
  call, and lifts the pause in the call that empties the list, so runs accepted while it
  releases stay behind the earlier ones;
- a paused **source** is answered 503 with ``Retry-After`` by the ingress;
- a paused **connector**'s steps are re-scheduled (:class:`~hub.core.errors.Paused`)
  before they call it; :meth:`PauseStore.hold_step` counts them while they wait.

Each change is told to the control-event hook (:mod:`hub.core.control_events`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

from hub.core.batch import RedisBatch
from hub.core.control_events import ControlEvents, PauseChanged, PauseKind, emit_control_event

__all__ = [
    "HELD_RUNS_KEY",
    "PAUSED_KEY",
    "PAUSE_KINDS",
    "Pause",
    "PauseKind",
    "PauseStore",
]

PAUSED_KEY = "hub:paused:{}"
HELD_RUNS_KEY = "hub:held:{}"
_HELD_STEPS_KEY = "hub:paused:connector:{}:held"
PAUSE_KINDS: tuple[PauseKind, ...] = get_args(PauseKind)

# KEYS: held list, paused hash. ARGV: workflow name, most entries to move.
# Moves up to ARGV[2] held messages to their queues, oldest first; lifts the pause when
# none is left. Returns {moved, left, queue, ...}: the queues it pushed to.
_RELEASE = """
local moved, queues, named = 0, {}, {}
for i = 1, tonumber(ARGV[2]) do
  local entry = redis.call('LPOP', KEYS[1])
  if not entry then break end
  local cut = string.find(entry, '\\n', 1, true)
  local queue = string.sub(entry, 1, cut - 1)
  redis.call('LPUSH', queue, string.sub(entry, cut + 1))
  if not named[queue] then named[queue] = true; queues[#queues + 1] = queue end
  moved = moved + 1
end
local left = redis.call('LLEN', KEYS[1])
if left == 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
return {moved, left, unpack(queues)}
"""


@dataclass(frozen=True)
class Pause:
    """One paused thing: its kind and name, who paused it, why, since when (epoch); for a
    workflow, the runs it holds."""

    kind: PauseKind
    name: str
    by: str
    reason: str
    since: float
    held: int = 0


class PauseStore:
    """Pauses in ``redis`` (a sync client); ``clock`` gives epoch seconds, ``events`` is
    told of each pause and resume (default: the process-wide hook). ``ring(redis, queue)``
    wakes the workers waiting on a queue that released runs were pushed to (the broker's
    bells; without it an idle worker finds them at its next look)."""

    def __init__(
        self,
        redis: Any,
        *,
        clock: Callable[[], float] = time.time,
        events: ControlEvents | None = None,
        release_chunk: int = 500,
        ring: Callable[[Any, str], None] | None = None,
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._events = events
        self._chunk = release_chunk
        self._ring = ring
        self._release = redis.register_script(_RELEASE)

    def pause(self, kind: PauseKind, name: str, *, by: str, reason: str = "") -> bool:
        """Pause ``kind`` ``name``; False (nothing changed) when it was paused already."""
        _check_kind(kind)
        now = self._clock()
        record = json.dumps({"by": by, "reason": reason, "since": now})
        if not self._redis.hsetnx(PAUSED_KEY.format(kind), name, record):
            return False
        emit_control_event(PauseChanged(kind, name, True, by, reason, now), self._events)
        return True

    def resume(self, kind: PauseKind, name: str, *, by: str) -> int | None:
        """Lift the pause of ``kind`` ``name``; the held runs released (a workflow's, in
        arrival order), or None when it was not paused."""
        _check_kind(kind)
        current = self.get(kind, name)
        if current is None:
            return None
        released = 0
        if kind == "workflow":
            keys = [HELD_RUNS_KEY.format(name), PAUSED_KEY.format(kind)]
            left = 1
            while left:
                moved, left, *queues = self._release(keys=keys, args=[name, self._chunk])
                released += int(moved)
                self._ring_bells(queues)
        else:
            self._redis.hdel(PAUSED_KEY.format(kind), name)
        if kind == "connector":
            self._redis.delete(_HELD_STEPS_KEY.format(name))
        event = PauseChanged(kind, name, False, by, current.reason, self._clock(), released)
        emit_control_event(event, self._events)
        return released

    def _ring_bells(self, queues: list[Any]) -> None:
        ring = self._ring
        if ring is None:
            return
        for queue in queues:
            ring(self._redis, queue.decode() if isinstance(queue, bytes) else str(queue))

    def get(self, kind: PauseKind, name: str) -> Pause | None:
        """The pause of ``kind`` ``name``, or None when it is not paused."""
        raw = self._redis.hget(PAUSED_KEY.format(kind), name)
        return None if raw is None else self._pause(kind, name, raw)

    def is_paused(self, kind: PauseKind, name: str) -> bool:
        return bool(self._redis.hexists(PAUSED_KEY.format(kind), name))

    def is_paused_in(self, batch: RedisBatch, kind: PauseKind, name: str) -> Callable[[], bool]:
        """:meth:`is_paused`, asked with ``batch``: its answer once the batch is sent."""
        reply = batch.add("HEXISTS", PAUSED_KEY.format(kind), name)
        return lambda: bool(reply.value)

    def paused(self, kind: PauseKind | None = None) -> list[Pause]:
        """Everything paused (of ``kind``), by kind then name."""
        out: list[Pause] = []
        for each in (kind,) if kind else PAUSE_KINDS:
            found = self._redis.hgetall(PAUSED_KEY.format(each))
            for name, raw in sorted((_text(n), r) for n, r in found.items()):
                out.append(self._pause(each, name, raw))
        return out

    def held_runs(self, workflow: str) -> int:
        """Runs of ``workflow`` held and not released yet."""
        return int(self._redis.llen(HELD_RUNS_KEY.format(workflow)))

    def hold_step(self, connector: str, step: str, wait: float) -> None:
        """Count ``step`` (any id of a waiting step) as held by paused ``connector`` for
        the next ``wait`` seconds (it is counted again each time it comes back)."""
        key = _HELD_STEPS_KEY.format(connector)
        pipe = self._redis.pipeline()
        pipe.zadd(key, {step: self._clock() + wait + 5.0})
        pipe.expire(key, int(wait) + 60)
        pipe.execute()

    def held_steps(self, connector: str) -> int:
        """Steps waiting for paused ``connector`` now."""
        return int(self._redis.zcount(_HELD_STEPS_KEY.format(connector), self._clock(), "+inf"))

    def _pause(self, kind: PauseKind, name: str, raw: bytes | str) -> Pause:
        data = json.loads(_text(raw))
        held = 0
        if kind == "workflow":
            held = self.held_runs(name)
        elif kind == "connector":
            held = self.held_steps(name)
        return Pause(kind, name, data["by"], data["reason"], float(data["since"]), held)


def _check_kind(kind: str) -> None:
    if kind not in PAUSE_KINDS:
        raise ValueError(f"unknown kind '{kind}' (known: {', '.join(PAUSE_KINDS)})")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
