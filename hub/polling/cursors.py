"""Poll cursors, kept in Redis: how far each poll workflow has handed records on.

A cursor is a position in the order a poll reads (cursor field, record id): the last
record handed on. Beside it, the keys (id and cursor value) handed on lately, scored by
the cursor value in seconds when it is a date: a poll reads again a little before its
cursor (the overlap, for records that appear late with an earlier time) and skips what
these keys say it already handed on. A poll reads a *window* (the records changed at or
after a value) in pages; while it is open, the window's state (where it started, the
upstream's continuation, the last position handed on) is kept beside the cursor, so the
next poll task goes on with it, and the cursor moves only when the window is read to its
end. Each save checks the poll's lock token, so a poll that lost its lock (it stalled
past the lock's expiry) cannot move the cursor.

Keys: ``hub:cursor:<workflow>`` (a hash: ``value`` as JSON, ``id``, ``updated_at``,
``seen`` (records read past), ``window`` (JSON, while one is open), ``empty_polls`` and
``silent_since`` (polls in a row that read no record, and when the first of them ended),
and the last poll's figures under ``last_*``) and ``hub:cursor:<workflow>:recent`` (a
sorted set).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.workflow import to_datetime

__all__ = [
    "Cursor",
    "CursorStore",
    "LockLost",
    "cursor_seconds",
    "date_value",
    "position_before",
    "recent_member",
]

_KEY = "hub:cursor:{}"
_RECENT = "hub:cursor:{}:recent"
_PREFIX = "hub:cursor:"

# KEYS: cursor hash, recent zset, lock. ARGV: token ('' = no lock), lock ttl ms, move
# ('1': set value, id and updated_at), value json, id, now, count seen, trim-below score
# ('' = none), window json ('' = none open), then member/score pairs.
_SAVE = """
if ARGV[1] ~= '' then
  if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[2]))
end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'value', ARGV[4], 'id', ARGV[5], 'updated_at', ARGV[6])
end
if ARGV[9] == '' then
  redis.call('HDEL', KEYS[1], 'window')
else
  redis.call('HSET', KEYS[1], 'window', ARGV[9])
end
redis.call('HINCRBY', KEYS[1], 'seen', tonumber(ARGV[7]))
for i = 10, #ARGV, 2 do redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i]) end
if ARGV[8] ~= '' then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[8]) end
return 1
"""


class LockLost(Exception):
    """The poll's lock expired and another poll may hold it: stop without advancing."""


def cursor_seconds(value: Any) -> float | None:
    """The cursor value as seconds: a date's epoch, a number itself; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return to_datetime(value).timestamp()
        except ValueError:
            return None
    return None


def _iso(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def date_value(seconds: float) -> str:
    """The cursor value of the moment ``seconds`` (epoch): ``2024-03-01T10:00:00.000Z``."""
    return _iso(datetime.fromtimestamp(seconds, tz=UTC))


def position_before(value: Any, overlap_seconds: float) -> Any:
    """The cursor value ``overlap_seconds`` earlier (dates only; others are kept)."""
    if overlap_seconds <= 0 or not isinstance(value, str):
        return value
    try:
        moment = to_datetime(value)
    except ValueError:
        return value
    return _iso(moment - timedelta(seconds=overlap_seconds))


def recent_member(record_id: str, value: Any) -> str:
    """The recent-set member of a record at a cursor value."""
    return f"{record_id}\x1f{json.dumps(value)}"


@dataclass
class Cursor:
    """A poll workflow's cursor and what its last poll did."""

    workflow: str
    value: Any = None
    id: str = ""
    updated_at: float | None = None
    seen: int = 0
    last: dict[str, str] = field(default_factory=dict)
    #: the window being read, while one is open (see :class:`~hub.polling.poller.Window`)
    window: dict[str, Any] | None = None
    #: polls in a row that read no record at all, and when the first of them ended
    empty_polls: int = 0
    silent_since: float | None = None

    @property
    def started(self) -> bool:
        """False until a first page was handed on (or the cursor was set by hand)."""
        return self.updated_at is not None


