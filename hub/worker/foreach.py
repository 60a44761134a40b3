"""The Redis state of one ``foreach`` step in one run: items sent, outputs collected.

The task that reaches a ``foreach`` step *opens* it (item count and the chain to go on
with afterwards), sends one task per item and marks each sent. Each item task *records*
its output under its index: the first record of an index counts it done, a redelivered
item finds its index recorded and neither calls its operation again nor counts twice.
The record that makes every item done tells its task to continue the chain with the
outputs, in item order (see :class:`hub.worker.run_once.Claims` for doing that once).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ForeachState", "Progress"]

_STATE = "hub:run:{}:foreach:{}"
_OUTPUTS = "hub:run:{}:foreach:{}:outputs"

# KEYS: state, outputs. ARGV: index, output json, ttl. Returns {done, total}.
_RECORD = """
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'done', 1)
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
end
return {tonumber(redis.call('HGET', KEYS[1], 'done') or '0'),
        tonumber(redis.call('HGET', KEYS[1], 'total') or '-1')}
"""


class Progress(tuple[int, int]):
    """``(done, total)`` items of a foreach."""

    @property
    def complete(self) -> bool:
        done, total = self
        return total >= 0 and done >= total


class ForeachState:
    """One foreach step of one run."""

    def __init__(
        self, redis: Any, run_id: str, step_id: str, *, ttl_seconds: int = 7 * 86_400
    ) -> None:
        self._redis = redis
        self._state = _STATE.format(run_id, step_id)
        self._outputs = _OUTPUTS.format(run_id, step_id)
        self._ttl = ttl_seconds
        self._record = redis.register_script(_RECORD)

    def open(self, total: int, chain: list[Any]) -> int:
        """Start collecting ``total`` items; keeps the first opening's count (redelivery)."""
        pipe = self._redis.pipeline()
        pipe.hsetnx(self._state, "total", total)
        pipe.hsetnx(self._state, "chain", json.dumps(chain))
        pipe.expire(self._state, self._ttl)
        pipe.hget(self._state, "total")
        return int(pipe.execute()[-1])

    def unsent(self, total: int) -> list[int]:
        """Indexes whose item task has not been sent yet."""
        if total == 0:
            return []
        flags = self._redis.hmget(self._state, [f"sent:{i}" for i in range(total)])
        return [i for i, flag in enumerate(flags) if flag is None]

    def mark_sent(self, index: int) -> None:
        self._redis.hset(self._state, f"sent:{index}", 1)

    def chain(self) -> list[Any]:
        """The chain to continue with once every item is done."""
        raw = self._redis.hget(self._state, "chain")
        return [] if raw is None else list(json.loads(raw))

    def is_recorded(self, index: int) -> bool:
        return bool(self._redis.hexists(self._outputs, index))

    def record(self, index: int, output: Any) -> Progress:
        """Store item ``index``'s output (first time only) and answer the progress."""
        payload = json.dumps(output)
        done, total = self._record(
            keys=[self._state, self._outputs], args=[index, payload, self._ttl]
        )
        return Progress((int(done), int(total)))

    def progress(self) -> Progress:
        done, total = self._redis.hmget(self._state, ["done", "total"])
        return Progress((int(done or 0), int(total) if total is not None else -1))

    def outputs(self) -> list[Any]:
        """Every recorded output, in item order (None for an index not recorded)."""
        total = self.progress()[1]
        if total <= 0:
            return []
        raw = self._redis.hmget(self._outputs, list(range(total)))
        return [None if value is None else json.loads(value) for value in raw]

    def fail(self) -> None:
        """An item failed for good: items not yet run are not run."""
        self._redis.hset(self._state, "failed", 1)

    def failed(self) -> bool:
        return bool(self._redis.hexists(self._state, "failed"))
