"""What ``hub cursors`` shows and does: a line per poll workflow; a reset under the lock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from hub.core import ConfigError, release_lock, try_lock
from hub.polling.cursors import CursorStore
from hub.polling.poll_task import poll_lock_key
from hub.polling.silence import duration_text

__all__ = ["cursor_lines", "reset_cursor"]


def _when(seconds: str | float | None) -> str:
    if seconds in (None, ""):
        return "-"
    moment = datetime.fromtimestamp(float(seconds), tz=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _silent(seconds: str | None) -> str:
    """The ``silent`` column: how long the workflow's polls have read nothing, or ``-``
    (see :mod:`hub.polling.silence`)."""
    still = float(seconds or 0)
    return duration_text(still) if still > 0 else "-"


def cursor_lines(store: CursorStore, polled: Iterable[str]) -> Iterator[str]:
    """A header, then one line per workflow polled or holding a cursor."""
    names = sorted(set(polled) | set(store.workflows()))
    yield f"{'workflow':<44} {'cursor':<26} {'seen':>7}  {'silent':<8}  last poll"
    if not names:
        yield "(no poll workflows)"
    for name in names:
        cursor = store.get(name)
        value = "(from the start)" if not cursor.started else str(cursor.value)
        last = cursor.last
        summary = "never"
        if last:
            summary = _when(last.get("at"))
            if last.get("error"):
                summary += f"  error: {last['error']}"
            elif "pages" in last:
                summary += (
                    f"  {last['pages']} page(s), {last.get('read', 0)} record(s) read, "
                    f"{last.get('handed_on', 0)} run(s) started, "
                    f"{last.get('already', 0)} already handed on, "
                    f"{last.get('filtered', 0)} filtered out"
                )
        if cursor.window:
            summary += f"  (window open: {cursor.window.get('pages', 0)} page(s) read)"
        silent = _silent(last.get("silent") if last else None)
        yield f"{name:<44} {value:<26} {cursor.seen:>7}  {silent:<8}  {summary}"


def reset_cursor(
    store: CursorStore,
    redis: Any,
    workflow: str,
    to: Any,
    *,
    wait: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Reset ``workflow``'s cursor, holding its poll lock so no poll moves it meanwhile."""
    key = poll_lock_key(workflow)
    deadline = time.monotonic() + wait
    token = try_lock(redis, key, ttl_seconds=30)
    while token is None:
        if time.monotonic() > deadline:
            raise ConfigError(f"a poll of {workflow} has been running for {wait:.0f}s; retry")
        sleep(0.2)
        token = try_lock(redis, key, ttl_seconds=30)
    try:
        store.reset(workflow, to)
    finally:
        release_lock(redis, key, token)
