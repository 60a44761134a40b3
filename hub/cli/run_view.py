"""``hub up``'s view of the runs: a line per run as it ends, or as it starts to wait.

Each line says when, which workflow, which event, how the run went (``succeeded``,
``failed`` with the short error, ``skipped`` with why, or, while it runs, ``waiting for
quota``, ``waiting for a key`` another run holds, ``waiting its turn`` on a
concurrency key, ``held`` by an operator's pause or ``breaker open``), how long it took,
and the command that shows the rest. :class:`RunWatcher` reads the run records in Redis
(the worker writes them), so it sees the runs of every worker and every way in: webhooks,
polls, schedules, replays.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hub.cli.console import Console
from hub.history import RunRecord, RunStore

__all__ = ["RunWatcher", "describe_run", "format_duration"]

#: outcome -> colour
_COLOURS = {
    "succeeded": "green",
    "failed": "red",
    "skipped": None,
    "waiting for a key": "yellow",
    "waiting for quota": "yellow",
    "held": "yellow",
    "breaker open": "yellow",
    "waiting its turn": "yellow",
}
#: statuses of a run that has not ended: a held run starts when its workflow resumes
_NOT_ENDED = frozenset({"running", "held"})
_OUTCOME_WIDTH = max(len(outcome) for outcome in _COLOURS)
#: how far back of the newest run seen the next look starts (runs are listed by start,
#: and one started a little earlier may be recorded a little later)
_OVERLAP_SECONDS = 30.0


def format_duration(seconds: float) -> str:
    """``85ms``, ``1.24s``, ``12.5s``, ``3m 05s``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest:02d}s"


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def describe_run(record: RunRecord) -> tuple[str, str] | None:
    """(outcome, detail) of ``record`` now; None while it runs with nothing to say."""
    if record.status == "succeeded":
        return "succeeded", ""
    if record.status == "failed":
        error = record.error or {}
        where = f"at {error['step']}: " if error.get("step") else ""
        return "failed", _short(where + str(error.get("message") or "no error recorded"))
    if record.status == "skipped":
        return "skipped", _short(record.reason or "")
    if record.status == "held":
        return "held", "its workflow is paused (hub paused)"
    for step_id, step in record.steps.items():
        if step.status == "running" and step.waiting == "paused":
            return "held", f"at {step_id}: its connector is paused (hub paused)"
        if step.status == "running" and step.waiting == "breaker":
            return "breaker open", f"at {step_id}: its upstream keeps failing (hub quota)"
        if step.status == "running" and step.waiting == "quota":
            return "waiting for quota", f"at {step_id}"
        if step.status == "running" and step.waiting == "held":
            return "waiting for a key", f"at {step_id}: another run holds its lock"
        if step.status == "running" and step.waiting == "concurrency":
            return "waiting its turn", f"at {step_id}: on a concurrency key"
    return None


@dataclass
class _Widths:
    """Column widths, growing to the longest value seen, so lines stay aligned (event
    ids start at 32, the length of a hex uuid)."""

    workflow: int = 0
    event: int = 32

    def fit(self, record: RunRecord) -> None:
        self.workflow = max(self.workflow, len(record.workflow))
        self.event = max(self.event, len(record.event_id))


@dataclass
class RunWatcher:
    """Shows the runs started since ``since`` (epoch seconds) as ``store`` records them."""

    store: RunStore
    console: Console
    since: float
    clock: Callable[[], float] = time.time
    widths: _Widths = field(default_factory=_Widths)
    _seen: dict[str, float] = field(default_factory=dict)
    _pending: list[str] = field(default_factory=list)
    _told: dict[str, str] = field(default_factory=dict)

    def expect_workflows(self, names: Iterable[str]) -> None:
        """Size the workflow column for ``names`` at once."""
        self.widths.workflow = max([self.widths.workflow, *(len(n) for n in names)])

    def poll(self) -> None:
        """Look once: show every run that ended or started to wait since the last look."""
        self._find_new()
        if not self._pending:
            return
        records = self.store.get_many(self._pending)
        running = [r for r in records if r is not None and r.status in _NOT_ENDED]
        ended = [r for r in records if r is not None and r.status not in _NOT_ENDED]
        for record in sorted(ended, key=lambda r: r.finished_at or 0.0):
            described = describe_run(record)
            if described is not None:
                self.console.echo(self.line(record, *described))
            self._told.pop(record.run_id, None)
        for record in running:
            self._tell_wait(record)
        self._pending = [r.run_id for r in running]

    def _find_new(self) -> None:
        start, page = 0, 500
        while True:
            ids = self.store.listed(self.since, start=start, count=page)
            fresh = [i for i in ids if i not in self._seen]
            for run_id in reversed(fresh):  # oldest first
                self._seen[run_id] = self.clock()
                self._pending.append(run_id)
            if len(ids) < page:
                break
            start += page
        horizon = self.clock() - 10 * _OVERLAP_SECONDS
        self._seen = {i: at for i, at in self._seen.items() if at >= horizon}
        self.since = max(self.since, self.clock() - _OVERLAP_SECONDS)

    def _tell_wait(self, record: RunRecord) -> None:
        described = describe_run(record)
        if described is None or self._told.get(record.run_id) == described[0]:
            return
        self._told[record.run_id] = described[0]
        self.console.echo(self.line(record, *described))

    def line(self, record: RunRecord, outcome: str, detail: str) -> str:
        """The line for ``record``: time, workflow, event, outcome, duration, command,
        and the detail (the short error, the wait)."""
        self.widths.fit(record)
        now = self.clock()
        end = record.finished_at if record.finished_at is not None else now
        took = format_duration(max(0.0, end - (record.started_at or end)))
        stamp = time.strftime("%H:%M:%S", time.localtime(end))
        shown = self.console.style(f"{outcome:<{_OUTCOME_WIDTH}}", _COLOURS.get(outcome))
        parts = [
            stamp,
            f"{record.workflow:<{self.widths.workflow}}",
            f"{record.event_id:<{self.widths.event}}",
            shown,
            f"{took:>7}",
            f"hub runs show {record.run_id[:12]}",
        ]
        if detail:
            parts.append(detail)
        return "  ".join(parts)

    def watch(self, stop: threading.Event, interval: float = 0.5) -> threading.Thread:
        """Look every ``interval`` seconds in a thread until ``stop`` is set."""
        thread = threading.Thread(target=self._loop, args=(stop, interval), daemon=True)
        thread.start()
        return thread

    def _loop(self, stop: threading.Event, interval: float) -> None:
        while not stop.wait(interval):
            try:
                self.poll()
            except Exception as exc:  # Redis going away as `hub up` stops, for one
                if not stop.is_set():
                    self.console.echo(f"(the run view could not read the runs: {exc})")
