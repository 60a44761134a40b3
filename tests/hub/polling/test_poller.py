"""The poller, with an in-memory upstream and a real Redis for its cursor."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from hub.core.errors import RetryableError
from hub.polling.cursors import CursorStore, LockLost
from hub.polling.poller import Poller


def ts(second: int) -> str:
    return f"2024-01-01T00:{second // 60:02d}:{second % 60:02d}.000Z"


class Upstream:
    """Records answered in (updatedAt, _id) order after a position, ``limit`` at a time."""

    def __init__(self, limit: int = 3) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.limit = limit
        self.fail_on: set[int] = set()
        self.calls = 0

    def put(self, rid: str, second: int, **fields: Any) -> None:
        self.records[rid] = {"_id": rid, "updatedAt": ts(second), **fields}

    def fetch(self, after: dict[str, Any] | None) -> dict[str, Any]:
        self.calls += 1
        if self.calls in self.fail_on:
            raise RetryableError("Plutio answered 500", status=500)
        ordered = sorted(self.records.values(), key=lambda r: (r["updatedAt"], r["_id"]))
        if after is not None:
            pos = (after["value"], after["id"])
            if after["id"]:
                ordered = [r for r in ordered if (r["updatedAt"], r["_id"]) > pos]
            else:
                ordered = [r for r in ordered if r["updatedAt"] >= pos[0]]
        return {
            "records": ordered[: self.limit],
            "entity": "invoice",
            "id_field": "_id",
            "field": "updatedAt",
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
    options: dict[str, Any] = {"overlap_seconds": 30.0, "page_limit": up.limit, **kwargs}
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


def test_every_record_once_across_pages_and_equal_times(store: CursorStore) -> None:
    up, runs = Upstream(limit=3), Runs()
    for n in range(7):
        up.put(f"i{n}", 10 if n < 5 else n)  # five records share one instant
    result = _poller(up, runs, store).run(max_pages=10)
    assert result.handed_on == 7 and result.pages == 3
    assert len({e for e, _ in runs.started}) == 7
    assert runs.started[0] == (f"plutio-invoice:i5:{ts(5)}", "invoice.poll")
    assert (store.get("wf").value, store.get("wf").id) == (ts(10), "i4")

    again = _poller(up, runs, store).run(max_pages=10)
    assert again.handed_on == 0 and again.already == 7 and len(runs.started) == 7


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


def test_an_upstream_error_keeps_the_cursor_at_the_last_page_handed_on(
    store: CursorStore,
) -> None:
    up, runs = Upstream(limit=2), Runs()
    for n in range(5):
        up.put(f"i{n}", n)
    up.fail_on = {2}
    with pytest.raises(RetryableError):
        _poller(up, runs, store, overlap_seconds=0).run(max_pages=10)
    assert len(runs.started) == 2 and store.get("wf").id == "i1"
    result = _poller(up, runs, store, overlap_seconds=0).run(max_pages=10)
    assert result.handed_on == 3
    assert [e.split(":")[1] for e, _ in runs.started] == ["i0", "i1", "i2", "i3", "i4"]


def test_filtered_records_move_the_cursor_without_a_run(store: CursorStore) -> None:
    up, runs = Upstream(), Runs()
    up.put("draft", 1, status="draft")
    up.put("paid", 2, status="paid")
    result = _poller(up, runs, store).run(max_pages=10)
    assert (result.handed_on, result.filtered) == (1, 1)
    assert store.get("wf").id == "paid"


def test_a_poll_stops_at_its_page_limit_and_says_there_is_more(store: CursorStore) -> None:
    up, runs = Upstream(limit=2), Runs()
    for n in range(5):
        up.put(f"i{n}", n)
    assert _poller(up, runs, store).run(max_pages=2).more
    assert not _poller(up, runs, store).run(max_pages=5).more
    assert len(runs.started) == 5


def test_a_crash_before_the_advance_hands_the_page_on_again(
    store: CursorStore, redis_client: redis.Redis
) -> None:
    """At least once: the export step's idempotency removes the duplicates."""
    up, runs = Upstream(limit=10), Runs()
    for n in range(3):
        up.put(f"i{n}", n)
    with pytest.raises(LockLost):  # the lock is gone: the advance refuses
        _poller(up, runs, store, lock=("hub:lock:gone", "t")).run(max_pages=10)
    assert len(runs.started) == 3 and not store.get("wf").started
    _poller(up, runs, store).run(max_pages=10)
    assert len(runs.started) == 6 and len({e for e, _ in runs.started}) == 3


def test_a_resumed_poll_starts_right_after_its_cursor(store: CursorStore) -> None:
    up, runs = Upstream(limit=2), Runs()
    for n in range(6):
        up.put(f"i{n}", 100 + n)
    _poller(up, runs, store).run(max_pages=1)
    calls = up.calls
    _poller(up, runs, store).run(max_pages=1, resume=True)  # no page spent re-reading
    assert up.calls == calls + 1 and len(runs.started) == 4
    fresh = _poller(up, runs, store).run(max_pages=1)  # a new tick re-reads the overlap
    assert fresh.already == 2 and fresh.handed_on == 0
