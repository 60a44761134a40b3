"""Which hub processes are up, across hosts: each long-running one says so in Redis.

Workers, beat and each ingress announce themselves every :data:`INTERVAL_SECONDS`: a
sorted set :data:`PRESENCE_KEY` of process ids scored by when each was last seen, and a
hash :data:`INFO_KEY` of what each is (kind, node name, host, process id, start time and
a few details). :func:`seen` reads those seen within :data:`STALE_SECONDS`, so ``hub
status`` run on any host lists the processes of the whole cluster. A process that stops
takes itself out; one killed outright drops out once it is stale, and entries an hour
old are deleted by the next reader.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "INFO_KEY",
    "INTERVAL_SECONDS",
    "PRESENCE_KEY",
    "STALE_SECONDS",
    "Presence",
    "Seen",
    "seen",
]

PRESENCE_KEY = "hub:presence"
INFO_KEY = "hub:presence:info"
#: how often a process says it is up
INTERVAL_SECONDS = 5.0
#: a process not seen for this long is taken for gone
STALE_SECONDS = 20.0
#: entries older than this are deleted by readers
_FORGET_SECONDS = 3600.0

log = logging.getLogger("hub.presence")


@dataclass(frozen=True)
class Seen:
    """One process, as it last said it was up."""

    kind: str  # worker, beat or ingress
    name: str  # a worker's node name (celery@host), else host:pid
    host: str
    pid: int
    started_at: float
    seen_at: float
    detail: Mapping[str, Any] = field(default_factory=dict)


class Presence:
    """Announces this process as a ``kind`` (named ``name``, default ``host:pid``)."""

    def __init__(
        self,
        redis: Any,
        kind: str,
        name: str | None = None,
        *,
        detail: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        host, pid = socket.gethostname(), os.getpid()
        self._redis = redis
        self._clock = clock
        self.id = f"{kind}:{host}:{pid}"
        self._info = json.dumps(
            {
                "kind": kind,
                "name": name or f"{host}:{pid}",
                "host": host,
                "pid": pid,
                "started_at": clock(),
                "detail": dict(detail or {}),
            }
        )
        self._stop = threading.Event()

    def announce(self) -> None:
        """Say once that this process is up."""
        pipe = self._redis.pipeline()
        pipe.zadd(PRESENCE_KEY, {self.id: self._clock()})
        pipe.hset(INFO_KEY, self.id, self._info)
        pipe.execute()

    def withdraw(self) -> None:
        """Say this process is gone (and stop :meth:`keep_up`)."""
        self._stop.set()
        pipe = self._redis.pipeline()
        pipe.zrem(PRESENCE_KEY, self.id)
        pipe.hdel(INFO_KEY, self.id)
        pipe.execute()

    def keep_up(self, interval: float = INTERVAL_SECONDS) -> threading.Thread:
        """Announce now and every ``interval`` seconds, in a thread, until withdrawn."""
        thread = threading.Thread(target=self._loop, args=(interval,), name="presence", daemon=True)
        thread.start()
        return thread

    def _loop(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self.announce()
            except Exception as exc:  # Redis away for a while: say so again later
                log.debug("presence not announced: %s", exc)
            self._stop.wait(interval)


def seen(redis: Any, *, now: float | None = None, stale: float = STALE_SECONDS) -> list[Seen]:
    """The processes seen within ``stale`` seconds, by kind, then name."""
    now = time.time() if now is None else now
    forgotten = redis.zrangebyscore(PRESENCE_KEY, "-inf", now - _FORGET_SECONDS)
    if forgotten:
        redis.zrem(PRESENCE_KEY, *forgotten)
        redis.hdel(INFO_KEY, *forgotten)
    fresh = redis.zrangebyscore(PRESENCE_KEY, now - stale, "+inf", withscores=True)
    if not fresh:
        return []
    infos = redis.hmget(INFO_KEY, [member for member, _ in fresh])
    found = []
    for (_, seen_at), raw in zip(fresh, infos, strict=True):
        if raw is None:
            continue
        info = json.loads(raw)
        found.append(
            Seen(
                kind=str(info["kind"]),
                name=str(info["name"]),
                host=str(info["host"]),
                pid=int(info["pid"]),
                started_at=float(info["started_at"]),
                seen_at=float(seen_at),
                detail=dict(info.get("detail") or {}),
            )
        )
    return sorted(found, key=lambda s: (s.kind, s.name))
