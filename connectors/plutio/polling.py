"""Polling a Plutio resource: pages of records changed after a position, oldest first.

A page is asked for with ``q`` (the workflow's filters and the position), ``sort`` on
(cursor field, ``_id``), ``skip=0`` and ``limit``: the next page starts after the last
record of this one (keyset paging), so records edited while a poll pages through them
cannot shift the later pages and make it miss one, as growing ``skip`` offsets would.
The answer is checked: records out of that order (an upstream that ignored ``sort``)
fail the poll rather than move its cursor past records it never saw.
"""

from __future__ import annotations

from typing import Any

from connectors.plutio.api import PlutioApi
from connectors.plutio.models import PollArgs, PollPosition
from connectors.plutio.resources import Resource
from hub.core import FatalError

__all__ = ["ID_FIELD", "after_condition", "poll_page"]

ID_FIELD = "_id"


def after_condition(field: str, after: PollPosition) -> dict[str, Any]:
    """The Mongo condition "(field, _id) comes after ``after``" (an empty id: field >= value)."""
    if not after.id:
        return {field: {"$gte": after.value}}
    return {
        "$or": [
            {field: {"$gt": after.value}},
            {field: after.value, ID_FIELD: {"$gt": after.id}},
        ]
    }


def _position(record: Any, field: str, where: str) -> tuple[Any, str]:
    if not isinstance(record, dict) or ID_FIELD not in record or field not in record:
        raise FatalError(f"{where}: Plutio answered a record without '{field}' or '{ID_FIELD}'")
    return record[field], str(record[ID_FIELD])


def _follows(here: tuple[Any, str], previous: tuple[Any, str], inclusive: bool) -> bool:
    try:
        if inclusive:
            return bool(here[0] >= previous[0])
        return here > previous
    except TypeError:  # values of different types: no order to trust
        return False


def _check_order(records: list[Any], field: str, after: PollPosition | None, where: str) -> None:
    previous = None if after is None else (after.value, after.id)
    inclusive = after is not None and not after.id
    for record in records:
        here = _position(record, field, where)
        if previous is not None and not _follows(here, previous, inclusive):
            raise FatalError(
                f"{where}: Plutio answered records out of ({field}, _id) order "
                f"({here!r} after {previous!r}); polling needs its sort parameter honoured"
            )
        previous, inclusive = here, False


def poll_page(api: PlutioApi, r: Resource, args: PollArgs) -> dict[str, Any]:
    """The next page of ``r`` after ``args.after``: ``{records, entity, id_field, field}``."""
    conditions = [c for c in (args.q,) if c]
    if args.after is not None:
        conditions.append(after_condition(args.field, args.after))
    q = conditions[0] if len(conditions) == 1 else {"$and": conditions} if conditions else None
    where = f"plutio.{r.name}.poll"
    records = api.page(r.path, args.query, q, sort={args.field: 1, ID_FIELD: 1}, limit=args.limit)
    _check_order(records, args.field, args.after, where)
    return {
        "records": records,
        "entity": r.singular.replace(" ", "-"),
        "id_field": ID_FIELD,
        "field": args.field,
    }
