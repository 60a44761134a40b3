"""Silence is not success: a poll workflow that keeps reading nothing is reported.

A poll re-reads the record its cursor stands on (its window starts at or before it), so
a poll that read no record at all means the upstream answered nothing: it has no record
yet, removed them, or does not honour the query the poll sends (a filter it reads
differently, a parameter it takes for a filter). The export then does nothing, silently.
So a workflow whose last ``polls`` polls read nothing while its cursor stood still for
``seconds`` (since its first empty poll, if it never moved) is *silent*: each of its polls
logs a warning, ``hub cursors`` shows it and the metric ``hub_poll_silent_seconds`` says
how long.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.polling.cursors import Cursor

__all__ = ["SilenceRule", "duration_text", "silence_message", "silent_for"]


@dataclass(frozen=True)
class SilenceRule:
    """Silent: the last ``polls`` polls read nothing, the cursor still for ``seconds``."""

    polls: int = 3
    seconds: float = 86_400.0


def silent_for(cursor: Cursor, now: float, rule: SilenceRule) -> float | None:
    """How long ``cursor`` has stood still while its polls read nothing; ``None`` when it
    is not silent."""
    if cursor.empty_polls < rule.polls or cursor.silent_since is None:
        return None
    still_since = cursor.updated_at if cursor.started else None
    if still_since is None or still_since > cursor.silent_since:
        still_since = cursor.silent_since
    still = max(0.0, now - still_since)
    return still if still >= rule.seconds else None


def duration_text(seconds: float) -> str:
    """``90s``, ``15m``, ``26h``."""
    if seconds >= 7200:
        return f"{seconds / 3600:.0f}h"
    if seconds >= 120:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.0f}s"


def silence_message(workflow: str, cursor: Cursor, still: float) -> str:
    """The warning for a silent ``workflow``."""
    where = "has not moved" if cursor.started else "never moved"
    return (
        f"poll {workflow}: the last {cursor.empty_polls} polls read no record at all and "
        f"the cursor {where} for {duration_text(still)}: the upstream answered nothing; check "
        "that it has records and honours the poll's query (`hub cursors`)"
    )
