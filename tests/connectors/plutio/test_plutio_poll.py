"""``<resource>.poll``: keyset pages on (cursor field, _id), against the sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import pytest

from connectors.plutio.models import PollArgs
from connectors.plutio.polling import poll_page
from connectors.plutio.resources import RESOURCES
from hub.core.errors import FatalError
from tests.connectors.plutio.conftest import Sandbox

Run = Callable[[str, dict[str, Any]], Any]


def _invoices(stamps: list[str]) -> list[dict[str, Any]]:
    return [
        {"_id": f"inv{i:02d}", "status": "paid", "amount": 10 + i, "updatedAt": t, "createdAt": t}
        for i, t in enumerate(stamps)
    ]


def _page_all(run: Run, limit: int, **extra: Any) -> tuple[list[str], int]:
    """Page to the end as a poller does; the ids seen and the pages it took."""
    seen: list[str] = []
    after: dict[str, Any] | None = None
    pages = 0
    while True:
        args: dict[str, Any] = {"limit": limit, **extra}
        if after is not None:
            args["after"] = after
        page = run("invoices.poll", args)
        pages += 1
        records = page["records"]
        seen += [r["_id"] for r in records]
        if len(records) < limit:
            return seen, pages
        last = records[-1]
        after = {"value": last["updatedAt"], "id": last["_id"]}


def test_pages_follow_updated_at_then_id_across_equal_timestamps(
    sandbox: Sandbox, run: Run
) -> None:
    # seven invoices, five of them at one instant: page boundaries fall inside the tie
    stamps = ["2024-01-02T00:00:00.000Z"] * 5 + [
        "2024-01-01T00:00:00.000Z",
        "2024-01-03T00:00:00.000Z",
    ]
    sandbox.seed({"invoices": _invoices(stamps)})
    seen, pages = _page_all(run, limit=2)
    assert seen == ["inv05", "inv00", "inv01", "inv02", "inv03", "inv04", "inv06"]
    assert pages == 4
    answer = run("invoices.poll", {"limit": 1})
    assert answer["entity"] == "invoice" and answer["id_field"] == "_id"
    calls = [parse_qs(c["query"]) for c in sandbox.calls() if c["path"] == "/invoices"]
    assert {c["skip"][0] for c in calls} == {"0"}
    assert json.loads(calls[0]["sort"][0]) == {"updatedAt": 1, "_id": 1}


def test_an_empty_id_takes_every_record_at_the_value(sandbox: Sandbox, run: Run) -> None:
    sandbox.seed({"invoices": _invoices(["2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z"])})
    page = run("invoices.poll", {"after": {"value": "2024-01-02T00:00:00.000Z"}})
    assert [r["_id"] for r in page["records"]] == ["inv01"]
    page = run("invoices.poll", {"after": {"value": "2024-01-02T00:00:00.000Z", "id": "inv01"}})
    assert page["records"] == []


def test_records_edited_while_paging_are_not_skipped(sandbox: Sandbox, run: Run) -> None:
    sandbox.seed({"invoices": _invoices([f"2024-01-01T00:00:0{i}.000Z" for i in range(6)])})
    first = run("invoices.poll", {"limit": 3})["records"]
    # an early invoice changes between two pages: it moves to the end, nothing shifts
    run("invoices.update", {"_ids": ["inv00"], "data": {"status": "void"}})
    last = first[-1]
    rest = run(
        "invoices.poll", {"limit": 10, "after": {"value": last["updatedAt"], "id": last["_id"]}}
    )
    assert [r["_id"] for r in rest["records"]] == ["inv03", "inv04", "inv05", "inv00"]


def test_workflow_filters_narrow_the_pages(sandbox: Sandbox, run: Run) -> None:
    records = _invoices([f"2024-01-01T00:00:0{i}.000Z" for i in range(4)])
    records[1]["status"] = "draft"
    sandbox.seed({"invoices": records})
    seen, _ = _page_all(run, limit=10, query={"status": "paid"}, q={"amount": {"$gte": 11}})
    assert seen == ["inv02", "inv03"]


class _Unsorted:
    def page(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return [
            {"_id": "b", "updatedAt": "2024-01-02T00:00:00.000Z"},
            {"_id": "a", "updatedAt": "2024-01-01T00:00:00.000Z"},
        ]


def test_an_upstream_that_ignores_sort_fails_the_poll() -> None:
    with pytest.raises(FatalError, match=r"out of \(updatedAt, _id\) order"):
        poll_page(_Unsorted(), RESOURCES["invoices"], PollArgs())  # type: ignore[arg-type]


def test_poll_arguments_are_strict() -> None:
    with pytest.raises(ValueError, match="limit"):
        PollArgs.model_validate({"limit": 0})
    with pytest.raises(ValueError, match="extra"):
        PollArgs.model_validate({"since": "x"})
