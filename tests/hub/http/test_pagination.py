from __future__ import annotations

from typing import Any

from hub.http.pagination import SkipLimit, iterate_items


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
