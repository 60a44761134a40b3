"""What ``hub quota`` adds under its budgets: circuit breakers and what pauses hold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.cli.quota import format_duration
from hub.core import Pause
from hub.http import BreakerStatus

__all__ = ["controls_json", "format_controls"]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _breaker_row(b: BreakerStatus) -> list[str]:
    state = b.state.replace("_", "-")
    if b.state == "open":
        state += f" (probe in {format_duration(b.probe_in_seconds)})"
    window = f"{b.failures}/{b.calls}" if b.state == "closed" else "-"
    return [b.key, state, window, str(b.held_steps), str(b.opens), str(b.transitions["open"])]


def format_controls(breakers: Sequence[BreakerStatus], pauses: Sequence[Pause]) -> str:
    """The circuit breakers (one row per API client), then what is paused and holds."""
    lines = []
    if breakers:
        head = ["client", "breaker", "failed/calls", "held steps", "opens in a row", "opened"]
        lines += ["", *_table([head, *(_breaker_row(b) for b in breakers)])]
    holding = [p for p in pauses if p.kind != "source"]
    if pauses:
        lines += ["", "paused (hub paused): " + ", ".join(f"{p.kind} {p.name}" for p in pauses)]
    for p in holding:
        what = "held runs" if p.kind == "workflow" else "held steps"
        lines.append(f"  {p.kind} {p.name}: {p.held} {what}")
    return "\n".join(lines)


def controls_json(breakers: Sequence[BreakerStatus], pauses: Sequence[Pause]) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "breakers": [asdict(b) for b in breakers],
        "paused": [asdict(p) for p in pauses],
    }
