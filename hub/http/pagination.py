"""Paginators: small objects with no I/O, registered by name.

A paginator says which parameters fetch the first page and, given a page, which fetch
the next (or that there is none). :func:`iterate_pages` drives one with a fetch
function, so every connector pages the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["PAGINATORS", "Paginator", "SkipLimit", "iterate_items", "iterate_pages"]


class Paginator(Protocol):
    def first(self) -> dict[str, Any]: ...
    def next(self, params: Mapping[str, Any], page: Any) -> dict[str, Any] | None: ...
    def items(self, page: Any) -> list[Any]: ...


@dataclass(frozen=True)
class SkipLimit:
    """``skip``/``limit`` paging over JSON arrays (Plutio)."""

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


PAGINATORS: dict[str, type] = {"skip_limit": SkipLimit}


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
