"""Finding runs in the run records: by event, workflow, status and time (``hub runs``)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.history.runs import RunRecord, RunStore

__all__ = ["RunFilter", "find_runs"]


@dataclass(frozen=True)
class RunFilter:
    """Which runs to list (every field optional)."""

    event_id: str | None = None
    workflow: str | None = None
    status: str | None = None
    #: started at or after this epoch time
    since: float | None = None

    def matches(self, record: RunRecord) -> bool:
        if self.event_id is not None and record.event_id != self.event_id:
            return False
        if self.workflow is not None and record.workflow != self.workflow:
            return False
        if self.status is not None and record.status != self.status:
            return False
        started = record.started_at
        return self.since is None or (started is not None and started >= self.since)


def find_runs(runs: RunStore, where: RunFilter, *, limit: int = 50) -> list[RunRecord]:
    """Up to ``limit`` runs matching ``where``, newest first.

    With an event id this reads that event's runs only; otherwise it pages through the
    run list (newest first, from ``since``) until it has found ``limit``.
    """
    found: list[RunRecord] = []

    def take(ids: list[str]) -> bool:
        for record in runs.get_many(ids):
            if record is not None and where.matches(record):
                found.append(record)
                if len(found) >= limit:
                    return True
        return False

    if where.event_id is not None:
        take(runs.for_event(where.event_id))
        return found
    start, page = 0, 500
    while True:
        ids = runs.listed(where.since, start=start, count=page)
        if not ids or take(ids) or len(ids) < page:
            return found
        start += len(ids)
