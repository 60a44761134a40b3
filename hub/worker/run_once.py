"""Once-per-run actions that survive redelivery: claim, act, then settle.

A task that must do something once for a run (continue a chain after a ``foreach``,
start the ``on_failure`` steps) first *takes* the claim under its task id. Only the owner
may act, and it acts again when redelivered (same task id) until it *settles* the claim.
So the action is neither lost when a worker dies before it (the redelivered task does it)
nor done twice by two different tasks; only a death between acting and settling repeats
it, as at-least-once delivery allows.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CLAIMS_KEY", "Claims"]

CLAIMS_KEY = "hub:run:{}:claims"

# KEYS: claims hash. ARGV: name, owner, ttl. 1 when the owner should act.
_TAKE = """
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if not owner then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  owner = ARGV[2]
end
if owner ~= ARGV[2] then return 0 end
if redis.call('HEXISTS', KEYS[1], ARGV[1] .. ':settled') == 1 then return 0 end
return 1
"""


class Claims:
    """The once-per-run claims of one run."""

    def __init__(self, redis: Any, run_id: str, *, ttl_seconds: int = 7 * 86_400) -> None:
        self._redis = redis
        self._key = CLAIMS_KEY.format(run_id)
        self._ttl = ttl_seconds
        self._take = redis.register_script(_TAKE)

    def take(self, name: str, owner: str) -> bool:
        """True when ``owner`` holds claim ``name`` (now or before) and has not settled it."""
        return bool(self._take(keys=[self._key], args=[name, owner, self._ttl]))

    def settle(self, name: str) -> None:
        """The action of claim ``name`` is done; nobody acts on it again."""
        self._redis.hset(self._key, f"{name}:settled", 1)
