"""Paginators: small objects with no I/O, registered by name.

A paginator says which parameters fetch the first page and, given a page, which fetch
the next (or that there is none). :func:`iterate_pages` drives one with a fetch
function, so every connector pages the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "PAGINATORS",
    "CursorPages",
    "PageNumber",
    "Paginator",
    "SkipLimit",
    "iterate_items",
    "iterate_pages",
]


class Paginator(Protocol):
    def first(self) -> dict[str, Any]: ...
    def next(self, params: Mapping[str, Any], page: Any) -> dict[str, Any] | None: ...
    def items(self, page: Any) -> list[Any]: ...


@dataclass(frozen=True)
class SkipLimit:
    """``skip``/``limit`` paging over JSON arrays."""

    page_size: int = 100

    def first(self) -> dict[str, Any]:
        return {"skip": 0, "limit": self.page_size}

    def next(self, params: Mapping[str, Any], page: Any) -> dict[str, Any] | None:
        items = self.items(page)
        if len(items) < int(params["limit"]):
            return None
        return {**params, "skip": int(params["skip"]) + len(items)}

    def items(self, page: Any) -> list[Any]:
        return list(page or [])


def _field_items(page: Any, field: str | None) -> list[Any]:
    """The items of a page that is a JSON array, or an object holding them in ``field``."""
    if isinstance(page, Mapping):
        return list(page.get(field) or []) if field else []
    return list(page or [])


@dataclass(frozen=True)
class CursorPages:
    """Cursor paging where each page names the next one.

    Asks ``per_page`` items; a page ``{"results": [...], "next_cursor": "100:1:0",
    "next_page_results": true}`` is followed by the same request with ``cursor`` set.
    Paging stops when ``next_page_results`` is false, the cursor is missing, or the
    upstream hands back the cursor just sent (which would loop for ever). ``next_field``
    may be a dotted path for a cursor nested in the page (``paging.next.after``).
    """

    page_size: int = 100
    size_param: str = "per_page"
    cursor_param: str = "cursor"
    items_field: str = "results"
    next_field: str = "next_cursor"
    more_field: str | None = "next_page_results"

    def first(self) -> dict[str, Any]:
        return {self.size_param: self.page_size}

    def next(self, params: Mapping[str, Any], page: Any) -> dict[str, Any] | None:
        if not isinstance(page, Mapping):
            return None
        if self.more_field is not None and not page.get(self.more_field):
            return None
        cursor: Any = page
        for part in self.next_field.split("."):
            cursor = cursor.get(part) if isinstance(cursor, Mapping) else None
        if not cursor or cursor == params.get(self.cursor_param):
            return None
        return {**params, self.cursor_param: cursor}

    def items(self, page: Any) -> list[Any]:
        return _field_items(page, self.items_field)


@dataclass(frozen=True)
class PageNumber:
    """Numbered pages of a fixed size (default: ``pageNum``/``recordsPerPage``).

    A page is an array, or an object with the items in ``items_field`` and, when the
    upstream says it, the total in ``total_field``. Paging stops at a short page or once
    the total is reached. The parameter names fit a query string or a JSON body alike.
    """

    page_size: int = 100
    page_param: str = "pageNum"
    size_param: str = "recordsPerPage"
    first_page: int = 0
    items_field: str | None = "resultSet"
    total_field: str | None = "totalCount"

    def first(self) -> dict[str, Any]:
        return {self.page_param: self.first_page, self.size_param: self.page_size}

    def next(self, params: Mapping[str, Any], page: Any) -> dict[str, Any] | None:
        size = int(params[self.size_param])
        if len(self.items(page)) < size:
            return None
        number = int(params[self.page_param])
        total = page.get(self.total_field or "") if isinstance(page, Mapping) else None
        if isinstance(total, int) and (number - self.first_page + 1) * size >= total:
            return None
        return {**params, self.page_param: number + 1}

    def items(self, page: Any) -> list[Any]:
        return _field_items(page, self.items_field)


PAGINATORS: dict[str, type] = {
    "skip_limit": SkipLimit,
    "cursor": CursorPages,
    "page_number": PageNumber,
}


def iterate_pages(fetch: Callable[[dict[str, Any]], Any], paginator: Paginator) -> Iterator[Any]:
    """Yield raw pages until the paginator says there is no next one."""
    params: dict[str, Any] | None = paginator.first()
    while params is not None:
        page = fetch(params)
        yield page
        params = paginator.next(params, page)


def iterate_items(
    fetch: Callable[[dict[str, Any]], Any], paginator: Paginator, *, max_items: int | None = None
) -> Iterator[Any]:
    """Yield the items of every page, stopping after ``max_items`` when given."""
    count = 0
    for page in iterate_pages(fetch, paginator):
        for item in paginator.items(page):
            yield item
            count += 1
            if max_items is not None and count >= max_items:
                return
