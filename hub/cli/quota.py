"""``hub quota``: the quota figures as a table an operator reads at a glance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hub.http import PRIORITIES, BudgetStatus
from hub.worker import STEP_QUEUES

__all__ = ["broker_queue_lengths", "format_duration", "format_quota_table"]


def format_duration(seconds: float) -> str:
    """``0s``, ``4.2s``, ``12m 5s``, ``3h 2m``."""
    if seconds <= 0:
        return "now"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m"


def broker_queue_lengths(redis: Any) -> dict[str, int]:
    """Messages no worker has taken yet, per step queue."""
    return {queue: int(redis.llen(queue)) for queue in STEP_QUEUES}


def _row(b: BudgetStatus) -> list[str]:
    waiting = "/".join(str(b.waiting[p]) for p in PRIORITIES)
    next_free = format_duration(b.next_free_seconds)
    if b.paused_seconds > 0:
        next_free += f" (paused {format_duration(b.paused_seconds)})"
    return [
        b.key,
        f"{b.effective_limit}/{b.limit}",
        format_duration(b.window_seconds),
        str(b.used),
        str(b.remaining),
        next_free,
        waiting,
        format_duration(b.drain_seconds) if b.waiting_total else "-",
        str(b.repeated),
        f"{b.unused_calls:.1f}",
    ]


def format_quota_table(budgets: Sequence[BudgetStatus], queued: Mapping[str, int]) -> str:
    """One row per budget, then the broker queues."""
    head = [
        "client",
        "limit (hub/upstream)",
        "window",
        "used",
        "remaining",
        "next free slot",
        "waiting i/d/b",
        "drain",
        "calls repeated",
        "unused while waiting",
    ]
    rows = [head, *(_row(b) for b in budgets)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    if not budgets:
        lines.append("(no budget used yet)")
    lines.append("")
    lines.append(
        "not started yet (broker): "
        + ", ".join(f"{queue} {count}" for queue, count in queued.items())
    )
    return "\n".join(lines)
