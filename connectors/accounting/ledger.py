"""What a sink knows of each record: export keys, the last exported row, removals.

Every row carries its **export key**: ``<id>:<revision>`` for an export of one revision
of a record (an invoice ``_id`` and its ``updatedAt``), ``<id>:removed:<revision>`` for
the reversal written when the record is removed. A sink writes a key at most once.

Per record a sink keeps a :class:`RecordState`: the newest exported revision and its
row, and the revision at which the record was removed (reversed). From it
:func:`skip_reason` decides, before anything is written, whether a row must not be:

- an export whose key is already written: a redelivery or the other path's copy;
- an export of a revision older than the one exported: a late, stale event;
- an export of a revision at or before the removal: the record is gone;
- a reversal of a record never exported, or already reversed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

from connectors.accounting.columns import Row, negate_amount
from hub.core import FatalError
from hub.workflow import to_datetime

__all__ = [
    "Entry",
    "EntryType",
    "RecordState",
    "compare_revisions",
    "export_key",
    "merge",
    "parse_key",
    "reversal_key",
    "reversal_row",
    "skip_reason",
]

EntryType = Literal["export", "reversal"]
_REMOVED = "removed"


def _check_id(record_id: str) -> str:
    if not record_id or ":" in record_id:
        raise FatalError(f"record id {record_id!r} must be non-empty and hold no ':'")
    return record_id


def export_key(record_id: str, revision: str) -> str:
    """The key of one revision's export row."""
    return f"{_check_id(record_id)}:{revision}"


def reversal_key(record_id: str, revision: str) -> str:
    """The key of a removed record's reversal row."""
    return f"{_check_id(record_id)}:{_REMOVED}:{revision}"


def parse_key(key: str) -> tuple[str, EntryType, str]:
    """``(record id, entry type, revision)`` of an export key."""
    record_id, _, rest = key.partition(":")
    if not record_id or not rest:
        raise ValueError(f"{key!r} is not an export key")
    if rest.startswith(f"{_REMOVED}:"):
        return record_id, "reversal", rest[len(_REMOVED) + 1 :]
    return record_id, "export", rest


def compare_revisions(a: str, b: str) -> int:
    """-1, 0 or 1: as instants when both read as dates, else as text."""
    left: Any
    right: Any
    try:
        left, right = to_datetime(a), to_datetime(b)
    except (TypeError, ValueError, OverflowError):
        left, right = a, b
    return int(left > right) - int(left < right)


@dataclass(frozen=True)
class Entry:
    """One row as written: its key, what it is, and its cells (system columns too)."""

    key: str
    row: Row

    @property
    def record_id(self) -> str:
        return parse_key(self.key)[0]

    @property
    def entry_type(self) -> EntryType:
        return parse_key(self.key)[1]

    @property
    def revision(self) -> str:
        return parse_key(self.key)[2]


@dataclass
class RecordState:
    """The newest exported revision of a record and its row; when it was removed."""

    revision: str | None = None
    key: str | None = None
    row: Row | None = None
    removed: str | None = None

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str | bytes | None) -> RecordState | None:
        return None if raw is None else cls(**json.loads(raw))


def merge(state: RecordState | None, entry: Entry) -> RecordState:
    """``state`` after ``entry`` was written (rows may be met in any order)."""
    merged = RecordState() if state is None else RecordState(**asdict(state))
    if entry.entry_type == "reversal":
        if merged.removed is None or compare_revisions(entry.revision, merged.removed) > 0:
            merged.removed = entry.revision
        return merged
    if merged.revision is None or compare_revisions(entry.revision, merged.revision) >= 0:
        merged.revision, merged.key, merged.row = entry.revision, entry.key, dict(entry.row)
    return merged


def skip_reason(state: RecordState | None, key: str, *, written: bool) -> str | None:
    """Why the row with ``key`` must not be written, or None to write it."""
    record_id, entry_type, revision = parse_key(key)
    if entry_type == "reversal":
        if written:
            return f"reversal {key} is already written"
        if state is None or state.row is None:
            return f"{record_id} was never exported: nothing to reverse"
        if state.removed is not None:
            return f"{record_id} was already reversed (removed at {state.removed})"
        return None
    if written:
        return f"{key} is already exported"
    if state is None:
        return None
    if state.removed is not None and compare_revisions(revision, state.removed) <= 0:
        return f"{record_id} was removed at {state.removed}: revision {revision} is not exported"
    if state.revision is not None and compare_revisions(revision, state.revision) < 0:
        return f"revision {revision} of {record_id} is older than the exported {state.revision}"
    return None


def reversal_row(state: RecordState, columns: list[str], amounts: set[str]) -> Row:
    """The last exported row's cells for ``columns``, amounts with their sign turned."""
    last = state.row or {}
    return {
        name: negate_amount(last.get(name)) if name in amounts else last.get(name)
        for name in columns
    }
