"""Silence is not success: polls that read nothing while the cursor stands still."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import redis
from celery import Celery

from hub.core.settings import Settings
from hub.history.metrics import exposition
from hub.polling.cursor_view import cursor_lines
from hub.polling.cursors import Cursor, CursorStore
from hub.polling.poll_task import build_poller, record_result
from hub.polling.silence import SilenceRule, silence_message, silent_for
from hub.workflow.loader import load_workflow_text

WORKFLOW = """
name: paid-invoices
trigger:
  poll: { uses: plutio.invoices.poll, cursor: updatedAt }
steps:
  - id: echo
    uses: core.echo
    with: { value: "{{ event._id }}" }
"""
DAY = 86_400.0


def test_silent_after_enough_empty_polls_with_the_cursor_still_long_enough() -> None:
    rule = SilenceRule(polls=3, seconds=DAY)
    never = Cursor("wf", empty_polls=3, silent_since=1000.0)
    assert silent_for(never, 1000.0 + DAY - 1, rule) is None
    assert silent_for(never, 1000.0 + DAY, rule) == DAY
    assert silent_for(Cursor("wf", empty_polls=2, silent_since=0.0), 2 * DAY, rule) is None
    # a cursor that moved long before the polls went quiet: still since it moved
    moved = Cursor("wf", value="x", updated_at=0.0, empty_polls=3, silent_since=DAY - 10)
    assert silent_for(moved, DAY, rule) == DAY
    message = silence_message("wf", moved, DAY)
    assert "the last 3 polls read no record at all" in message and "24h" in message


class Nothing:
    """A Plutio that answers every page empty: one that took a parameter for a filter."""

    def page(self, path: str, query: Any, q: Any, *, skip: int, limit: int) -> list[Any]:
        return []


def test_a_poll_workflow_reading_nothing_is_reported_everywhere(
    redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    wf = load_workflow_text(WORKFLOW, "paid-invoices.yaml")
    settings = Settings(hub_poll_silent_polls=3, hub_poll_silent_seconds=0)
    store = CursorStore(redis_client)
    for n in range(3):
        poller = build_poller(
            wf, settings=settings, celery=Celery(), cursors=store, api=Nothing(), lock=None
        )
        result = poller.run(max_pages=5)
        assert (result.pages, result.read) == (1, 0)
        with caplog.at_level(logging.WARNING, logger="hub.poll"):
            record_result(wf.name, result, settings, store)
        warned = [r for r in caplog.records if "read no record at all" in r.getMessage()]
        assert len(warned) == (1 if n == 2 else 0)
        caplog.clear()
    assert store.get(wf.name).empty_polls == 3
    (header, line) = list(cursor_lines(store, [wf.name]))
    column = header.index("silent")
    assert line[column : column + 8].strip().endswith("s")  # silent for some seconds
    assert "(from the start)" in line and "0 record(s) read" in line
    metrics = exposition(redis_client).decode()
    assert 'hub_poll_empty_polls{workflow="paid-invoices"} 3.0' in metrics
    assert 'hub_poll_silent_seconds{workflow="paid-invoices"}' in metrics


def test_a_poll_that_reads_a_record_ends_the_silence(redis_client: redis.Redis) -> None:
    store = CursorStore(redis_client)
    store.note_read("wf", 0)
    store.note_read("wf", 0)
    assert store.get("wf").empty_polls == 2 and store.get("wf").silent_since is not None
    store.note_read("wf", 1)
    cursor = store.get("wf")
    assert (cursor.empty_polls, cursor.silent_since) == (0, None)
