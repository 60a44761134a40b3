"""One generator for the record operations: list, get, find, create, update, delete.

A connector describes each resource as data, a :class:`Resource`: its name as workflows
write it, its API path, the argument model of each action it has, and its paging policy.
A :class:`Crud` holds what is the same for all of a connector's resources: its name, how
its runtime API object gives a :class:`RecordApi` (the six record calls in its upstream's
terms), the key records carry their id under, and its summaries. :meth:`Crud.operations`
then makes ``<resource>.<action>`` for every action the resource has, each checking its
arguments with the model given and following the same rules:

- **Arguments** are read by name. A path placeholder (``projects/{project_id}/states``)
  takes the argument of that name; ``id`` names one record and ``ids`` several; ``limit``
  and ``max_items`` page; ``data`` holds an update's changes. The other arguments are the
  query (list, get), the filters (find) or the body (create). A model that lacks what
  its action needs is refused when the connector is declared, not when a step runs.
- **list** and **find** answer a list: the first ``limit`` records when given; otherwise
  every one, and with a ``max_items`` policy (the resource's, or the argument), they fail
  past it rather than fill a run's context with an unbounded list. With a ``limit`` and
  the connector's ``page_size``, they declare the pages ``limit`` needs as their calls,
  so a step takes those quota slots together (without one, a page at a time: the many
  pages ``max_items`` allows are rarely all read).
- **get** answers the record, or raises :class:`~hub.core.errors.NotFound`.
- **create** sends the fields given, nulls left out; **update** sends those ``data`` gives,
  nulls included (they clear a field). With ``send="non_null"`` both send every field
  that is not null, defaults included. An upstream that answers an update with a list
  must list every id, or the missing ones are :class:`~hub.core.errors.NotFound`.
- **delete** answers what the upstream answered, or ``{"deleted": true, "id"}`` (``ids``)
  when it answered nothing.

Operations a connector has beside these (an upsert, a poll) are passed to
:meth:`Crud.operations` with the generated ones and come out in the connector's order.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol

from pydantic import BaseModel

from hub.connector.declaration import ApiT, Operation
from hub.core import FatalError, NotFound

__all__ = [
    "ACTIONS",
    "SUMMARIES",
    "UPSERT_CALLS",
    "Action",
    "Crud",
    "RecordApi",
    "Resource",
    "Send",
    "given_fields",
    "matching",
    "non_null_fields",
    "per_record",
]

Action = Literal["list", "get", "find", "create", "update", "delete"]
#: the actions the generator makes, in the order it lists them
ACTIONS: tuple[Action, ...] = ("list", "get", "find", "create", "update", "delete")
#: the calls an upsert makes at most: a find of one record, then a create or an update
#: (declare ``calls=len(UPSERT_CALLS)`` on it, so its quota slots are taken together)
UPSERT_CALLS: tuple[Action, ...] = ("find", "create")
#: what a create or an update sends: the fields given, or every field that is not null
Send = Literal["given", "non_null"]

#: summaries of the generated operations; ``{one}``, ``{many}``, ``{path}`` and ``{id}``
#: (the records' id key) are filled in
SUMMARIES: Mapping[Action, str] = {
    "list": "List {many}, page by page.",
    "get": "Read one {one}.",
    "find": "The {many} matching the filters.",
    "create": "Create a {one}.",
    "update": "Change fields of a {one}.",
    "delete": "Delete a {one}.",
}

_WRITES = frozenset({"create", "update", "delete"})
#: argument names the rules give a meaning; the others are the query, filters or body
_ID, _IDS, _LIMIT, _MAX_ITEMS, _DATA = "id", "ids", "limit", "max_items", "data"
_READ_CONTROLS = frozenset({_ID, _IDS, _LIMIT, _MAX_ITEMS})


class RecordApi(Protocol):
    """An upstream's record calls, on paths relative to its API (``projects/7/states``).

    ``list`` and ``find`` yield records, at most ``limit`` of them; ``get`` answers
    ``None`` when the upstream answers "nothing" rather than an error; ``update`` and
    ``delete`` take the ids of the records they change (one, unless the arguments have
    ``ids``) and answer what the upstream answered.
    """

    @property
    def service(self) -> str:
        """The upstream's name, as error messages give it."""
        ...

    def list(self, path: str, query: Mapping[str, Any], *, limit: int | None) -> Iterable[Any]: ...

    def find(
        self, path: str, filters: Mapping[str, Any], *, limit: int | None
    ) -> Iterable[Any]: ...

    def get(self, path: str, record_id: str, query: Mapping[str, Any]) -> Any | None: ...

    def create(self, path: str, body: Mapping[str, Any]) -> Any: ...

    def update(self, path: str, record_ids: Sequence[str], changes: Mapping[str, Any]) -> Any: ...

    def delete(self, path: str, record_ids: Sequence[str]) -> Any: ...


