"""Upserts that do not find what they created: a sign the upstream ignores the filter.

An upsert finds a record by a key (a filter such as ``{"contactEmails.address": ...}``)
and creates one when none matches. If the upstream does not honour that filter, the find
misses every time and each upsert creates a duplicate, without an error anywhere. So what
an upsert creates is remembered for a while (:class:`CreatedRecords`, in Redis, per
connector, resource and key), and a later find that misses a record created moments ago
is reported: a warning naming the connector, resource, key and record, and the counter
``hub_find_misses_total{connector,resource}``. The upsert itself goes on (the record may
have been removed or changed meanwhile); the report is what makes a filter the upstream
does not honour show up in a day.

:func:`record_matches` checks an answer against the key the other way round: records
the upstream answered for a filter that do not match it mean the filter was ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from hub.core import LockBusy, RedisBatch, release_lock_in, try_lock_in, writes_behind

__all__ = ["MISSES_KEY", "CreatedRecords", "UpsertGuard", "record_matches"]

log = logging.getLogger("hub.connector")

#: hash of finds that missed a record created moments ago: ``<connector>:<resource>`` -> n
MISSES_KEY = "hub:finds:missed"


def _values(node: Any, parts: list[str]) -> Iterator[Any]:
    if not parts:
        if isinstance(node, list):
            yield from node
        yield node
        return
    if isinstance(node, Mapping) and parts[0] in node:
        yield from _values(node[parts[0]], parts[1:])
    elif isinstance(node, list):
        for item in node:
            yield from _values(item, parts)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)


def record_matches(record: Any, filters: Mapping[str, Any]) -> bool:
    """Whether ``record`` has every filter's value at its dotted path (through lists, as
    key filters in a query string match: compared as text)."""
    if not isinstance(record, Mapping):
        return False
    for path, wanted in filters.items():
        if not any(_text(v) == _text(wanted) for v in _values(record, path.split("."))):
            return False
    return True


class CreatedRecords:
    """What one connector's upserts created lately, by resource and key (``ttl_seconds``)."""

    def __init__(
        self,
        redis: Any,
        connector: str,
        *,
        ttl_seconds: float = 3600.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self.connector = connector
        self._ttl = max(1, round(ttl_seconds))
        self._now = now

    def _key(self, resource: str, match: Mapping[str, Any]) -> str:
        digest = hashlib.sha256(json.dumps(match, sort_keys=True, default=str).encode())
        return f"hub:created:{self.connector}:{resource}:{digest.hexdigest()[:32]}"

    @contextmanager
    def upsert(
        self, resource: str, match: Mapping[str, Any], *, lock: str, ttl_seconds: float = 60.0
    ) -> Iterator[UpsertGuard]:
        """Hold the lock ``lock`` for an upsert's find and create (:class:`LockBusy` at once
        when it is held), with what was created for ``match`` read in the same round trip;
        what the block created is remembered in the round trip that releases the lock, the
        step's next (see :func:`hub.core.writes_behind`).

        Holders of the lock alone write what was created for ``match``, so reading it as
        the lock is taken is reading it after the find.
        """
        key = self._key(resource, match)
        batch = RedisBatch(self._redis)
        taken = try_lock_in(batch, lock, ttl_seconds=ttl_seconds)
        remembered = batch.add("GET", key)
        batch.send()
        token = taken()
        if token is None:
            raise LockBusy(lock)
        guard = UpsertGuard(self, resource, match, remembered.value)
        try:
            yield guard
        finally:
            # sent with the step's next round trip (:func:`hub.core.writes_behind`)
            with writes_behind(self._redis) as end:
                if guard.created_id is not None:
                    value = json.dumps({"id": guard.created_id, "at": self._now()})
                    end.add("SET", key, value, "EX", self._ttl)
                release_lock_in(end, lock, token)

    def _report(self, resource: str, match: Mapping[str, Any], raw: Any) -> bool:
        if raw is None:
            return False
        created = json.loads(raw)
        ago = max(0.0, self._now() - float(created["at"]))
        self._redis.hincrby(MISSES_KEY, f"{self.connector}:{resource}", 1)
        log.warning(
            "%s %s: a find for %s matched nothing, though this hub created %s for it %.0fs "
            "ago: the upstream may not honour the filter, and each upsert may create a "
            "duplicate",
            self.connector,
            resource,
            json.dumps(dict(match), sort_keys=True, default=str),
            created["id"],
            ago,
        )
        return True


class UpsertGuard:
    """One upsert under its lock (:meth:`CreatedRecords.upsert`)."""

    def __init__(
        self, records: CreatedRecords, resource: str, match: Mapping[str, Any], remembered: Any
    ) -> None:
        self._records = records
        self._resource = resource
        self._match = match
        self._remembered = remembered
        self.created_id: str | None = None

    def missed(self) -> bool:
        """The find matched nothing: report it if an upsert created a record for the key
        lately (see the module's docstring), on what was read as the lock was taken;
        whether it did."""
        return self._records._report(self._resource, self._match, self._remembered)

    def created(self, record_id: Any) -> None:
        """The upsert created ``record_id``: remembered as the lock is released."""
        self.created_id = str(record_id)
