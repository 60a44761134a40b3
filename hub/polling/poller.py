"""One poll of a poll workflow: read a window of changed records, hand each on, advance.

Pure of Celery: :class:`Poller` takes a ``fetch`` (one page of the poll operation) and a
``hand_on`` (give one record to the intake, which starts its run unless the workflow's
``if`` keeps it out), so it is tested with plain functions.

A poll reads a **window**: the records whose cursor field is at or after a value (every
record, before a first poll). A poll operation is asked for one page of it with the
window's start (``after``: ``{"value": ..., "id": ""}``, or ``None``) and the
continuation its previous page answered (``page``; ``None`` for the first), and answers
``{"records": [...], "entity": "invoice", "id_field": "_id", "field": "updatedAt",
"next": ...}``: records of the window **in whatever order the upstream keeps them**, and
``next``, the continuation (``None``: this page ended the window). A connector needs no
sorting from its upstream, only a filter on the cursor field and paging. For each page:

1. its records, sorted by (field, id), are handed on unless handed on before, each as the
   event ``<source>-<entity>:<id>:<value>``
   (``billing-invoice:64f...:2024-03-01T10:00:00.000Z``) of type ``<entity>.poll``;
2. what was handed on is remembered, with the window's continuation, so the next poll
   task goes on where this one stopped; a poll that dies in between hands the page on
   again, and the export step's idempotency makes that harmless;
3. when the page ended the window, and only then, the cursor moves to the last position
   read (never backwards): every record before it has been handed on. It never moves
   past the moment the window was opened (date cursors, on ``now``): a record changed
   while the window was read may sit at a place already read, and its new time is at or
   after that moment, so the next window reads it.

A window starts ``overlap`` seconds before the cursor (dates only), for records that show
up late with an earlier time, and skips what it remembers handing on; a poll that goes
on after a pause (``resume``) with no window open starts at its cursor. A poll that read
``max_pages`` pages with its window still open says ``more``: the next poll task goes on
with the same window.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from hub.core import FatalError
from hub.polling.cursors import (
    CursorStore,
    cursor_seconds,
    date_value,
    position_before,
    recent_member,
)

__all__ = ["Fetch", "HandOn", "PollResult", "Poller", "Window", "poll_event_id"]

log = logging.getLogger("hub.poll")

#: how long past the overlap handed-on keys are kept
_KEEP_SLACK_SECONDS = 60.0

#: ``(after, page) -> answer``: one page of the poll operation
Fetch = Callable[[dict[str, Any] | None, Any], Mapping[str, Any]]
#: ``(record, event_id, event_type) -> started``: False when the workflow's ``if`` kept
#: the record out
HandOn = Callable[[dict[str, Any], str, str], bool]


def poll_event_id(source: str, entity: str, record_id: str, value: Any) -> str:
    """``<source>-<entity>:<id>:<value>`` (``billing-invoice:<id>:<updatedAt>``): one id
    per revision of a record."""
    return f"{source}-{entity}:{record_id}:{value}"


@dataclass
class PollResult:
    """What one poll did; ``read``: records the upstream answered (handed on before or
    not); ``more``: it stopped at its page limit with its window still open."""

    pages: int = 0
    read: int = 0
    handed_on: int = 0
    already: int = 0
    filtered: int = 0
    more: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Window:
    """A window being read: from ``start`` (``None``: every record), opened at
    ``opened_at`` (``now``'s seconds), the operation's continuation for the next page, the
    last position read so far (``[value, id]``), and pages and records read."""

    start: Any = None
    opened_at: float = 0.0
    page: Any = None
    high: list[Any] | None = None
    pages: int = 0
    read: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Window:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _order(value: Any) -> tuple[int, Any]:
    """A sort key for cursor values of any JSON type (numbers, then text, then others)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, json.dumps(value, sort_keys=True, default=str))


def _position_key(position: tuple[Any, str]) -> tuple[tuple[int, Any], str]:
    return (_order(position[0]), str(position[1]))


def _later(a: tuple[Any, str], b: tuple[Any, str]) -> tuple[Any, str]:
    return a if _position_key(a) >= _position_key(b) else b


