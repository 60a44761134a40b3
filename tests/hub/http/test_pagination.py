from __future__ import annotations

from typing import Any

from hub.http.pagination import PAGINATORS, CursorPages, PageNumber, SkipLimit, iterate_items


def test_skip_limit_pages_until_short_page() -> None:
    data = list(range(23))
    seen: list[dict[str, Any]] = []

    def fetch(params: dict[str, Any]) -> list[int]:
        seen.append(params)
        return data[params["skip"] : params["skip"] + params["limit"]]

    assert list(iterate_items(fetch, SkipLimit(10))) == data
    assert [p["skip"] for p in seen] == [0, 10, 20]


def test_max_items_stops_early() -> None:
    calls = []

    def fetch(params: dict[str, Any]) -> list[int]:
        calls.append(params)
        return list(range(params["skip"], params["skip"] + params["limit"]))

    assert list(iterate_items(fetch, SkipLimit(5), max_items=7)) == list(range(7))
    assert len(calls) == 2


def _cursor_server(total: int, per_page_max: int = 100) -> tuple[Any, list[dict[str, Any]]]:
    """Plane-style pages: ``per_page``, ``cursor=value:offset:is_prev``."""
    seen: list[dict[str, Any]] = []

    def fetch(params: dict[str, Any]) -> dict[str, Any]:
        seen.append(params)
        size = min(int(params["per_page"]), per_page_max)
        offset = int(params.get("cursor", "0:0:0").split(":")[1])
        start = offset * size
        return {
            "results": list(range(total))[start : start + size],
            "next_cursor": f"{size}:{offset + 1}:0",
            "next_page_results": start + size < total,
        }

    return fetch, seen


def test_cursor_pages_follow_next_cursor_until_no_more_results() -> None:
    fetch, seen = _cursor_server(250)
    assert list(iterate_items(fetch, CursorPages(100))) == list(range(250))
    assert [p.get("cursor") for p in seen] == [None, "100:1:0", "100:2:0"]
    assert all(p["per_page"] == 100 for p in seen)


def test_cursor_pages_stop_on_a_repeated_or_missing_cursor() -> None:
    calls: list[dict[str, Any]] = []

    def stuck(params: dict[str, Any]) -> dict[str, Any]:
        calls.append(params)
        return {"results": [1], "next_cursor": "1:1:0", "next_page_results": True}

    assert list(iterate_items(stuck, CursorPages(1))) == [1, 1]
    assert len(calls) == 2
    assert CursorPages().next({"per_page": 1}, {"results": [], "next_page_results": True}) is None
    assert CursorPages().next({"per_page": 1}, ["not", "a", "page"]) is None


def test_page_numbers_stop_at_a_short_page_or_the_total() -> None:
    data = list(range(230))
    seen: list[dict[str, Any]] = []

    def fetch(params: dict[str, Any]) -> dict[str, Any]:
        seen.append(params)
        n, size = params["pageNum"], params["recordsPerPage"]
        return {"resultSet": data[n * size : (n + 1) * size], "totalCount": len(data)}

    assert list(iterate_items(fetch, PageNumber(100))) == data
    assert [p["pageNum"] for p in seen] == [0, 1, 2]
    seen.clear()
    exact = list(range(200))

    def exact_fetch(params: dict[str, Any]) -> dict[str, Any]:
        seen.append(params)
        n = params["pageNum"]
        return {"resultSet": exact[n * 100 : (n + 1) * 100], "totalCount": 200}

    assert len(list(iterate_items(exact_fetch, PageNumber(100)))) == 200
    assert len(seen) == 2  # the total says there is no third page


def test_page_numbers_over_arrays_and_body_style_names() -> None:
    paginator = PageNumber(2, page_param="Page", size_param="PageSize", first_page=1)
    assert paginator.first() == {"Page": 1, "PageSize": 2}
    assert paginator.next({"Page": 1, "PageSize": 2}, [1, 2]) == {"Page": 2, "PageSize": 2}
    assert paginator.next({"Page": 2, "PageSize": 2}, [3]) is None
    assert set(PAGINATORS) >= {"skip_limit", "cursor", "page_number"}


def test_cursor_pages_read_a_nested_cursor() -> None:
    pages = CursorPages(
        page_size=2,
        size_param="limit",
        cursor_param="after",
        next_field="paging.next.after",
        more_field=None,
    )
    first = pages.first()
    assert first == {"limit": 2}
    second = pages.next(first, {"results": [1, 2], "paging": {"next": {"after": "2"}}})
    assert second == {"limit": 2, "after": "2"}
    assert pages.next(second, {"results": [3]}) is None
