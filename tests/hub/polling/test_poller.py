"""The poller, with an in-memory upstream and a real Redis for its cursor."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from hub.core.errors import RetryableError
from hub.polling.cursors import CursorStore, LockLost, cursor_seconds
from hub.polling.poller import Poller


def ts(second: int) -> str:
    return f"2024-01-01T00:{second // 60:02d}:{second % 60:02d}.000Z"


#: a clock well after every record's time
LATER = cursor_seconds("2025-01-01T00:00:00.000Z") or 0.0


class Upstream:
    """Records changed at or after a value, in the order they were first stored (not
    sorted), ``limit`` at a time by ``skip``: a window's pages."""

    def __init__(self, limit: int = 3) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.limit = limit
        self.fail_on: set[int] = set()
        self.calls = 0
        self.asked: list[tuple[Any, Any]] = []

    def put(self, rid: str, second: int, **fields: Any) -> None:
        record = {"_id": rid, "updatedAt": ts(second), **fields}
        if rid in self.records:
            self.records[rid].update(record)  # an edit keeps its place
        else:
            self.records[rid] = record

    def fetch(self, after: dict[str, Any] | None, page: Any) -> dict[str, Any]:
        self.calls += 1
        self.asked.append((after, page))
        if self.calls in self.fail_on:
            raise RetryableError("Plutio answered 500", status=500)
        found = [
            r for r in self.records.values() if after is None or r["updatedAt"] >= after["value"]
        ]
        skip = page["skip"] if page else 0
        chunk = found[skip : skip + self.limit]
        more = len(chunk) == self.limit
        return {
            "records": chunk,
            "entity": "invoice",
            "id_field": "_id",
            "field": "updatedAt",
            "next": {"skip": skip + len(chunk)} if more else None,
        }


