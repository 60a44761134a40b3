"""In-memory document collections for sandboxes, Mongo-flavoured.

Records are JSON objects keyed by ``_id`` (24 hex characters, like a Mongo ObjectId),
stamped with ``createdAt``/``updatedAt`` (ISO 8601 UTC). Collections live in
namespaces (an account, a workspace: whatever the API keeps apart) and keep insertion
order. Every
method takes the store's lock and hands out copies, so callers never share state.
"""

from __future__ import annotations

import copy
import itertools
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hub.sandbox.clock import Clock, iso_utc
from hub.sandbox.mongo import SortSpec, sort_records, texts_at

__all__ = ["PROTECTED_FIELDS", "MemoryStore", "new_object_id", "set_path"]

Record = dict[str, Any]

#: fields an update never changes
PROTECTED_FIELDS = frozenset({"_id", "createdAt", "updatedAt"})


def new_object_id(clock: Clock, rng: random.Random) -> str:
    """An ObjectId-like id: 4 bytes of wall seconds, then 8 random bytes, in hex."""
    seconds = int(clock.now().timestamp()) & 0xFFFFFFFF
    return f"{seconds:08x}{rng.getrandbits(64):016x}"


def set_path(doc: Record, path: str, value: Any) -> None:
    """Set a dotted ``path`` in ``doc`` as Mongo's ``$set`` does.

    Missing objects on the way are created; ``a.0.b`` indexes a list; a path through a
    plain value (or past a list's end) raises :class:`ValueError`.
    """
    parts = path.split(".")
    if any(not p for p in parts):
        raise ValueError(f"bad field path '{path}'")
    node: Any = doc
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ValueError(f"'{path}': no element {part} in the array")
            if last:
                node[int(part)] = value
                return
            node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
                return
            if part not in node:
                node[part] = {}
            elif not isinstance(node[part], dict | list):
                raise ValueError(f"'{path}': '{part}' holds a value, not an object")
            node = node[part]
        else:
            raise ValueError(f"'{path}': cannot set a field inside a {type(node).__name__}")


class _TextIndex:
    """The ids of one collection's records by the texts at one path (see
    :func:`~hub.sandbox.mongo.texts_at`)."""

    def __init__(self, path: str, records: Mapping[str, Record]) -> None:
        self.path = path
        self.by_text: dict[str, set[str]] = {}
        self._texts: dict[str, set[str]] = {}
        for record_id, record in records.items():
            self.put(record_id, record)

    def put(self, record_id: str, record: Record) -> None:
        self.drop(record_id)
        texts = texts_at(record, self.path)
        self._texts[record_id] = texts
        for text in texts:
            self.by_text.setdefault(text, set()).add(record_id)

    def drop(self, record_id: str) -> None:
        for text in self._texts.pop(record_id, ()):
            ids = self.by_text[text]
            ids.discard(record_id)
            if not ids:
                del self.by_text[text]


