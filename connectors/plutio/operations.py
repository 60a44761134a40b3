"""The Plutio operations workflows ``use``, generated from the resource table.

For a resource ``r`` (see :data:`~connectors.plutio.resources.RESOURCES`):

- documented ``list``: ``r.list``, ``r.get`` (by ``_id``) and ``r.find`` (key filters,
  ``q``); ``list``/``find`` page with ``skip``/``limit``, stop at ``limit``, and fail past
  ``max_items`` rather than fill a run's context with an unbounded list;
- ``create``: ``r.create`` (the record's fields as arguments), and with ``list``,
  ``r.upsert`` (find by ``match``, create from ``data`` if none, under a cluster lock);
- ``update``/``delete``: ``r.update``/``r.delete`` through ``/bulk`` with ``_ids``;
- ``move``/``copy``: ``r.move``/``r.copy`` with ``_id`` and the fields to set;
- documented ``list``: ``r.poll``, a page of records changed after a position, oldest
  first, for poll triggers (see :mod:`connectors.plutio.polling`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from connectors.plutio.api import PlutioApi
from connectors.plutio.models import (
    FindArgs,
    IdArgs,
    IdsArgs,
    ListArgs,
    PollArgs,
    RecordActionArgs,
    UpdateArgs,
    UpsertArgs,
    update_args,
    upsert_args,
)
from connectors.plutio.polling import poll_page
from connectors.plutio.resources import RESOURCES, Resource
from hub.connector.declaration import AnyOperation, Operation
from hub.core.errors import FatalError, NotFound

__all__ = ["OPERATIONS", "operations_for"]

Call = Callable[[PlutioApi, Any], Any]


def _collect(api: PlutioApi, r: Resource, args: ListArgs, query: Any = None, q: Any = None) -> Any:
    if args.limit is not None:
        return api.find(r.path, query, q, limit=args.limit)
    records = api.find(r.path, query, q, limit=args.max_items + 1)
    if len(records) > args.max_items:
        raise FatalError(
            f"plutio.{r.name}: more than {args.max_items} {r.plural} match; set `limit` to "
            "take the first ones, narrow the query, or raise `max_items`"
        )
    return records


def _body(record: BaseModel) -> dict[str, Any]:
    """The fields the operator gave (nested defaults filled in); unset ones left out.

    So an upsert that updates a found record never resets fields ``data`` did not name.
    """
    given = record.model_fields_set | set(record.model_extra or {})
    return {k: v for k, v in record.model_dump(exclude_none=True).items() if k in given}


def _list(r: Resource) -> Call:
    def call(api: PlutioApi, args: ListArgs) -> Any:
        return _collect(api, r, args)

    return call


def _find(r: Resource) -> Call:
    def call(api: PlutioApi, args: FindArgs) -> Any:
        return _collect(api, r, args, args.query, args.q)

    return call


def _get(r: Resource) -> Call:
    def call(api: PlutioApi, args: IdArgs) -> Any:
        record = api.get(r.path, args.id)
        if record is None:
            raise NotFound(f"Plutio has no {r.singular} with _id {args.id} (in /{r.path})")
        return record

    return call


def _poll(r: Resource) -> Call:
    def call(api: PlutioApi, args: PollArgs) -> Any:
        return poll_page(api, r, args)

    return call


def _create(r: Resource) -> Call:
    def call(api: PlutioApi, args: BaseModel) -> Any:
        return api.create(r.path, _body(args))

    return call


def _update(r: Resource) -> Call:
    def call(api: PlutioApi, args: UpdateArgs[Any]) -> Any:
        updated = api.update(r.path, args.ids, args.data.model_dump(exclude_unset=True))
        if isinstance(updated, list):
            seen = {rec.get("_id") for rec in updated if isinstance(rec, dict)}
            missing = [i for i in args.ids if i not in seen]
            if missing:
                raise NotFound(
                    f"Plutio has no {r.singular} with _id {', '.join(missing)} (in /{r.path}); "
                    f"{len(updated)} of {len(args.ids)} updated"
                )
        return updated

    return call


def _delete(r: Resource) -> Call:
    def call(api: PlutioApi, args: IdsArgs) -> Any:
        return api.delete(r.path, args.ids)

    return call


def _upsert(r: Resource) -> Call:
    def call(api: PlutioApi, args: UpsertArgs[Any]) -> Any:
        return api.upsert(r.path, args.match, _body(args.data), update=args.on_match == "update")

    return call


def _act(r: Resource, action: str) -> Call:
    def call(api: PlutioApi, args: RecordActionArgs) -> Any:
        return api.act(r.path, action, args.id, args.data)

    return call


def operations_for(r: Resource) -> list[AnyOperation]:
    """The operations resource ``r``'s documented endpoints give."""
    ops: list[AnyOperation] = []
    has = r.endpoints
    one, many = r.singular, r.plural
    if "list" in has:
        ops.append(Operation(f"{r.name}.list", ListArgs, _list(r), f"Every {one}, paged."))
        ops.append(Operation(f"{r.name}.get", IdArgs, _get(r), f"The {one} with _id."))
        ops.append(
            Operation(f"{r.name}.find", FindArgs, _find(r), f"The {many} matching query or q.")
        )
        ops.append(
            Operation(
                f"{r.name}.poll",
                PollArgs,
                _poll(r),
                f"A page of {many} changed after a cursor, oldest first (for poll triggers).",
            )
        )
    if "create" in has:
        ops.append(
            Operation(f"{r.name}.create", r.fields, _create(r), f"Create a {one}.", writes=True)
        )
    if "update" in has:
        ops.append(
            Operation(
                f"{r.name}.update",
                update_args(r.fields),
                _update(r),
                f"Set fields on the {many} with _ids (PUT /{r.path}/bulk).",
                writes=True,
            )
        )
    if "delete" in has:
        note = " The reference calls it delete/archive." if r.name == "people" else ""
        ops.append(
            Operation(
                f"{r.name}.delete",
                IdsArgs,
                _delete(r),
                f"Delete the {many} with _ids (DELETE /{r.path}/bulk).{note}",
                writes=True,
            )
        )
    if {"list", "create"} <= has:
        ops.append(
            Operation(
                f"{r.name}.upsert",
                upsert_args(r.fields),
                _upsert(r),
                f"Find a {one} by match, or create one from data. Answers {{created, record}}.",
                writes=True,
            )
        )
    for action in ("move", "copy"):
        if action in has:
            what = "Move" if action == "move" else "Copy"
            ops.append(
                Operation(
                    f"{r.name}.{action}",
                    RecordActionArgs,
                    _act(r, action),
                    f"{what} the {one} with _id, setting data's fields (POST /{r.path}/{action}).",
                    writes=True,
                )
            )
    return ops


OPERATIONS: dict[str, AnyOperation] = {
    op.name: op for r in RESOURCES.values() for op in operations_for(r)
}