class Runs:
    """Stands in for the intake: paid records start a run, the others are kept out."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []

    def hand_on(self, record: dict[str, Any], event_id: str, event_type: str) -> bool:
        if record.get("status", "paid") != "paid":
            return False
        self.started.append((event_id, event_type))
        return True


def _poller(up: Upstream, runs: Runs, store: CursorStore, **kwargs: Any) -> Poller:
    options: dict[str, Any] = {"overlap_seconds": 30.0, "now": lambda: LATER, **kwargs}
    return Poller(
        "wf",
        source="plutio",
        fetch=up.fetch,
        hand_on=runs.hand_on,
        cursors=store,
        **options,
    )


@pytest.fixture
def store(redis_client: redis.Redis) -> CursorStore:
    return CursorStore(redis_client)


def test_every_record_once_in_any_order_across_pages_and_equal_times(
    store: CursorStore,
) -> None:
    up, runs = Upstream(limit=3), Runs()
    for n in (6, 3, 0, 5, 1, 4, 2):
        up.put(f"i{n}", 10 if n < 5 else n)  # five records share one instant, stored unsorted
    result = _poller(up, runs, store).run(max_pages=10)
    assert (result.handed_on, result.read, result.pages) == (7, 7, 3)
    assert {e for e, _ in runs.started} == {
        f"plutio-invoice:i{n}:{ts(10 if n < 5 else n)}" for n in range(7)
    }
    # within a page, oldest first
    assert runs.started[:3] == [
        (f"plutio-invoice:i6:{ts(6)}", "invoice.poll"),
        (f"plutio-invoice:i0:{ts(10)}", "invoice.poll"),
        (f"plutio-invoice:i3:{ts(10)}", "invoice.poll"),
    ]
    assert (store.get("wf").value, store.get("wf").id) == (ts(10), "i4")

    again = _poller(up, runs, store).run(max_pages=10)
    assert again.handed_on == 0 and again.already == 7 and len(runs.started) == 7


def test_the_cursor_moves_only_when_the_window_is_read_to_its_end(store: CursorStore) -> None:
    up, runs = Upstream(limit=2), Runs()
    for n in range(5):
        up.put(f"i{n}", 4 - n)  # newest first
    first = _poller(up, runs, store).run(max_pages=1)
    assert first.more and first.handed_on == 2
    assert not store.get("wf").started and store.get("wf").window is not None
    second = _poller(up, runs, store).run(max_pages=1)  # goes on with the window
    assert second.more and up.asked[-1] == (None, {"skip": 2})
    assert not store.get("wf").started
    last = _poller(up, runs, store).run(max_pages=5)
    assert not last.more and len(runs.started) == 5
    cursor = store.get("wf")
    assert (cursor.value, cursor.id, cursor.window) == (ts(4), "i0", None)


def test_an_edit_is_a_new_run_and_a_late_record_within_the_overlap_is_found(
    store: CursorStore,
) -> None:
    up, runs = Upstream(), Runs()
    for n in range(3):
        up.put(f"i{n}", 100 + n)
    _poller(up, runs, store).run(max_pages=10)
    up.put("i0", 200)  # edited
    up.put("late", 95)  # committed late with an earlier time, inside the 30 s overlap
    up.put("too-late", 10)  # far before the overlap: out of reach
    result = _poller(up, runs, store).run(max_pages=10)
    assert sorted(e for e, _ in runs.started[3:]) == [
        f"plutio-invoice:i0:{ts(200)}",
        f"plutio-invoice:late:{ts(95)}",
    ]
    assert result.handed_on == 2


def test_a_record_edited_at_a_place_already_read_is_read_by_the_next_window(
    store: CursorStore,
) -> None:
    """The cursor stops at the window's opening: the edit's new time is after it."""
    clock = [cursor_seconds(ts(100)) or 0.0]
    up, runs = Upstream(limit=2), Runs()
    for n in range(4):
        up.put(f"i{n}", 10 + n)
    _poller(up, runs, store, now=lambda: clock[0]).run(max_pages=1)  # reads i0, i1
    clock[0] += 5
    up.put("i0", 104)  # edited after the window opened (at 100), at a place read
    up.put("i3", 105)  # edited too, at a place not read yet
    _poller(up, runs, store, now=lambda: clock[0]).run(max_pages=10)
    assert f"plutio-invoice:i3:{ts(105)}" in {e for e, _ in runs.started}
    cursor = store.get("wf")
    assert (cursor.value, cursor.id) == (ts(100), "")  # not past the window's opening
    _poller(up, runs, store, now=lambda: clock[0]).run(max_pages=10)
    assert f"plutio-invoice:i0:{ts(104)}" in {e for e, _ in runs.started}
    assert len(runs.started) == len(set(runs.started)) == 5  # i0 twice, i3 once (edited)


def test_an_upstream_error_keeps_the_cursor_and_the_window_goes_on(
    store: CursorStore,
) -> None:
    up, runs = Upstream(limit=2), Runs()
    for n in range(5):
        up.put(f"i{n}", n)
    up.fail_on = {2}
    with pytest.raises(RetryableError):
        _poller(up, runs, store, overlap_seconds=0).run(max_pages=10)
    assert len(runs.started) == 2 and not store.get("wf").started
    result = _poller(up, runs, store, overlap_seconds=0).run(max_pages=10)
    assert result.handed_on == 3 and up.asked[-2][1] == {"skip": 2}
    assert [e.split(":")[1] for e, _ in runs.started] == ["i0", "i1", "i2", "i3", "i4"]
    assert store.get("wf").id == "i4"


def test_filtered_records_move_the_cursor_without_a_run(store: CursorStore) -> None:
    up, runs = Upstream(), Runs()
    up.put("paid", 1, status="paid")
    up.put("draft", 2, status="draft")
    result = _poller(up, runs, store).run(max_pages=10)
    assert (result.handed_on, result.filtered) == (1, 1)
    assert store.get("wf").id == "draft"


def test_an_empty_window_leaves_the_cursor_where_it_was(store: CursorStore) -> None:
    up, runs = Upstream(), Runs()
    result = _poller(up, runs, store).run(max_pages=10)
    assert (result.pages, result.read) == (1, 0)
    cursor = store.get("wf")
    assert not cursor.started and cursor.window is None


def test_a_crash_before_the_save_hands_the_page_on_again(
    store: CursorStore, redis_client: redis.Redis
) -> None:
    """At least once: the export step's idempotency removes the duplicates."""
    up, runs = Upstream(limit=10), Runs()
    for n in range(3):
        up.put(f"i{n}", n)
    with pytest.raises(LockLost):  # the lock is gone: the save refuses
        _poller(up, runs, store, lock=("hub:lock:gone", "t")).run(max_pages=10)
    assert len(runs.started) == 3 and not store.get("wf").started
    _poller(up, runs, store).run(max_pages=10)
    assert len(runs.started) == 6 and len({e for e, _ in runs.started}) == 3


def test_a_resumed_poll_opens_its_window_at_its_cursor(store: CursorStore) -> None:
    up, runs = Upstream(limit=10), Runs()
    for n in range(6):
        up.put(f"i{n}", 100 + n)
    _poller(up, runs, store).run(max_pages=1)
    _poller(up, runs, store).run(max_pages=1, resume=True)  # no overlap to re-read
    assert up.asked[-1] == ({"value": ts(105), "id": ""}, None)
    fresh = _poller(up, runs, store).run(max_pages=1)  # a new tick re-reads the overlap
    assert up.asked[-1] == ({"value": ts(75), "id": ""}, None)
    assert fresh.already == 6 and fresh.handed_on == 0