class MemoryStore:
    """Namespaced collections of records; the namespace is chosen by the caller.

    A find given an ``equal`` hint (a path and a text every match has there) looks the
    candidates up in an index on that path, built on first use and kept up to date by
    every write, and tests only those: a key-filter find costs the same at any size, as
    an upstream's own index makes it.
    """

    def __init__(self, clock: Clock, rng: random.Random) -> None:
        self._clock = clock
        self._rng = rng
        self._data: dict[str, dict[str, dict[str, Record]]] = {}
        self._lock = threading.RLock()
        # (namespace, resource) -> path -> index; and each record's place in its
        # collection's order
        self._indexes: dict[tuple[str, str], dict[str, _TextIndex]] = {}
        self._places: dict[tuple[str, str], dict[str, int]] = {}
        self._next_place = itertools.count()

    def _indexed(self, namespace: str, resource: str, record_id: str, record: Record) -> None:
        for index in self._indexes.get((namespace, resource), {}).values():
            index.put(record_id, record)

    def _unindexed(self, namespace: str, resource: str, record_id: str) -> None:
        for index in self._indexes.get((namespace, resource), {}).values():
            index.drop(record_id)
        self._places.get((namespace, resource), {}).pop(record_id, None)

    def _candidates(self, namespace: str, resource: str, path: str, text: str) -> list[Record]:
        """The records with ``text`` at ``path``, in the collection's order."""
        coll = self._collection(namespace, resource)
        indexes = self._indexes.setdefault((namespace, resource), {})
        if path not in indexes:
            indexes[path] = _TextIndex(path, coll)
        places = self._places.get((namespace, resource), {})
        ids = indexes[path].by_text.get(text, ())
        return [coll[i] for i in sorted(ids, key=lambda i: places.get(i, -1))]

    def _collection(self, namespace: str, resource: str) -> dict[str, Record]:
        return self._data.setdefault(namespace, {}).setdefault(resource, {})

    def _new_id(self, taken: Mapping[str, Record]) -> str:
        while True:
            candidate = new_object_id(self._clock, self._rng)
            if candidate not in taken:
                return candidate

    def insert(
        self, namespace: str, resource: str, data: Mapping[str, Any], *, keep_id: bool = False
    ) -> Record:
        """Store a copy of ``data`` as a new record and return it.

        With ``keep_id`` a given ``_id`` (and timestamps) are kept, as seeding wants;
        an ``_id`` already taken is replaced.
        """
        with self._lock:
            coll = self._collection(namespace, resource)
            record: Record = copy.deepcopy(dict(data))
            stamp = iso_utc(self._clock.now())
            given = record.get("_id")
            if not (keep_id and isinstance(given, str) and given):
                record.pop("createdAt", None)
                record.pop("updatedAt", None)
                given = self._new_id(coll)
            record["_id"] = given
            record.setdefault("createdAt", stamp)
            record.setdefault("updatedAt", record["createdAt"])
            ordered = {"_id": given, **{k: v for k, v in record.items() if k != "_id"}}
            coll.pop(given, None)
            coll[given] = ordered
            self._places.setdefault((namespace, resource), {})[given] = next(self._next_place)
            self._indexed(namespace, resource, given, ordered)
            return copy.deepcopy(ordered)

    def find(
        self,
        namespace: str,
        resource: str,
        predicate: Callable[[Record], bool] | None = None,
        *,
        skip: int = 0,
        limit: int | None = None,
        sort: SortSpec | None = None,
        equal: tuple[str, str] | None = None,
    ) -> list[Record]:
        """Records matching ``predicate``, in insertion order (or ``sort``'s), after ``skip``,
        at most ``limit``. ``equal``: a path and a text every record ``predicate``
        matches has there (:func:`~hub.sandbox.mongo.equality_hint`)."""
        with self._lock:
            records: Iterable[Record] = (
                self._candidates(namespace, resource, *equal)
                if equal is not None
                else self._collection(namespace, resource).values()
            )
            if sort:
                chosen = [r for r in records if predicate is None or predicate(r)]
                ordered = sort_records(chosen, sort)[skip:]
                return copy.deepcopy(ordered if limit is None else ordered[:limit])
            found: list[Record] = []
            skipped = 0
            for record in records:
                if predicate is not None and not predicate(record):
                    continue
                if skipped < skip:
                    skipped += 1
                    continue
                if limit is not None and len(found) >= limit:
                    break
                found.append(copy.deepcopy(record))
            return found

    def get(self, namespace: str, resource: str, record_id: str) -> Record | None:
        """One record by ``_id``, or ``None``."""
        with self._lock:
            record = self._collection(namespace, resource).get(record_id)
            return copy.deepcopy(record) if record is not None else None

    def update_many(
        self, namespace: str, resource: str, ids: Iterable[str], changes: Mapping[str, Any]
    ) -> list[Record]:
        """Apply ``changes`` (dotted keys allowed) to the records with these ids.

        Ids not found are skipped. Protected fields are ignored. A bad path raises
        :class:`ValueError` before any record is changed.
        """
        with self._lock:
            coll = self._collection(namespace, resource)
            targets = [coll[i] for i in dict.fromkeys(ids) if i in coll]
            staged = [copy.deepcopy(r) for r in targets]
            stamp = iso_utc(self._clock.now())
            for record in staged:
                for key, value in changes.items():
                    if key not in PROTECTED_FIELDS:
                        set_path(record, key, copy.deepcopy(value))
                record["updatedAt"] = stamp
            for record in staged:
                coll[record["_id"]] = record
                self._indexed(namespace, resource, record["_id"], record)
            return copy.deepcopy(staged)

    def delete_many(self, namespace: str, resource: str, ids: Iterable[str]) -> list[Record]:
        """Remove the records with these ids; return the removed ones."""
        with self._lock:
            coll = self._collection(namespace, resource)
            removed = [coll.pop(i) for i in dict.fromkeys(ids) if i in coll]
            for record in removed:
                self._unindexed(namespace, resource, record["_id"])
            return removed

    def dump(self, namespace: str) -> dict[str, list[Record]]:
        """Every non-empty collection of ``namespace``."""
        with self._lock:
            return {
                name: copy.deepcopy(list(coll.values()))
                for name, coll in self._data.get(namespace, {}).items()
                if coll
            }

    def namespaces(self) -> list[str]:
        """Namespaces holding at least one collection."""
        with self._lock:
            return sorted(self._data)

    def clear(self) -> None:
        """Drop every record in every namespace."""
        with self._lock:
            self._data.clear()
            self._indexes.clear()
            self._places.clear()
