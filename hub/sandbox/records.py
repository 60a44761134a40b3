"""Records addressed by id, for sandboxes of ``/things/{id}`` style APIs.

A :class:`RecordTable` keeps one resource's records in a :class:`MemoryStore` namespace,
optionally scoped under a parent (``where={"project": ...}``), with UUID ids drawn from
the sandbox's random source. It hands records out as the API shows them (:class:`Naming`:
``id`` for the store's ``_id``, the API's names for the timestamps) and takes care that
a client never sets ids or timestamps itself.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.sandbox.documents import MemoryStore
from hub.sandbox.inputs import BadInput

__all__ = ["Naming", "RecordTable", "new_uuid"]

Record = dict[str, Any]


def new_uuid(rng: random.Random) -> str:
    """A version 4 UUID from ``rng`` (so a seed reproduces the ids)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(frozen=True)
class Naming:
    """What the API calls the id and the timestamps (``None``: the API does not show it)."""

    id: str = "id"
    created: str | None = "created_at"
    updated: str | None = "updated_at"

    def present(self, stored: Mapping[str, Any]) -> Record:
        """A stored record as the API shows it."""
        shown: Record = {self.id: stored["_id"]}
        for key, value in stored.items():
            if key == "_id":
                continue
            if key == "createdAt":
                if self.created:
                    shown[self.created] = value
            elif key == "updatedAt":
                if self.updated:
                    shown[self.updated] = value
            else:
                shown[key] = value
        return shown

    def stored(self, shown: Mapping[str, Any]) -> Record:
        """A record as the API shows it, in the store's names (for seeding)."""
        names = {self.id: "_id", self.created: "createdAt", self.updated: "updatedAt"}
        return {names.get(k, k): v for k, v in shown.items()}

    def show(self, resource: str, stored: dict[str, Any]) -> Record:
        """:meth:`present`, in the form control routes take (``present=naming.show``)."""
        return self.present(stored)

    def take(self, resource: str, shown: dict[str, Any]) -> Record:
        """:meth:`stored`, in the form control routes take (``accept=naming.take``)."""
        return self.stored(shown)

    def writable(self, data: Mapping[str, Any]) -> Record:
        """``data`` without the fields a client may not set."""
        fixed = {"_id", "createdAt", "updatedAt", self.id, self.created, self.updated}
        return {k: v for k, v in data.items() if k not in fixed}


class RecordTable:
    """One resource's records, by id, in one namespace per call."""

    def __init__(
        self,
        store: MemoryStore,
        resource: str,
        rng: random.Random,
        *,
        naming: Naming | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.resource = resource
        self.naming = naming or Naming()
        self.defaults = dict(defaults or {})
        self._rng = rng

    def _matches(self, where: Mapping[str, Any]) -> Callable[[Record], bool]:
        return lambda r: all(r.get(k) == v for k, v in where.items())

    def list(self, ns: str, where: Mapping[str, Any] | None = None) -> list[Record]:
        """Every record under ``where`` (field equality), in creation order, as shown."""
        found = self.store.find(ns, self.resource, self._matches(where or {}))
        return [self.naming.present(r) for r in found]

    def get(self, ns: str, record_id: str, where: Mapping[str, Any] | None = None) -> Record | None:
        """The record with this id under ``where``, or ``None``."""
        stored = self.store.get(ns, self.resource, record_id)
        if stored is None or not self._matches(where or {})(stored):
            return None
        return self.naming.present(stored)

    def create(
        self, ns: str, data: Mapping[str, Any], where: Mapping[str, Any] | None = None
    ) -> Record:
        """A new record: defaults, then ``data``, then ``where`` (the parent it belongs to)."""
        record = {**self.defaults, **self.naming.writable(data), **(where or {})}
        record["_id"] = new_uuid(self._rng)
        return self.naming.present(self.store.insert(ns, self.resource, record, keep_id=True))

    def update(
        self,
        ns: str,
        record_id: str,
        changes: Mapping[str, Any],
        where: Mapping[str, Any] | None = None,
    ) -> Record | None:
        """Set the fields in ``changes`` (a whole value replaces); ``None`` if not found."""
        if self.get(ns, record_id, where) is None:
            return None
        fields = {k: v for k, v in self.naming.writable(changes).items() if k not in (where or {})}
        try:
            updated = self.store.update_many(ns, self.resource, [record_id], fields)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        return self.naming.present(updated[0]) if updated else None

    def delete(self, ns: str, record_id: str, where: Mapping[str, Any] | None = None) -> bool:
        """Remove the record; whether it was there."""
        if self.get(ns, record_id, where) is None:
            return False
        return bool(self.store.delete_many(ns, self.resource, [record_id]))
