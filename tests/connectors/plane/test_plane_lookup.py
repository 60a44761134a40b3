"""A work item found by its external ids, whatever documented shape Plane answers in."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import redis

from connectors.plane.api import PlaneApi, build_api
from hub.core.errors import FatalError
from tests.connectors.plane.conftest import HUB, op, project, settings_for
from tests.support.sandboxes import Served


def _answer(plane: Served, *bodies: Any) -> None:
    """The next lookups answer ``bodies`` (200 each), whatever the sandbox would."""
    answers = [{"status": 200, "body": body} for body in bodies]
    rule = {"method": "GET", "path": "*/work-items/", "query": "*external_id*", "answers": answers}
    plane.control("POST", "faults", {"scripts": [rule]})


def _item(n: int, **ids: Any) -> dict[str, Any]:
    return {"id": f"w{n}", "name": f"item {n}", **ids}


def _page(items: list[Any], cursor: str = "", more: bool = False) -> dict[str, Any]:
    return {
        "results": items,
        "next_cursor": cursor,
        "next_page_results": more,
        "prev_cursor": "",
        "prev_page_results": False,
        "count": len(items),
        "total_pages": 3,
        "total_results": 5,
        "extra_stats": {},
    }


@pytest.fixture
def api(plane: Served, redis_client: redis.Redis) -> PlaneApi:
    return build_api(settings_for(plane), HUB, redis_client)


WANTED = {"external_source": "plutora", "external_id": "R-1"}


def test_a_single_work_item_a_page_or_404(plane: Served, api: PlaneApi) -> None:
    _answer(plane, _item(1, **WANTED), _page([_item(2, **WANTED)]), [_item(3, **WANTED)])
    found = [api.find_external("p", "plutora", "R-1") for _ in range(3)]
    # one work item, the documented page, a bare array
    assert [f["id"] if f else None for f in found] == ["w1", "w2", "w3"]
    plane.control("DELETE", "faults")
    assert api.find_external(project(api), "plutora", "R-1") is None  # 404, or empty page


def test_a_page_that_is_not_filtered_is_read_to_the_item(
    plane: Served, api: PlaneApi, caplog: pytest.LogCaptureFixture
) -> None:
    _answer(
        plane,
        _page([_item(1, external_source="plutora", external_id="R-9")], "100:1:0", more=True),
        _page([_item(2), _item(3, **WANTED)], "100:2:0", more=True),
    )
    with caplog.at_level(logging.WARNING, logger="hub.connector"):
        found = api.find_external("p", "plutora", "R-1")
    assert found is not None and found["id"] == "w3"
    lookups = [c for c in plane.calls() if "external_id" in c["query"]]
    assert [c["query"].rpartition("cursor=")[2] for c in lookups][1:] == ["100%3A1%3A0"]
    assert "does not filter by them" in caplog.text


@pytest.mark.parametrize(
    ("body", "described"),
    [
        ({"data": [{"id": "w1"}]}, "an object of data"),
        ({"detail": "Not found."}, "an object of detail"),
        ("ok", "a str"),
        ([{"name": "no id"}], "an array of something other than work items"),
    ],
)
def test_an_unknown_shape_is_a_clear_fatal_error(
    plane: Served, api: PlaneApi, body: Any, described: str
) -> None:
    _answer(plane, body)
    with pytest.raises(FatalError) as info:
        api.find_external("p1", "plutora", "R-1")
    message = str(info.value)
    assert "Plane answered GET /api/v1/workspaces/sandbox/projects/p1/work-items/" in message
    assert "external_source=plutora&external_id=R-1" in message
    assert described in message and "expected a work item, a page of work items" in message


def test_a_single_work_item_of_other_ids_is_a_clear_fatal_error(
    plane: Served, api: PlaneApi
) -> None:
    _answer(plane, _item(7, external_source="jira", external_id="J-1"))
    with pytest.raises(FatalError, match=r"work item w7 of external ids \('jira', 'J-1'\)"):
        api.find_external("p", "plutora", "R-1")


def test_an_upsert_through_a_paged_lookup_creates_once(plane: Served, api: PlaneApi) -> None:
    pid = project(api)
    match = {"external_source": "plutora", "external_id": "R-5"}
    first = op(api, "work_items.upsert", project_id=pid, match=match, data={"name": "v1"})
    for n in range(3):  # other work items, before and after
        op(api, "work_items.create", project_id=pid, name=f"other {n}")
    again = op(api, "work_items.upsert", project_id=pid, match=match, data={"name": "v1"})
    assert first["created"] and not again["created"]
    assert again["record"]["id"] == first["record"]["id"]
    assert len(plane.control("GET", "state/work-items")) == 4
