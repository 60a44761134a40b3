"""Plain-text and JSON views of run records and dead letters, for ``hub runs`` and ``hub dlq``."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hub.history.dead_letters import DeadLetter
from hub.history.runs import RunRecord, StepRecord

__all__ = [
    "WAITING",
    "as_json",
    "dead_letter_detail",
    "dead_letter_table",
    "parse_since",
    "run_detail",
    "run_table",
    "since_help",
]

since_help = "Only those since: a duration back from now (90s, 15m, 2h, 7d) or a date/time."

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_since(text: str, *, now: float | None = None) -> float:
    """Epoch seconds for ``text``: ``15m``, ``2h``, ``7d`` back from ``now``, or an ISO
    date/time (UTC unless it names its offset). :class:`ValueError` says what is accepted."""
    match = _DURATION.match(text)
    if match:
        return (time.time() if now is None else now) - float(match[1]) * _UNITS[match[2]]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"'{text}' is neither a duration (90s, 15m, 2h, 7d) nor a date/time "
            "(2024-05-01 or 2024-05-01T12:00:00+02:00)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _took(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return "-"
    seconds = max(0.0, end - start)
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = [header, *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _error_text(error: dict[str, Any] | None) -> str:
    if not error:
        return ""
    status = f" {error['status']}" if error.get("status") is not None else ""
    return f"{error.get('type', 'Error')}{status}: {error.get('message', '')}"


def run_table(records: Sequence[RunRecord]) -> str:
    """One line per run: id, workflow, revision, status, event, start (UTC), time, steps
    done of those started, attempts, error."""
    header = [
        "RUN",
        "WORKFLOW",
        "REVISION",
        "STATUS",
        "EVENT",
        "STARTED",
        "TOOK",
        "STEPS",
        "ATTEMPTS",
        "ERROR",
    ]
    rows = []
    for r in records:
        done = sum(1 for s in r.steps.values() if s.status in ("succeeded", "skipped"))
        attempts = sum(s.attempts for s in r.steps.values())
        rows.append(
            (
                r.run_id[:12],
                r.workflow,
                r.revision,
                r.status,
                _short(r.event_id, 24),
                _when(r.started_at),
                _took(r.started_at, r.finished_at),
                f"{done}/{len(r.steps)}",
                str(attempts),
                _short(_error_text(r.error), 60),
            )
        )
    return _table(header, rows)


def run_detail(record: RunRecord, letter: DeadLetter | None = None) -> str:
    """Everything about one run, a step per line; its dead letter, if it has one."""
    lines = [
        f"run       {record.run_id}",
        f"workflow  {record.workflow} (revision {record.revision})",
        f"event     {record.event_id}",
        f"status    {record.status}" + (f" ({record.reason})" if record.reason else ""),
        f"started   {_when(record.started_at)} UTC, took "
        f"{_took(record.started_at, record.finished_at)}",
    ]
    if record.held_at is not None:
        lines.append(f"held      {_when(record.held_at)} UTC, its workflow paused (`hub paused`)")
    if record.replay_of:
        lines.append(f"replays   run {record.replay_of}")
    if record.error:
        lines.append(f"error     {_error_text(record.error)} (step {record.error.get('step')})")
    if letter is not None:
        state = f"replayed as run {letter.replayed_as}" if letter.replayed_as else "not replayed"
        lines.append(f"dead      a dead letter, {state} (`hub dlq show {record.run_id}`)")
    header = ["STEP", "STATUS", "ATTEMPTS", "QUOTA-WAITS", "ITEMS", "STARTED", "TOOK"]
    rows = [
        (
            step_id,
            _step_status(s),
            str(s.attempts),
            str(s.quota_waits),
            "-" if s.items is None else str(s.items),
            _when(s.started_at),
            _took(s.started_at, s.finished_at),
        )
        for step_id, s in sorted(record.steps.items(), key=lambda kv: kv[1].started_at or 0)
    ]
    lines += ["", _table(header, rows)]
    for step_id, s in record.steps.items():
        if s.error:
            lines.append(f"{step_id}: {_error_text(s.error)}")
    return "\n".join(lines)


#: what a running step that was re-scheduled waits for, in words
WAITING = {
    "quota": "waiting for quota",
    "held": "held by another run's lock",
    "paused": "held: its connector is paused",
    "breaker": "held: its API client's circuit breaker is open",
    "concurrency": "waiting for its turn on a concurrency key",
}


def _step_status(step: StepRecord) -> str:
    if step.status == "running" and step.waiting:
        return f"running, {WAITING.get(step.waiting, step.waiting)}"
    return step.status


def dead_letter_table(letters: Sequence[DeadLetter]) -> str:
    """One line per dead letter: run id, time failed (UTC), workflow, step, source, event,
    attempts, status, error."""
    header = ["RUN", "FAILED", "WORKFLOW", "STEP", "SOURCE", "EVENT", "ATTEMPTS", "STATUS", "ERROR"]
    rows = []
    for d in letters:
        step = d.step if d.index is None else f"{d.step}[{d.index}]"
        rows.append(
            (
                d.run_id[:12],
                _when(d.failed_at),
                d.workflow,
                step,
                d.source,
                _short(d.event_id, 24),
                str(d.attempt_count),
                d.status,
                _short(_error_text(d.error), 60),
            )
        )
    return _table(header, rows)


def dead_letter_detail(letter: DeadLetter) -> str:
    """Everything stored about one dead letter: where and why it failed, each attempt's
    error, the event and the context the failed step was given."""
    step = letter.step if letter.index is None else f"{letter.step}[{letter.index}]"
    lines = [
        f"run       {letter.run_id}",
        f"workflow  {letter.workflow} (revision {letter.revision})",
        f"event     {letter.event_id} from {letter.source} ({letter.event_type})",
        f"failed    {_when(letter.failed_at)} UTC at step {step}",
        f"error     {_error_text(letter.error)}",
        f"status    {letter.status}",
    ]
    if letter.replayed_as:
        lines.append(f"replayed  as run {letter.replayed_as} at {_when(letter.replayed_at)} UTC")
    if letter.replay_of:
        lines.append(f"replays   run {letter.replay_of}")
    lines.append(f"attempts  {len(letter.attempts)}")
    for attempt in letter.attempts:
        at = _when(attempt["at"]) if isinstance(attempt.get("at"), int | float) else "-"
        lines.append(f"  #{attempt.get('attempt', '?')} {at}  {_error_text(attempt)}")
    lines += ["context (secrets redacted):", json.dumps(letter.context, indent=2, default=str)]
    return "\n".join(lines)


def as_json(value: Any) -> str:
    """A record, a dead letter or a list of them as indented JSON."""
    if isinstance(value, list):
        return json.dumps([_plain(v) for v in value], indent=2, default=str)
    return json.dumps(_plain(value), indent=2, default=str)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value