class CursorStore:
    """Read, advance and reset cursors; ``now`` is the clock stamps are read from."""

    def __init__(self, redis: Any, *, now: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._now = now
        self._save = redis.register_script(_SAVE)

    def get(self, workflow: str) -> Cursor:
        raw: dict[bytes, bytes] = self._redis.hgetall(_KEY.format(workflow))
        data = {k.decode(): v.decode() for k, v in raw.items()}
        cursor = Cursor(workflow)
        if "value" in data:
            cursor.value = json.loads(data["value"])
            cursor.id = data.get("id", "")
            cursor.updated_at = float(data["updated_at"])
        cursor.seen = int(data.get("seen", 0))
        if data.get("window"):
            cursor.window = json.loads(data["window"])
        cursor.empty_polls = int(data.get("empty_polls", 0))
        if data.get("silent_since"):
            cursor.silent_since = float(data["silent_since"])
        cursor.last = {k[5:]: v for k, v in data.items() if k.startswith("last_")}
        return cursor

    def workflows(self) -> list[str]:
        """Workflows that have a cursor."""
        names = set()
        for key in self._redis.scan_iter(match=f"{_PREFIX}*"):
            name = key.decode()[len(_PREFIX) :]
            if not name.endswith(":recent"):
                names.add(name)
        return sorted(names)

    def recent(self, workflow: str, since_seconds: float | None) -> set[str]:
        """Members handed on at cursor values from ``since_seconds`` on (None: all)."""
        low = "-inf" if since_seconds is None else since_seconds
        members = self._redis.zrangebyscore(_RECENT.format(workflow), low, "+inf")
        return {m.decode() for m in members}

    def advance(
        self,
        workflow: str,
        value: Any,
        record_id: str,
        handed: Iterable[tuple[str, Any]],
        *,
        seen: int,
        keep_seconds: float | None,
        lock: tuple[str, str] | None = None,
        lock_ttl_seconds: float = 60.0,
    ) -> None:
        """Move the cursor to (``value``, ``record_id``), close the open window and
        remember ``handed`` (record id, cursor value) pairs; forget those scored below
        ``keep_seconds``.

        With ``lock`` (key, token), only while the token still holds the lock (whose
        expiry is then pushed ``lock_ttl_seconds`` on), else :class:`LockLost`.
        """
        self._store(
            workflow,
            (value, record_id),
            None,
            handed,
            seen=seen,
            keep_seconds=keep_seconds,
            lock=lock,
            lock_ttl_seconds=lock_ttl_seconds,
        )

    def remember(
        self,
        workflow: str,
        handed: Iterable[tuple[str, Any]],
        *,
        window: dict[str, Any] | None,
        seen: int,
        lock: tuple[str, str] | None = None,
        lock_ttl_seconds: float = 60.0,
    ) -> None:
        """Remember ``handed`` and keep ``window`` open (``None``: close it), leaving
        the cursor where it is; the lock as for :meth:`advance`."""
        self._store(
            workflow,
            None,
            window,
            handed,
            seen=seen,
            keep_seconds=None,
            lock=lock,
            lock_ttl_seconds=lock_ttl_seconds,
        )

    def _store(
        self,
        workflow: str,
        position: tuple[Any, str] | None,
        window: dict[str, Any] | None,
        handed: Iterable[tuple[str, Any]],
        *,
        seen: int,
        keep_seconds: float | None,
        lock: tuple[str, str] | None,
        lock_ttl_seconds: float,
    ) -> None:
        pairs: list[str] = []
        for rid, val in handed:
            score = cursor_seconds(val)
            pairs += [recent_member(rid, val), repr(score if score is not None else 0.0)]
        lock_key, token = lock or ("", "")
        value, record_id = position or (None, "")
        ok = self._save(
            keys=[_KEY.format(workflow), _RECENT.format(workflow), lock_key or "-"],
            args=[
                token,
                int(lock_ttl_seconds * 1000),
                "1" if position is not None else "0",
                json.dumps(value),
                record_id,
                repr(self._now()),
                seen,
                "" if keep_seconds is None else repr(keep_seconds),
                "" if window is None else json.dumps(window, sort_keys=True),
                *pairs,
            ],
        )
        if not int(ok):
            raise LockLost(f"poll of {workflow} lost its lock; another poll may be running")

    def note_read(self, workflow: str, read: int) -> None:
        """Count a poll that read ``read`` records: polls that read none, in a row."""
        key = _KEY.format(workflow)
        pipe = self._redis.pipeline(transaction=True)
        if read:
            pipe.hdel(key, "empty_polls", "silent_since")
        else:
            pipe.hincrby(key, "empty_polls", 1)
            pipe.hsetnx(key, "silent_since", repr(self._now()))
        pipe.execute()

    def record_poll(self, workflow: str, **figures: Any) -> None:
        """Keep the last poll's figures (shown by ``hub cursors``)."""
        values = {f"last_{k}": str(v) for k, v in figures.items()}
        values["last_at"] = repr(self._now())
        self._redis.hset(_KEY.format(workflow), mapping=values)

    def reset(self, workflow: str, to: Any = None) -> None:
        """Poll from the start (``to`` None) or from records whose cursor field is ``to``
        or later; forgets what was handed on."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(_KEY.format(workflow), _RECENT.format(workflow))
        if to is not None:
            pipe.hset(
                _KEY.format(workflow),
                mapping={"value": json.dumps(to), "id": "", "updated_at": repr(self._now())},
            )
        pipe.execute()
