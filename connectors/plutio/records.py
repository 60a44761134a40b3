"""Plutio's record calls as the shared record operations make them.

Paths are resource paths (``task-boards``). Lists and finds page with ``skip``/``limit``;
a find's filters are its ``query`` (key filters) and ``q`` (a MongoDB query); updates
and deletes go through ``/bulk`` with every id in one call.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connectors.plutio.api import SERVICE, PlutioApi

__all__ = ["PlutioRecords"]


class PlutioRecords:
    """A :class:`~hub.connector.crud.RecordApi` on a :class:`PlutioApi`."""

    service = SERVICE

    def __init__(self, api: PlutioApi) -> None:
        self.api = api

    def list(self, path: str, query: Mapping[str, Any], *, limit: int | None) -> Iterator[Any]:
        return self.api.iterate(path, query, limit=limit)

    def find(self, path: str, filters: Mapping[str, Any], *, limit: int | None) -> Iterator[Any]:
        return self.api.iterate(path, filters.get("query"), filters.get("q"), limit=limit)

    def get(self, path: str, record_id: str, query: Mapping[str, Any]) -> Any | None:
        found = self.api.find(path, {**query, "_id": record_id}, limit=1)
        return found[0] if found else None

    def create(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.api.create(path, body)

    def update(self, path: str, record_ids: Sequence[str], changes: Mapping[str, Any]) -> Any:
        return self.api.update(path, list(record_ids), changes)

    def delete(self, path: str, record_ids: Sequence[str]) -> Any:
        return self.api.delete(path, list(record_ids))