@dataclass(frozen=True)
class Resource:
    """One resource with record actions, described as data.

    ``actions`` maps each action the resource has to its argument model. ``path`` is the
    API path of its records, placeholders filled from the arguments. ``max_items`` bounds
    what a list or find without ``limit`` answers (an argument ``max_items`` overrides
    it). ``summaries`` replace the connector's for this resource.
    """

    name: str
    path: str
    one: str
    actions: Mapping[Action, type[BaseModel]]
    many: str = ""
    max_items: int | None = None
    summaries: Mapping[Action, str] = field(default_factory=dict)

    @property
    def plural(self) -> str:
        """How several records are called: ``many``, or the name with spaces."""
        return self.many or self.name.replace("_", " ")


def given_fields(model: BaseModel, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The fields the operator gave (nested defaults filled in), null ones left out.

    So a record written from them never resets a field the operator did not name.
    """
    given = (model.model_fields_set | set(model.model_extra or {})) - set(exclude)
    return {k: v for k, v in model.model_dump(exclude_none=True).items() if k in given}


def non_null_fields(model: BaseModel, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Every field that is not null, defaults included."""
    return model.model_dump(exclude_none=True, exclude=set(exclude))


def matching(
    records: Iterable[Any], filters: Mapping[str, Any], *, limit: int | None = None
) -> Iterator[Any]:
    """The records whose fields equal every filter, at most ``limit``: a find for an
    upstream that cannot filter."""
    found = 0
    for record in records:
        if limit is not None and found >= limit:
            return
        if isinstance(record, Mapping) and all(record.get(k) == v for k, v in filters.items()):
            found += 1
            yield record


def per_record(record_ids: Sequence[str], call: Callable[[str], Any]) -> Any:
    """``call`` for each id, for an upstream that changes one record a call: the one
    answer, or the list of them."""
    answers = [call(record_id) for record_id in record_ids]
    return answers[0] if len(answers) == 1 else answers


def _placeholders(path: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(path) if name)


@dataclass(frozen=True)
class _Action:
    """One generated operation's rules: its resource, its arguments and how they split."""

    connector: str
    resource: Resource
    action: Action
    model: type[BaseModel]
    id_field: str
    send: Send

    @property
    def where(self) -> str:
        return f"{self.connector}.{self.resource.name}.{self.action}"

    def check(self) -> None:
        """``ValueError`` unless the model has every argument the action needs."""
        fields = set(self.model.model_fields)
        missing = sorted(_placeholders(self.resource.path) - fields)
        if missing:
            raise ValueError(f"{self.where}: its path needs arguments {missing}")
        needs_id = self.action in {"get", "update", "delete"}
        if needs_id and _ID not in fields and (self.action == "get" or _IDS not in fields):
            raise ValueError(f"{self.where}: its arguments need `id`")
        if self.action == "update" and _DATA not in fields:
            raise ValueError(f"{self.where}: its arguments need `data`")

    def path(self, values: Mapping[str, Any]) -> str:
        return self.resource.path.format_map(
            {name: values[name] for name in _placeholders(self.resource.path)}
        )

    def query(self, args: BaseModel) -> dict[str, Any]:
        """The arguments that are neither path, ids nor paging; nulls left out."""
        skip = _placeholders(self.resource.path) | _READ_CONTROLS
        keep = set(self.model.model_fields) - skip
        return args.model_dump(include=keep, exclude_none=True)

    def body(self, args: BaseModel) -> dict[str, Any]:
        exclude = _placeholders(self.resource.path)
        if self.send == "non_null":
            return non_null_fields(args, exclude)
        return given_fields(args, exclude)

    def changes(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, BaseModel):
            return dict(data)
        if self.send == "non_null":
            return data.model_dump(exclude_none=True)
        return data.model_dump(exclude_unset=True)

    def calls(self, args: BaseModel, page_size: int | None) -> int:
        """The upstream calls a run makes at most: the pages of a list or find with a
        ``limit`` (given ``page_size``), else one."""
        limit = getattr(args, _LIMIT, None)
        if self.action not in {"list", "find"} or not page_size or not isinstance(limit, int):
            return 1
        return max(1, -(-limit // page_size))

    def run(self, records: RecordApi, args: BaseModel) -> Any:
        values = dict(args)
        path = self.path(values)
        if self.action in {"list", "find"}:
            query = self.query(args)
            read = records.list if self.action == "list" else records.find
            return self._collect(values, lambda limit: read(path, query, limit=limit))
        if self.action == "get":
            return self._get(records, path, values[_ID], self.query(args))
        if self.action == "create":
            return records.create(path, self.body(args))
        ids = [values[_ID]] if _ID in values else list(values[_IDS])
        if self.action == "update":
            return self._update(records, path, ids, self.changes(values[_DATA]))
        answer = records.delete(path, ids)
        if answer is not None:
            return answer
        return {"deleted": True, "id": ids[0]} if _ID in values else {"deleted": True, "ids": ids}

    def _collect(
        self, values: Mapping[str, Any], read: Callable[[int | None], Iterable[Any]]
    ) -> list[Any]:
        limit = values.get(_LIMIT)
        if limit is not None:
            return list(read(limit))
        ceiling = values.get(_MAX_ITEMS, self.resource.max_items)
        if ceiling is None:
            return list(read(None))
        records = list(read(ceiling + 1))
        if len(records) > ceiling:
            raise FatalError(
                f"{self.connector}.{self.resource.name}: more than {ceiling} "
                f"{self.resource.plural} match; {self._paging_hint()}"
            )
        return records

    def _paging_hint(self) -> str:
        if _MAX_ITEMS in self.model.model_fields:
            return "set `limit` to take the first ones, narrow the query, or raise `max_items`"
        return "set `limit` to take the first ones or narrow the query"

    def _get(self, records: RecordApi, path: str, record_id: str, query: dict[str, Any]) -> Any:
        record = records.get(path, record_id, query)
        if record is None:
            raise NotFound(
                f"{records.service} has no {self.resource.one} with {self.id_field} "
                f"{record_id} (in /{path})"
            )
        return record

    def _update(
        self, records: RecordApi, path: str, ids: list[str], changes: dict[str, Any]
    ) -> Any:
        updated = records.update(path, ids, changes)
        if isinstance(updated, list):
            seen = {rec.get(self.id_field) for rec in updated if isinstance(rec, Mapping)}
            missing = [i for i in ids if i not in seen]
            if missing:
                raise NotFound(
                    f"{records.service} has no {self.resource.one} with {self.id_field} "
                    f"{', '.join(missing)} (in /{path}); {len(updated)} of {len(ids)} updated"
                )
        return updated


@dataclass(frozen=True)
class Crud(Generic[ApiT]):
    """A connector's record operations: what is the same for all of its resources.

    ``records`` turns the connector's runtime API object into its :class:`RecordApi`;
    ``id_field`` is the key records carry their id under; ``send`` says what creates and
    updates send (:data:`Send`); ``summaries`` replace the hub's :data:`SUMMARIES`;
    ``order`` is the order of a resource's actions, its own (an ``upsert``) included;
    unlisted ones come last. ``page_size`` is the records per page of its list calls
    (a list or find with ``limit`` then declares its pages as its calls).
    """

    connector: str
    records: Callable[[ApiT], RecordApi]
    id_field: str = "id"
    send: Send = "given"
    summaries: Mapping[Action, str] = field(default_factory=dict)
    order: Sequence[str] = ACTIONS
    page_size: int | None = None

    def summary(self, resource: Resource, action: Action) -> str:
        """The summary of ``resource``'s ``action``."""
        template = resource.summaries.get(action) or self.summaries.get(action)
        return (template or SUMMARIES[action]).format(
            one=resource.one, many=resource.plural, path=resource.path, id=self.id_field
        )

    def operation(self, resource: Resource, action: Action) -> Operation[ApiT, BaseModel]:
        """The operation ``<resource>.<action>``; ``ValueError`` if its arguments do not fit."""
        if action not in ACTIONS:
            raise ValueError(f"{self.connector}.{resource.name}: unknown action '{action}'")
        model = resource.actions[action]
        rules = _Action(self.connector, resource, action, model, self.id_field, self.send)
        rules.check()
        records, page_size = self.records, self.page_size

        def call(api: ApiT, args: BaseModel) -> Any:
            return rules.run(records(api), args)

        def calls(args: BaseModel) -> int:
            return rules.calls(args, page_size)

        return Operation(
            f"{resource.name}.{action}",
            rules.model,
            call,
            self.summary(resource, action),
            writes=action in _WRITES,
            calls=calls,
        )

    def operations(
        self, resource: Resource, *own: Operation[ApiT, Any]
    ) -> list[Operation[ApiT, Any]]:
        """The operations of every action ``resource`` has, with its ``own`` ones, in order."""
        made: list[Operation[ApiT, Any]] = [self.operation(resource, a) for a in resource.actions]
        names = {op.name for op in made}
        for op in own:
            if op.name.rpartition(".")[0] != resource.name or op.name in names:
                raise ValueError(
                    f"{self.connector}: '{op.name}' is not a new action of '{resource.name}'"
                )
            names.add(op.name)
        rank = {action: n for n, action in enumerate(self.order)}
        return sorted([*made, *own], key=lambda op: rank.get(op.name.rpartition(".")[2], len(rank)))
