"""``<resource>.poll``: pages of a window by ``q``, ``skip`` and ``limit``, against the
sandbox in both modes (strict: ``sort`` is a key filter, as the reference implies)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import pytest
import redis

from connectors.plutio.api import PlutioApi
from connectors.plutio.models import PollArgs
from connectors.plutio.polling import MAX_RESTARTS, poll_page
from connectors.plutio.resources import RESOURCES
from hub.core.errors import FatalError
from hub.polling.cursors import CursorStore
from hub.polling.poller import Poller
from tests.connectors.plutio.conftest import Sandbox

Run = Callable[[str, dict[str, Any]], Any]


def _invoices(stamps: list[str]) -> list[dict[str, Any]]:
    return [
        {"_id": f"inv{i:02d}", "status": "paid", "amount": 10 + i, "updatedAt": t, "createdAt": t}
        for i, t in enumerate(stamps)
    ]


def _page_all(run: Run, limit: int, **extra: Any) -> tuple[list[str], int]:
    """Page a window to its end as the poller does; the ids read and the pages it took."""
    seen: list[str] = []
    page: dict[str, Any] | None = None
    pages = 0
    while True:
        answer = run("invoices.poll", {"limit": limit, "page": page, **extra})
        pages += 1
        seen += [r["_id"] for r in answer["records"]]
        page = answer["next"]
        if page is None:
            return seen, pages


class Exports:
    """Stands in for the intake and the export step: paid revisions, counted."""

    def __init__(self) -> None:
        self.revisions: dict[tuple[str, str], int] = {}

    def hand_on(self, record: dict[str, Any], event_id: str, event_type: str) -> bool:
        if record.get("status") != "paid":
            return False
        key = (record["_id"], record["updatedAt"])
        self.revisions[key] = self.revisions.get(key, 0) + 1
        return True


def _poller(run: Run, store: CursorStore, exports: Exports, limit: int) -> Poller:
    def fetch(after: dict[str, Any] | None, page: Any) -> Any:
        return run("invoices.poll", {"limit": limit, "after": after, "page": page})

    return Poller("invoices", source="plutio", fetch=fetch, hand_on=exports.hand_on, cursors=store)


def test_a_window_reads_every_record_once_in_plutios_order(sandbox: Sandbox, run: Run) -> None:
    # seven invoices, five of them at one instant, stored out of time order
    stamps = ["2024-01-02T00:00:00.000Z"] * 5 + [
        "2024-01-03T00:00:00.000Z",
        "2024-01-01T00:00:00.000Z",
    ]
    sandbox.seed({"invoices": _invoices(stamps)})
    seen, pages = _page_all(run, limit=3)
    assert set(seen) == {f"inv{i:02d}" for i in range(7)}
    assert pages == 4  # each page after the first starts at the last record read
    calls = [parse_qs(c["query"]) for c in sandbox.calls() if c["path"] == "/invoices"]
    assert [c["skip"][0] for c in calls] == ["0", "2", "4", "6"]
    assert not any("sort" in c for c in calls)


def test_a_sort_parameter_reads_nothing_from_a_strict_plutio(
    sandbox: Sandbox, api: PlutioApi, sandbox_mode: str
) -> None:
    """What the issue saw: the reference documents no sort, and reads it as a key filter."""
    sandbox.seed({"invoices": _invoices(["2024-01-02T00:00:00.000Z", "2024-01-01T00:00:00.000Z"])})
    sorted_ = api.client.request("GET", "invoices", params={"sort": '{"updatedAt":1}'})
    if sandbox_mode == "strict":
        assert sorted_ == []
    else:
        assert [r["_id"] for r in sorted_] == ["inv01", "inv00"]


def test_after_takes_every_record_at_or_after_its_value(sandbox: Sandbox, run: Run) -> None:
    sandbox.seed({"invoices": _invoices(["2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z"])})
    page = run("invoices.poll", {"after": {"value": "2024-01-02T00:00:00.000Z"}})
    assert [r["_id"] for r in page["records"]] == ["inv01"] and page["next"] is None
    page = run("invoices.poll", {"after": {"value": "2024-01-02T00:00:00.001Z"}})
    assert page["records"] == []


def test_records_edited_while_paging_are_not_skipped(
    sandbox: Sandbox, run: Run, redis_client: redis.Redis
) -> None:
    sandbox.seed({"invoices": _invoices([f"2024-01-01T00:00:0{i}.000Z" for i in range(6)])})
    store, exports = CursorStore(redis_client), Exports()
    poller = _poller(run, store, exports, limit=3)
    assert poller.run(max_pages=1).more  # inv00..inv02 read
    # an early invoice changes between two pages, at a place already read
    (edited,) = run("invoices.update", {"_ids": ["inv00"], "data": {"amount": 99}})
    assert not poller.run(max_pages=10).more  # the window ends
    poller.run(max_pages=10)  # the next tick's window reads the edit
    final = {(r["_id"], r["updatedAt"]) for r in sandbox.state("invoices")}
    assert final <= set(exports.revisions)
    assert ("inv00", edited["updatedAt"]) in exports.revisions
    assert set(exports.revisions.values()) == {1}


def test_workflow_filters_narrow_the_pages(sandbox: Sandbox, run: Run) -> None:
    records = _invoices([f"2024-01-01T00:00:0{i}.000Z" for i in range(4)])
    records[1]["status"] = "draft"
    sandbox.seed({"invoices": records})
    seen, _ = _page_all(run, limit=10, query={"status": "paid"}, q={"amount": {"$gte": 11}})
    assert seen == ["inv02", "inv03"]


def test_records_that_leave_the_window_between_pages_make_it_read_again(
    sandbox: Sandbox, run: Run
) -> None:
    sandbox.seed({"invoices": _invoices([f"2024-01-01T00:00:0{i}.000Z" for i in range(7)])})
    first = run("invoices.poll", {"limit": 3})
    assert [r["_id"] for r in first["records"]] == ["inv00", "inv01", "inv02"]
    run("invoices.delete", {"_ids": ["inv00"]})  # every later invoice moves up one place
    second = run("invoices.poll", {"limit": 3, "page": first["next"]})
    assert "inv02" not in {r["_id"] for r in second["records"]}  # the anchor moved
    assert second["next"] == {"skip": 0, "anchor": None, "restarts": 1}
    seen, _ = _page_all(run, limit=3)
    assert set(seen) == {f"inv{i:02d}" for i in range(1, 7)}


class _Shuffling:
    """A Plutio that answers pages in a new order each time."""

    def __init__(self, count: int) -> None:
        self.records = [
            {"_id": f"r{n:03d}", "updatedAt": f"2024-01-01T00:00:{n % 60:02d}Z"}
            for n in range(count)
        ]
        self.rng = random.Random(4)

    def page(self, path: str, query: Any, q: Any, *, skip: int, limit: int) -> list[Any]:
        order = self.rng.sample(self.records, len(self.records))
        return order[skip : skip + limit]


def test_an_upstream_that_keeps_no_order_fails_the_poll_clearly() -> None:
    upstream, args = _Shuffling(50), PollArgs(limit=10)
    with pytest.raises(FatalError, match=r"moved under the pages 10 times.*keep one order"):
        for _ in range(10 * (MAX_RESTARTS + 2)):
            answer = poll_page(upstream, RESOURCES["invoices"], args)  # type: ignore[arg-type]
            args = PollArgs(limit=10, page=answer["next"])


def test_a_record_without_the_cursor_field_is_a_clear_error(sandbox: Sandbox, run: Run) -> None:
    sandbox.seed({"invoices": [{"_id": "x", "status": "paid"}]})
    with pytest.raises(FatalError, match=r"plutio.invoices.poll: Plutio answered a record "):
        run("invoices.poll", {"field": "paidAt"})


def test_poll_arguments_are_strict() -> None:
    with pytest.raises(ValueError, match="limit"):
        PollArgs.model_validate({"limit": 0})
    with pytest.raises(ValueError, match="extra"):
        PollArgs.model_validate({"since": "x"})
