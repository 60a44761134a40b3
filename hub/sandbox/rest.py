"""Mongo-style REST resources over a :class:`MemoryStore`, declared as data.

A shape some upstreams use (Mongo-backed APIs), and the routes :class:`MongoRest` serves
for a resource ``r``:

- ``GET /r``: a JSON array; ``skip``/``limit`` paging (``limit=0``: no limit), key
  filters on dotted paths (``?name.first=leo``), ``q=<Mongo JSON>``; ``?_id=`` reads one;
  ``sort=<Mongo JSON>`` (``{"updatedAt": 1, "_id": 1}``) orders before paging (default:
  insertion order). With ``sort=False`` (an upstream whose reference documents no
  sorting) ``sort`` is a key filter like any other parameter: on a field named ``sort``.
- ``POST /r``: create from a JSON object; answers the record.
- ``PUT /r/bulk`` with ``{"_ids": [...], field: value, ...}``: answers the updated
  records (ids not found are skipped). Fields are set as Mongo's ``$set`` does: a
  dotted key (``name.first``) changes one field, a whole value (``name``) replaces it.
  ``DELETE /r/bulk`` with ``{"_ids": [...]}``: answers the removed records.
- ``POST /r/move`` and ``POST /r/copy`` with ``{"_id": ..., field: value, ...}``, for
  resources that have them: answer the moved record, or the new copy.
- ``PUT``/``PATCH``/``DELETE`` on ``/r`` or ``/r/{id}``: 405, as single-record writes are
  refused. Unknown resources and paths: 404. A method a resource lacks: 405.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.sandbox.documents import PROTECTED_FIELDS, MemoryStore, set_path
from hub.sandbox.inputs import BadInput, read_object
from hub.sandbox.mongo import (
    QueryError,
    compile_query,
    equality_hint,
    key_filter_query,
    parse_sort,
)
from hub.sandbox.responses import json_error

__all__ = ["ALL_OPS", "MongoRest", "Op", "ResourceSpec", "resource_table"]

Op = Literal["list", "create", "update", "delete", "move", "copy"]
ALL_OPS: frozenset[str] = frozenset({"list", "create", "update", "delete", "move", "copy"})
#: the query parameters that are not key filters
_PAGING_PARAMS = frozenset({"skip", "limit", "q"})


@dataclass(frozen=True)
class ResourceSpec:
    """One resource: its path name, the operations it has, defaults for new records."""

    name: str
    ops: frozenset[str]
    defaults: Mapping[str, Any] = field(default_factory=dict)


def resource_table(
    ops_by_name: Mapping[str, str], defaults: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, ResourceSpec]:
    """Specs from ``{"tasks": "list create update delete move copy", ...}``."""
    table: dict[str, ResourceSpec] = {}
    for name, ops in ops_by_name.items():
        wanted = frozenset(ops.split())
        unknown = wanted - ALL_OPS
        if unknown:
            raise ValueError(f"{name}: unknown operations {sorted(unknown)}")
        table[name] = ResourceSpec(name, wanted, dict((defaults or {}).get(name, {})))
    return table


class _BadRequest(Exception):
    pass


def _changes(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Body fields to set, as given (dotted keys kept); protected fields dropped."""
    for key in fields:
        if key.startswith("$"):
            raise _BadRequest(f"operators are not accepted in a body: {key}")
    return {k: v for k, v in fields.items() if k not in PROTECTED_FIELDS}