class Poller:
    """Polls ``workflow`` once (up to ``max_pages``); ``now`` is the clock a window's
    opening is read on."""

    def __init__(
        self,
        workflow: str,
        *,
        source: str,
        fetch: Fetch,
        hand_on: HandOn,
        cursors: CursorStore,
        overlap_seconds: float = 0.0,
        lock: tuple[str, str] | None = None,
        lock_ttl_seconds: float = 60.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.workflow = workflow
        self.source = source
        self._fetch = fetch
        self._hand_on = hand_on
        self._cursors = cursors
        self._overlap = overlap_seconds
        self._lock = lock
        self._lock_ttl = lock_ttl_seconds
        self._now = now

    def run(self, max_pages: int, *, resume: bool = False) -> PollResult:
        """Poll: go on with the open window, or open one ``overlap`` seconds before the
        cursor (at the cursor with ``resume``: going on after a pause)."""
        result = PollResult()
        cursor = self._cursors.get(self.workflow)
        stored = (cursor.value, cursor.id) if cursor.started else None
        window = Window.from_json(cursor.window) if cursor.window else None
        if window is None:
            start = None
            if stored is not None:
                start = stored[0] if resume else position_before(stored[0], self._overlap)
            window = Window(start=start, opened_at=self._now())
        since = None if window.start is None else cursor_seconds(window.start)
        recent = self._cursors.recent(self.workflow, since)
        while result.pages < max_pages:
            after = None if window.start is None else {"value": window.start, "id": ""}
            answer = self._fetch(after, window.page)
            result.pages += 1
            handed = self._hand_on_page(answer, window, recent, result)
            if answer.get("next") is None:
                self._close(window, stored, handed)
                return result
            window.page = answer["next"]
            self._cursors.remember(
                self.workflow,
                handed,
                window=window.to_json(),
                seen=len(handed),
                lock=self._lock,
                lock_ttl_seconds=self._lock_ttl,
            )
        result.more = True
        return result

    def _records(self, answer: Mapping[str, Any]) -> list[dict[str, Any]]:
        field, id_field = str(answer.get("field")), str(answer.get("id_field"))
        records = list(answer.get("records") or [])
        for record in records:
            if not isinstance(record, dict) or field not in record or id_field not in record:
                raise FatalError(
                    f"poll of {self.workflow}: a record without '{field}' or '{id_field}'"
                )
        return sorted(records, key=lambda r: (_order(r[field]), str(r[id_field])))

    def _hand_on_page(
        self,
        answer: Mapping[str, Any],
        window: Window,
        recent: set[str],
        result: PollResult,
    ) -> list[tuple[str, Any]]:
        """Start runs for the new records of one page; what was handed on."""
        records = self._records(answer)
        field, id_field = str(answer.get("field")), str(answer.get("id_field"))
        entity = str(answer.get("entity") or "record")
        handed: list[tuple[str, Any]] = []
        for record in records:
            rid, value = str(record[id_field]), record[field]
            member = recent_member(rid, value)
            if member in recent:
                result.already += 1
                continue
            event_id = poll_event_id(self.source, entity, rid, value)
            if self._hand_on(record, event_id, f"{entity}.poll"):
                result.handed_on += 1
            else:
                result.filtered += 1
            handed.append((rid, value))
            recent.add(member)
        if records:
            last = (records[-1][field], str(records[-1][id_field]))
            if window.high is not None:
                last = _later(last, (window.high[0], str(window.high[1])))
            window.high = list(last)
        window.pages += 1
        window.read += len(records)
        result.read += len(records)
        return handed

    def _close(
        self, window: Window, stored: tuple[Any, str] | None, handed: list[tuple[str, Any]]
    ) -> None:
        """The window was read to its end: move the cursor (see the module's docstring)."""
        if window.high is None:  # nothing at all from the window's start on
            self._cursors.remember(
                self.workflow,
                handed,
                window=None,
                seen=0,
                lock=self._lock,
                lock_ttl_seconds=self._lock_ttl,
            )
            return
        position: tuple[Any, str] = (window.high[0], str(window.high[1]))
        seconds = cursor_seconds(position[0]) if isinstance(position[0], str) else None
        if seconds is not None and seconds > window.opened_at:
            position = (date_value(window.opened_at), "")
        if stored is not None:
            position = _later(stored, position)
        seconds = cursor_seconds(position[0])
        keep = None if seconds is None else seconds - self._overlap - _KEEP_SLACK_SECONDS
        self._cursors.advance(
            self.workflow,
            position[0],
            position[1],
            handed,
            seen=len(handed),
            keep_seconds=keep,
            lock=self._lock,
            lock_ttl_seconds=self._lock_ttl,
        )
        log.info(
            "poll %s: window read (%d page(s), %d record(s)), cursor at %s %s",
            self.workflow,
            window.pages,
            window.read,
            *position,
        )
