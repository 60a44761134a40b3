"""Polling a Plutio resource: pages of a window of records changed at or after a value.

Plutio's reference documents paging with ``skip``/``limit`` and filters (key-value
pairs, or ``q``, a MongoDB query), and no sorting: an API that reads unknown parameters
as key filters would read a ``sort`` parameter as a filter on a field named ``sort`` and
answer nothing. So a page is asked for with ``q`` (the workflow's filters and "cursor
field at or after the window's start"), ``skip`` and ``limit`` only, and the records come
in whatever order Plutio keeps them; the poller (:mod:`hub.polling.poller`) sorts them,
and moves its cursor only once the window is read to its end.

Paging by ``skip`` over a set that changes meanwhile can shift: a record that leaves the
window (removed, or no longer matching the workflow's filters) moves every later record
one place up, and the next page would start one record too late. So every page after
the first starts one record early, at the last record read (its *anchor*): found first,
nothing moved; found further on, records were added before it and the page goes on from
there; not found at all, records moved up, and the window is read again from its start
(what was handed on is skipped), at most :data:`MAX_RESTARTS` times. A page shorter than
``limit`` ends the window.
"""

from __future__ import annotations

from typing import Any

from connectors.plutio.api import SERVICE, PlutioApi
from connectors.plutio.models import PollArgs, PollPage
from connectors.plutio.resources import Resource
from hub.core import FatalError

__all__ = ["ID_FIELD", "MAX_RESTARTS", "poll_page", "window_condition"]

ID_FIELD = "_id"
#: times a window is read again from its start before the poll gives up
MAX_RESTARTS = 10


def window_condition(field: str, args: PollArgs) -> dict[str, Any] | None:
    """The Mongo query of the window: the workflow's ``q`` and "``field`` at or after the
    window's start" (``None``: every record)."""
    conditions = [c for c in (args.q,) if c]
    if args.after is not None:
        conditions.append({field: {"$gte": args.after.value}})
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def _ids(records: list[Any], field: str, where: str) -> list[str]:
    ids = []
    for record in records:
        if not isinstance(record, dict) or ID_FIELD not in record or field not in record:
            raise FatalError(
                f"{where}: {SERVICE} answered a record without '{field}' or '{ID_FIELD}' "
                f"(expected records of the resource, each with both)"
            )
        ids.append(str(record[ID_FIELD]))
    return ids


def _next(page: PollPage, skip: int, ids: list[str], limit: int, where: str) -> PollPage | None:
    """The continuation after a page read from ``skip``; ``None``: the window ended."""
    if page.anchor is not None and page.anchor not in ids:
        if page.restarts >= MAX_RESTARTS:
            raise FatalError(
                f"{where}: the records moved under the pages {MAX_RESTARTS} times "
                f"(GET ?skip={skip} did not start with the record read last, {page.anchor}); "
                f"{SERVICE} may not keep one order between requests"
            )
        return PollPage(skip=0, anchor=None, restarts=page.restarts + 1)
    if len(ids) < limit:
        return None
    return PollPage(skip=skip + len(ids), anchor=ids[-1], restarts=page.restarts)


def poll_page(api: PlutioApi, r: Resource, args: PollArgs) -> dict[str, Any]:
    """The next page of ``r``'s window: ``{records, entity, id_field, field, next}``."""
    where = f"plutio.{r.name}.poll"
    page = args.page or PollPage()
    # from the second page on, start at the last record read (the anchor)
    skip = max(0, page.skip - 1) if page.anchor is not None else page.skip
    q = window_condition(args.field, args)
    records = api.page(r.path, args.query, q, skip=skip, limit=args.limit)
    following = _next(page, skip, _ids(records, args.field, where), args.limit, where)
    return {
        "records": records,
        "entity": r.singular.replace(" ", "-"),
        "id_field": ID_FIELD,
        "field": args.field,
        "next": None if following is None else following.model_dump(),
    }
