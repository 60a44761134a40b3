"""The Plutio operations workflows ``use``, from the resource table.

For a resource ``r`` (see :data:`~connectors.plutio.resources.RESOURCES`), the shared
record operations (:mod:`hub.connector.crud`) give:

- documented ``list``: ``r.list``, ``r.get`` (by ``_id``) and ``r.find`` (key filters,
  ``q``); ``list``/``find`` page with ``skip``/``limit``, stop at ``limit``, and fail past
  ``max_items`` rather than fill a run's context with an unbounded list;
- ``create``: ``r.create`` (the record's fields as arguments);
- ``update``/``delete``: ``r.update``/``r.delete`` through ``/bulk`` with ``_ids``.

Plutio's own, declared here:

- documented ``list``: ``r.poll``, a page of the records changed at or after a position,
  in Plutio's own order, for poll triggers (see :mod:`connectors.plutio.polling`);
- ``list`` and ``create``: ``r.upsert`` (find by ``match``, create from ``data`` if none,
  under a cluster lock);
- ``move``/``copy``: ``r.move``/``r.copy`` with ``_id`` and the fields to set.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from connectors.plutio.api import PAGE_SIZE, PlutioApi
from connectors.plutio.models import (
    DEFAULT_MAX_ITEMS,
    FindArgs,
    IdArgs,
    IdsArgs,
    ListArgs,
    PollArgs,
    RecordActionArgs,
    UpsertArgs,
    update_args,
    upsert_args,
)
from connectors.plutio.polling import poll_page
from connectors.plutio.records import PlutioRecords
from connectors.plutio.resources import RESOURCES, Resource
from hub.connector import Operation, crud, operation_table

__all__ = ["CRUD", "OPERATIONS", "operations_for", "record_resource"]

PlutioOperation = Operation[PlutioApi, Any]

CRUD: crud.Crud[PlutioApi] = crud.Crud(
    "plutio",
    PlutioRecords,
    id_field="_id",
    summaries={
        "list": "Every {one}, paged.",
        "get": "The {one} with _id.",
        "find": "The {many} matching query or q.",
        "create": "Create a {one}.",
        "update": "Set fields on the {many} with _ids (PUT /{path}/bulk).",
        "delete": "Delete the {many} with _ids (DELETE /{path}/bulk).",
    },
    order=("list", "get", "find", "poll", "create", "update", "delete", "upsert", "move", "copy"),
    page_size=PAGE_SIZE,
)

#: what the reference says of deleting people
_PEOPLE_DELETE = (
    "Delete the {many} with _ids (DELETE /{path}/bulk). The reference calls it delete/archive."
)


def record_resource(r: Resource) -> crud.Resource:
    """``r`` as the shared record operations take it: the actions its endpoints give."""
    actions: dict[crud.Action, type[BaseModel]] = {}
    if "list" in r.endpoints:
        actions.update({"list": ListArgs, "get": IdArgs, "find": FindArgs})
    if "create" in r.endpoints:
        actions["create"] = r.fields
    if "update" in r.endpoints:
        actions["update"] = update_args(r.fields)
    if "delete" in r.endpoints:
        actions["delete"] = IdsArgs
    return crud.Resource(
        r.name,
        path=r.path,
        one=r.singular,
        actions=actions,
        max_items=DEFAULT_MAX_ITEMS,
        summaries={"delete": _PEOPLE_DELETE} if r.name == "people" else {},
    )


def _poll(r: Resource) -> PlutioOperation:
    def call(api: PlutioApi, args: PollArgs) -> Any:
        return poll_page(api, r, args)

    summary = f"A page of the {r.plural} changed since a cursor (for poll triggers)."
    return Operation(f"{r.name}.poll", PollArgs, call, summary)


def _upsert(r: Resource) -> PlutioOperation:
    def call(api: PlutioApi, args: UpsertArgs[Any]) -> Any:
        body = crud.given_fields(args.data)
        return api.upsert(r.path, args.match, body, update=args.on_match == "update")

    return Operation(
        f"{r.name}.upsert",
        upsert_args(r.fields),
        call,
        f"Find a {r.singular} by match, or create one from data. Answers {{created, record}}.",
        writes=True,
        calls=len(crud.UPSERT_CALLS),
    )


def _act(r: Resource, action: str) -> PlutioOperation:
    def call(api: PlutioApi, args: RecordActionArgs) -> Any:
        return api.act(r.path, action, args.id, args.data)

    what = "Move" if action == "move" else "Copy"
    return Operation(
        f"{r.name}.{action}",
        RecordActionArgs,
        call,
        f"{what} the {r.singular} with _id, setting data's fields (POST /{r.path}/{action}).",
        writes=True,
    )


def operations_for(r: Resource) -> list[PlutioOperation]:
    """The operations resource ``r``'s documented endpoints give."""
    own: list[PlutioOperation] = []
    if "list" in r.endpoints:
        own.append(_poll(r))
    if {"list", "create"} <= r.endpoints:
        own.append(_upsert(r))
    own += [_act(r, action) for action in ("move", "copy") if action in r.endpoints]
    return CRUD.operations(record_resource(r), *own)


OPERATIONS = operation_table(*(op for r in RESOURCES.values() for op in operations_for(r)))
