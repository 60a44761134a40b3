"""Plane's record calls as the shared record operations make them.

Paths are relative to the workspace (``projects/{id}/work-items``); Plane's end with a
slash, which :meth:`~connectors.plane.api.PlaneApi.path` adds. Lists page by cursor and
take ``fields``/``expand`` (lists, sent comma-separated) and ``order_by``; Plane has no
filter parameters, so a find reads the list and keeps the records that match. A record
is changed (PATCH) or deleted one call at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connectors.plane.api import SERVICE, PlaneApi
from hub.connector import matching, per_record

__all__ = ["PlaneRecords", "query_params"]


def query_params(query: Mapping[str, Any]) -> dict[str, Any]:
    """Query arguments as Plane takes them: lists comma-separated, empty ones left out."""
    return {
        key: ",".join(value) if isinstance(value, list) else value
        for key, value in query.items()
        if value not in (None, "", [])
    }


class PlaneRecords:
    """A :class:`~hub.connector.crud.RecordApi` on a :class:`PlaneApi`."""

    service = SERVICE

    def __init__(self, api: PlaneApi) -> None:
        self.api = api

    def list(self, path: str, query: Mapping[str, Any], *, limit: int | None) -> Iterator[Any]:
        return self.api.iterate(self.api.path(path), query_params(query), limit=limit)

    def find(self, path: str, filters: Mapping[str, Any], *, limit: int | None) -> Iterator[Any]:
        return matching(self.api.iterate(self.api.path(path)), filters, limit=limit)

    def get(self, path: str, record_id: str, query: Mapping[str, Any]) -> Any:
        return self.api.get(self.api.path(path, record_id), query_params(query))

    def create(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.api.create(self.api.path(path), body)

    def update(self, path: str, record_ids: Sequence[str], changes: Mapping[str, Any]) -> Any:
        return per_record(
            record_ids, lambda record_id: self.api.update(self.api.path(path, record_id), changes)
        )

    def delete(self, path: str, record_ids: Sequence[str]) -> None:
        for record_id in record_ids:
            self.api.delete(self.api.path(path, record_id))
