"""A Redis index of the rows in one ledger (a folder's files of one format).

The files are the source of truth; the index is what makes checking a key cheap. It
holds the export keys written, each record's :class:`RecordState`, and for every file
the byte offset up to which its rows are indexed. All three change together, in one
``MULTI``, so whatever Redis keeps (after a restart that lost the last writes, or none
at all) is an index of a prefix of every file: reading each file on from its offset
brings the index back up to date (see :mod:`connectors.accounting.files`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connectors.accounting.ledger import Entry, RecordState, merge

__all__ = ["LedgerIndex"]


class LedgerIndex:
    """Keys, record states and file offsets of ledger ``ledger_id``, in Redis."""

    def __init__(self, redis: Any, ledger_id: str) -> None:
        self._redis = redis
        prefix = f"hub:accounting:ledger:{ledger_id}"
        self.keys_key = f"{prefix}:keys"
        self.records_key = f"{prefix}:records"
        self.offsets_key = f"{prefix}:offsets"

    def offsets(self) -> dict[str, int]:
        """File name -> bytes indexed."""
        raw: dict[bytes, bytes] = self._redis.hgetall(self.offsets_key)
        return {k.decode(): int(v) for k, v in raw.items()}

    def written(self, key: str) -> bool:
        return bool(self._redis.sismember(self.keys_key, key))

    def state(self, record_id: str) -> RecordState | None:
        return RecordState.loads(self._redis.hget(self.records_key, record_id))

    def count(self) -> int:
        """How many keys are written."""
        return int(self._redis.scard(self.keys_key))

    def commit(self, entries: Iterable[Entry], offsets: Mapping[str, int]) -> None:
        """Index ``entries`` and move the files' offsets, all at once.

        Callers hold the ledger's folder lock: record states are read, merged and written
        back without another writer in between.
        """
        entries = list(entries)
        states: dict[str, RecordState | None] = {}
        ids = list(dict.fromkeys(e.record_id for e in entries))
        if ids:
            raw = self._redis.hmget(self.records_key, ids)
            states = {i: RecordState.loads(r) for i, r in zip(ids, raw, strict=True)}
        for entry in entries:
            states[entry.record_id] = merge(states[entry.record_id], entry)
        pipe = self._redis.pipeline(transaction=True)
        if entries:
            pipe.sadd(self.keys_key, *[e.key for e in entries])
            pipe.hset(
                self.records_key,
                mapping={i: s.dumps() for i, s in states.items() if s is not None},
            )
        if offsets:
            pipe.hset(self.offsets_key, mapping={k: str(v) for k, v in offsets.items()})
        pipe.execute()

    def clear(self) -> None:
        """Forget everything (the files are read again from their start)."""
        self._redis.delete(self.keys_key, self.records_key, self.offsets_key)
