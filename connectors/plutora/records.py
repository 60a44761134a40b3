"""Plutora's record calls as the shared record operations make them.

Paths are entity names (``releases``). Lists page with ``pageNum``/``recordsPerPage``
and take no query; Plutora filters changes only (``changes.search``), so a find reads
the list and keeps the records that match. An update reads the record, merges the
changes and PUTs it back whole, one record a call; a delete answers nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connectors.plutora.api import SERVICE, PlutoraApi
from hub.connector import matching, per_record

__all__ = ["PlutoraRecords"]


class PlutoraRecords:
    """A :class:`~hub.connector.crud.RecordApi` on a :class:`PlutoraApi`."""

    service = SERVICE

    def __init__(self, api: PlutoraApi) -> None:
        self.api = api

    def list(self, path: str, query: Mapping[str, Any], *, limit: int | None) -> Iterator[Any]:
        if query:
            raise ValueError(f"{SERVICE} lists take no query (given {sorted(query)})")
        return self.api.iterate(path, limit=limit)

    def find(self, path: str, filters: Mapping[str, Any], *, limit: int | None) -> Iterator[Any]:
        return matching(self.api.iterate(path), filters, limit=limit)

    def get(self, path: str, record_id: str, query: Mapping[str, Any]) -> Any:
        if query:
            raise ValueError(f"{SERVICE} reads take no query (given {sorted(query)})")
        return self.api.get(path, record_id)

    def create(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.api.create(path, body)

    def update(self, path: str, record_ids: Sequence[str], changes: Mapping[str, Any]) -> Any:
        return per_record(record_ids, lambda record_id: self.api.update(path, record_id, changes))

    def delete(self, path: str, record_ids: Sequence[str]) -> None:
        for record_id in record_ids:
            self.api.delete(path, record_id)
