"""One poll of a poll workflow: read pages after the cursor, hand each record on, advance.

Pure of Celery: :class:`Poller` takes a ``fetch`` (one page of the poll operation after
a position) and a ``hand_on`` (give one record to the intake, which starts its run
unless the workflow's ``if`` keeps it out), so it is tested with plain functions.

A poll operation answers ``{"records": [...], "entity": "invoice", "id_field": "_id",
"field": "updatedAt"}``, the records ordered by (field, id) and all after the position
asked (a connector's poll operation pages its upstream so). For each page, in order:

1. every record not handed on before is handed on as the event
   ``<source>-<entity>:<id>:<value>`` (``billing-invoice:64f...:2024-03-01T10:00:00.000Z``)
   of type ``<entity>.poll``, the record as its body;
2. only then the cursor moves to the page's last record (never backwards), with the
   records handed on remembered: a poll that dies in between hands the page on again,
   and the export step's idempotency makes that harmless.

A poll starts ``overlap`` seconds before its cursor (dates only), for records that show
up late with an earlier time, and skips what it remembers handing on; a poll that goes
on after a pause (``resume``) starts right after its cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from hub.core import FatalError
from hub.polling.cursors import CursorStore, cursor_seconds, position_before, recent_member

__all__ = ["HandOn", "PollResult", "Poller", "poll_event_id"]

log = logging.getLogger("hub.poll")

#: how long past the overlap handed-on keys are kept
_KEEP_SLACK_SECONDS = 60.0

Fetch = Callable[[dict[str, Any] | None], Mapping[str, Any]]
#: ``(record, event_id, event_type) -> started``: False when the workflow's ``if`` kept
#: the record out
HandOn = Callable[[dict[str, Any], str, str], bool]


def poll_event_id(source: str, entity: str, record_id: str, value: Any) -> str:
    """``<source>-<entity>:<id>:<value>`` (``billing-invoice:<id>:<updatedAt>``): one id
    per revision of a record."""
    return f"{source}-{entity}:{record_id}:{value}"


@dataclass
class PollResult:
    """What one poll did; ``more``: it stopped at its page limit with pages left."""

    pages: int = 0
    handed_on: int = 0
    already: int = 0
    filtered: int = 0
    more: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _later(a: tuple[Any, str], b: tuple[Any, str]) -> tuple[Any, str]:
    try:
        return a if a >= b else b
    except TypeError:
        return b


class Poller:
    """Polls ``workflow`` once (up to ``max_pages``)."""

    def __init__(
        self,
        workflow: str,
        *,
        source: str,
        fetch: Fetch,
        hand_on: HandOn,
        cursors: CursorStore,
        overlap_seconds: float = 0.0,
        page_limit: int | None = None,
        lock: tuple[str, str] | None = None,
        lock_ttl_seconds: float = 60.0,
    ) -> None:
        self.workflow = workflow
        self.source = source
        self._fetch = fetch
        self._hand_on = hand_on
        self._cursors = cursors
        self._overlap = overlap_seconds
        self._page_limit = page_limit
        self._lock = lock
        self._lock_ttl = lock_ttl_seconds

    def run(self, max_pages: int, *, resume: bool = False) -> PollResult:
        """Poll from the cursor, ``overlap`` seconds before it unless ``resume`` (going
        on with a poll that stopped for quota, an upstream error or its page limit)."""
        result = PollResult()
        cursor = self._cursors.get(self.workflow)
        stored: tuple[Any, str] | None = None
        position: dict[str, Any] | None = None
        recent: set[str] = set()
        if cursor.started:
            stored = (cursor.value, cursor.id)
            start = cursor.value if resume else position_before(cursor.value, self._overlap)
            position = {"value": start, "id": "" if start != cursor.value else cursor.id}
            recent = self._cursors.recent(self.workflow, cursor_seconds(start))
        while result.pages < max_pages:
            answer = self._fetch(position)
            result.pages += 1
            records = list(answer.get("records") or [])
            if not records:
                return result
            last, handed = self._hand_on_page(records, answer, recent, result)
            stored = last if stored is None else _later(stored, last)
            self._advance(stored, handed)
            position = {"value": last[0], "id": last[1]}
            if self._page_limit is not None and len(records) < self._page_limit:
                return result
        result.more = True
        return result

    def _hand_on_page(
        self,
        records: list[Any],
        answer: Mapping[str, Any],
        recent: set[str],
        result: PollResult,
    ) -> tuple[tuple[Any, str], list[tuple[str, Any]]]:
        """Start runs for the new records of one page; its last position, what was seen."""
        field, id_field = str(answer.get("field")), str(answer.get("id_field"))
        entity = str(answer.get("entity") or "record")
        handed: list[tuple[str, Any]] = []
        for record in records:
            if not isinstance(record, dict) or field not in record or id_field not in record:
                raise FatalError(
                    f"poll of {self.workflow}: a record without '{field}' or '{id_field}'"
                )
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
        last = records[-1]
        return (last[field], str(last[id_field])), handed

    def _advance(self, position: tuple[Any, str], handed: list[tuple[str, Any]]) -> None:
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
        log.info("poll %s: %d handed on, cursor at %s %s", self.workflow, len(handed), *position)