def _apply(doc: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Set each change in ``doc``, as Mongo's ``$set`` does: a whole value replaces."""
    try:
        for key, value in changes.items():
            set_path(doc, key, copy.deepcopy(value))
    except ValueError as exc:
        raise _BadRequest(str(exc)) from None
    return doc


async def _object_body(request: Request) -> dict[str, Any]:
    try:
        return await read_object(request)
    except BadInput as exc:
        raise _BadRequest(exc.message) from None


def _ids(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(i, str) for i in value):
        raise _BadRequest("_ids must be a non-empty array of record ids")
    return value


def _count(params: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadRequest(f"{name} must be a non-negative integer") from None
    if value < 0:
        raise _BadRequest(f"{name} must be a non-negative integer")
    return value


class MongoRest:
    """Serves the resources in ``specs`` from ``store``, one namespace per call."""

    def __init__(
        self,
        store: MemoryStore,
        specs: Mapping[str, ResourceSpec],
        *,
        default_limit: int = 100,
        max_limit: int | None = None,
        sort: bool = True,
    ) -> None:
        self.store = store
        self.specs = dict(specs)
        self.default_limit = default_limit
        self.max_limit = max_limit
        #: whether ``sort`` orders the answer (else it is a key filter)
        self.sort = sort
        self._reserved = _PAGING_PARAMS | {"sort"} if sort else _PAGING_PARAMS

    async def dispatch(self, request: Request, namespace: str) -> Response:
        """Route ``request`` (path relative to the API root) and answer it."""
        parts = [p for p in request.url.path.split("/") if p]
        method = request.method.upper()
        if not parts or parts[0] not in self.specs:
            return json_error(404, "Not found")
        spec = self.specs[parts[0]]
        try:
            if len(parts) == 1:
                return await self._collection(request, method, spec, namespace)
            if len(parts) == 2:
                return await self._action(request, method, spec, parts[1], namespace)
        except _BadRequest as exc:
            return json_error(400, str(exc))
        return json_error(404, "Not found")

    def _refuse(self, spec: ResourceSpec, method: str) -> Response:
        hint = ""
        if method == "PUT" and "update" in spec.ops:
            hint = f" Update with PUT /{spec.name}/bulk and _ids."
        elif method == "DELETE" and "delete" in spec.ops:
            hint = f" Delete with DELETE /{spec.name}/bulk and _ids."
        return json_error(405, f"Method {method} is not allowed here.{hint}")

    async def _collection(
        self, request: Request, method: str, spec: ResourceSpec, ns: str
    ) -> Response:
        if method in ("GET", "HEAD") and "list" in spec.ops:
            return self._list(request, spec, ns)
        if method == "POST" and "create" in spec.ops:
            body = await _object_body(request)
            record = _apply(copy.deepcopy(dict(spec.defaults)), _changes(body))
            return JSONResponse(self.store.insert(ns, spec.name, record))
        return self._refuse(spec, method)

    def _list(self, request: Request, spec: ResourceSpec, ns: str) -> Response:
        params = request.query_params
        skip = _count(params, "skip", 0) or 0
        limit = _count(params, "limit", self.default_limit)
        if limit == 0:
            limit = None
        if self.max_limit is not None:
            limit = min(limit or self.max_limit, self.max_limit)
        filters: list[dict[str, Any]] = []
        try:
            keyed = [(k, v) for k, v in params.multi_items() if k not in self._reserved]
            if keyed:
                filters.append(key_filter_query(keyed))
            if params.get("q"):
                try:
                    filters.append(json.loads(params["q"]))
                except json.JSONDecodeError as exc:
                    raise _BadRequest(f"q is not valid JSON: {exc}") from None
            predicate = compile_query({"$and": filters}) if filters else None
            sort = parse_sort(params["sort"]) if self.sort and params.get("sort") else None
        except QueryError as exc:
            raise _BadRequest(f"invalid query: {exc}") from None
        equal = equality_hint({"$and": filters}) if filters else None
        found = self.store.find(
            ns, spec.name, predicate, skip=skip, limit=limit, sort=sort, equal=equal
        )
        return JSONResponse(found)

    async def _action(
        self, request: Request, method: str, spec: ResourceSpec, action: str, ns: str
    ) -> Response:
        if action == "bulk":
            if method == "PUT" and "update" in spec.ops:
                body = await _object_body(request)
                ids = _ids(body.pop("_ids", None))
                return JSONResponse(self._update(ns, spec, ids, _changes(body)))
            if method == "DELETE" and "delete" in spec.ops:
                body = await _object_body(request)
                ids = _ids(body.get("_ids", request.query_params.getlist("_ids") or None))
                return JSONResponse(self.store.delete_many(ns, spec.name, ids))
            return self._refuse(spec, method)
        if action in ("move", "copy") and action in spec.ops:
            if method != "POST":
                return self._refuse(spec, method)
            return await self._move_or_copy(request, spec, action, ns)
        if method in ("PUT", "PATCH", "DELETE"):
            return self._refuse(spec, method)
        return json_error(404, "Not found")

    async def _move_or_copy(
        self, request: Request, spec: ResourceSpec, action: str, ns: str
    ) -> Response:
        body = await _object_body(request)
        record_id = body.pop("_id", None)
        if not isinstance(record_id, str) or not record_id:
            raise _BadRequest("_id is required")
        source = self.store.get(ns, spec.name, record_id)
        if source is None:
            return json_error(404, f"No {spec.name} record with _id {record_id}")
        changes = _changes(body)
        if action == "move":
            moved = self._update(ns, spec, [record_id], changes)
            if not moved:  # removed meanwhile
                return json_error(404, f"No {spec.name} record with _id {record_id}")
            return JSONResponse(moved[0])
        fresh = _apply({k: v for k, v in source.items() if k not in PROTECTED_FIELDS}, changes)
        return JSONResponse(self.store.insert(ns, spec.name, fresh))

    def _update(
        self, ns: str, spec: ResourceSpec, ids: list[str], changes: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        try:
            return self.store.update_many(ns, spec.name, ids, changes)
        except ValueError as exc:
            raise _BadRequest(str(exc)) from None
