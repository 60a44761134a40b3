"""``hub status``: the hub on one screen, read from Redis.

The processes seen (workers by host, beat, ingresses: :mod:`hub.core.presence`), the
messages waiting in each step queue, the last hour's runs by outcome, the dead letters
not replayed, and each API client's quota with the time its backlog takes to drain.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.cli.support import connect_redis, redis_location, require_redis

if TYPE_CHECKING:  # the figures' modules are imported when the command runs
    from hub.core import Seen
    from hub.http import BudgetStatus

__all__ = ["Status", "gather", "render", "runs_by_outcome", "status"]

#: the kinds of process a hub has, in the order shown
KINDS = ("worker", "beat", "ingress")
#: the runs counted, back from now
RUNS_WINDOW_SECONDS = 3600.0
#: the outcomes counted, in the order shown
OUTCOMES = ("succeeded", "failed", "skipped", "running")


@dataclass(frozen=True)
class Status:
    """What ``hub status`` shows, at ``at`` (epoch seconds)."""

    at: float
    redis: str
    processes: list[Seen]
    queues: dict[str, int]
    runs: dict[str, int]
    dead_letters: dict[str, int]
    budgets: list[BudgetStatus]


def runs_by_outcome(redis: Any, since: float) -> dict[str, int]:
    """How many runs started at or after ``since`` ended each way (or run still)."""
    from hub.history import RunStore

    store = RunStore(redis)
    counts: Counter[str] = Counter()
    start, page = 0, 1000
    while True:
        ids = store.listed(since, start=start, count=page)
        counts.update(s for s in store.statuses(ids) if s is not None)
        if len(ids) < page:
            return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}
        start += page


def gather(redis: Any, url: str, now: float | None = None) -> Status:
    """Every figure ``hub status`` shows, read from ``redis`` (at ``url``)."""
    from hub.cli.quota import broker_queue_lengths
    from hub.core import seen
    from hub.history import dead_letter_counts
    from hub.http import quota_status

    now = time.time() if now is None else now
    return Status(
        at=now,
        redis=redis_location(url),
        processes=seen(redis, now=now),
        queues=broker_queue_lengths(redis),
        runs=runs_by_outcome(redis, now - RUNS_WINDOW_SECONDS),
        dead_letters=dead_letter_counts(redis),
        budgets=quota_status(redis),
    )


def _ago(status: Status, then: float) -> str:
    return f"{max(0.0, status.at - then):.0f}s ago"


def _process_lines(status: Status) -> list[str]:
    lines = ["processes"]
    for kind in KINDS:
        mine = [p for p in status.processes if p.kind == kind]
        if not mine:
            lines.append(f"  {kind:<8} none seen (start `hub {_COMMAND[kind]}`)")
            continue
        for host in sorted({p.host for p in mine}):
            on_host = [p for p in mine if p.host == host]
            names = ", ".join(_process_name(p) for p in on_host)
            last = _ago(status, min(p.seen_at for p in on_host))
            lines.append(f"  {kind:<8} {host}: {names}  (seen {last})")
    return lines


_COMMAND = {"worker": "worker", "beat": "beat", "ingress": "serve"}


def _process_name(process: Seen) -> str:
    if process.kind == "worker":
        size = process.detail.get("concurrency")
        return f"{process.name} ({size} processes)" if size else process.name
    if process.kind == "ingress" and process.detail.get("port"):
        return f"pid {process.pid} on port {process.detail['port']}"
    return f"pid {process.pid}"


def _quota_lines(budgets: Sequence[BudgetStatus]) -> list[str]:
    from hub.cli.quota import format_duration

    lines = ["quota (per API client)"]
    if not budgets:
        return [*lines, "  no calls made yet"]
    width = max(len(b.key) for b in budgets)
    for b in budgets:
        waiting = b.waiting_total
        backlog = f"{waiting} waiting, drained in {format_duration(b.drain_seconds)}"
        paused = f", paused {format_duration(b.paused_seconds)}" if b.paused_seconds > 0 else ""
        lines.append(
            f"  {b.key:<{width}}  {b.used}/{b.effective_limit} used in "
            f"{format_duration(b.window_seconds)}, {b.remaining} left; "
            f"{backlog if waiting else 'nothing waiting'}{paused}"
        )
    return lines


def render(status: Status) -> str:
    """``status`` as one screen of text."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(status.at))
    queues = ", ".join(f"{queue} {count}" for queue, count in status.queues.items())
    runs = ", ".join(f"{count} {outcome}" for outcome, count in status.runs.items())
    dead = sum(status.dead_letters.values())
    by_workflow = ", ".join(f"{w} {n}" for w, n in sorted(status.dead_letters.items()))
    letters = f" ({by_workflow}; `hub dlq list`)" if dead else ""
    lines = [
        f"hub status at {stamp}, Redis {status.redis}",
        "",
        *_process_lines(status),
        "",
        f"queues (not started yet): {queues}",
        f"runs in the last hour: {runs}",
        f"dead letters not replayed: {dead}{letters}",
        "",
        *_quota_lines(status.budgets),
    ]
    return "\n".join(lines)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """The hub on one screen: processes seen, queues, the last hour's runs, dead letters,
    each API client's quota and backlog."""
    url = require_redis()
    report = gather(connect_redis(), url)
    if as_json:
        data = asdict(report)
        data["budgets"] = [b.to_json() for b in report.budgets]
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    typer.echo(render(report))
