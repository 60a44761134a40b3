"""Finding a Plane work item by its ``external_source``/``external_id``, whatever the shape.

The hub asks ``GET .../work-items/?external_source=...&external_id=...&per_page=100``.
Plane's reference documents neither filter: it says list answers are cursor pages
(``results``, ``next_cursor``, ``next_page_results``). Plane's own API server (the work
item endpoint of makeplane/plane's ``apiserver``) has, over time, answered both ways:
versions that read the two parameters answer the one work item (or 404), others list
the project's work items as pages and ignore them. So every documented shape is read:

- a page: the work item in ``results`` with both ids; when the page holds other work
  items (Plane did not filter) the later pages are read too, and a warning says so;
- a single work item: it, when its ids are the ones asked for;
- a bare array (the reference's own example answer for work items): as a page's results;
- 404: none.

Anything else is a :class:`FatalError` naming Plane, the request and what was expected,
never a ``KeyError`` in a step.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hub.core import FatalError
from hub.http import ApiClient, CursorPages

__all__ = ["find_external"]

log = logging.getLogger("hub.connector")

_EXPECTED = "expected a work item, a page of work items (results, next_cursor) or 404"


def _is_item(answer: Any) -> bool:
    return isinstance(answer, Mapping) and "id" in answer and "results" not in answer


def _ids(item: Mapping[str, Any]) -> tuple[str, str]:
    return str(item.get("external_source")), str(item.get("external_id"))


def _items(answer: Any, where: str) -> list[Mapping[str, Any]]:
    """The work items of a page or an array; a :class:`FatalError` for any other shape."""
    items = answer.get("results") if isinstance(answer, Mapping) else answer
    if not isinstance(items, list) or not all(_is_item(i) for i in items):
        raise FatalError(f"{where} with {_describe(answer)}; {_EXPECTED}")
    return items


def _describe(answer: Any) -> str:
    if isinstance(answer, Mapping):
        keys = ", ".join(sorted(str(k) for k in answer)[:8]) or "no fields"
        return f"an object of {keys}"
    if isinstance(answer, list):
        return "an array of something other than work items"
    return "nothing" if answer is None else f"a {type(answer).__name__}"


def find_external(
    client: ApiClient, path: str, source: str, external_id: str
) -> dict[str, Any] | None:
    """The work item at ``path`` (a project's ``work-items/``) with these external ids."""
    wanted = (source, external_id)
    where = (
        f"{client.service} answered GET /{path}?external_source={source}&external_id={external_id}"
    )
    pages = CursorPages(100)
    params: dict[str, Any] | None = {
        "external_source": source,
        "external_id": external_id,
        **pages.first(),
    }
    found: dict[str, Any] | None = None
    others = 0
    while params is not None and found is None:
        try:
            answer = client.request("GET", path, params=params)
        except FatalError as exc:
            if exc.status == 404:
                return None
            raise
        if _is_item(answer):
            if _ids(answer) != wanted:
                raise FatalError(
                    f"{where} with work item {answer['id']} of external ids {_ids(answer)}; "
                    f"expected the one with {wanted}, a page or 404"
                )
            return dict(answer)
        for item in _items(answer, where):
            if _ids(item) == wanted:
                found = dict(item)
                break
            others += 1
        params = pages.next(params, answer) if isinstance(answer, Mapping) else None
    if others:
        log.warning(
            "%s with %d work item(s) of other external ids: it does not filter by them, "
            "so a lookup reads the project's pages until it finds the one",
            where,
            others,
        )
    return found
