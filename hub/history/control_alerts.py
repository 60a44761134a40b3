"""The operator controls' transitions as hub events, for alert workflows.

:class:`ControlAlerts` is a :class:`~hub.core.control_events.ControlEvents` hook: it turns

- a breaker that opens (from closed) into ``breaker.opened`` and one that closes into
  ``breaker.closed`` (``client``, ``state``, ``previous``, ``calls``, ``failures``,
  ``open_seconds``), grouped per client and event type for ``HUB_ALERT_WINDOW_SECONDS``
  (a reopen after a failed probe, and going half-open, are no news);
- a workflow paused or resumed into ``workflow.paused`` / ``workflow.resumed``
  (``workflow``, ``by``, ``reason``, and ``released``: the held runs it released).

Pauses of sources and connectors emit nothing (no event type stands for them).
:func:`install_control_alerts` makes it the process-wide hook; workers install it when
their step task starts, ``hub pause`` and ``hub resume`` pass it to their store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hub.core import BreakerChanged, ControlEvent, PauseChanged, set_control_events
from hub.history.hub_events import emit_hub_event

__all__ = ["ControlAlerts", "install_control_alerts"]

#: ``(event_type, payload, group=...)``, as :func:`~hub.history.hub_events.emit_hub_event`
Emit = Callable[..., Any]


class ControlAlerts:
    """Emits the hub event of each control transition through ``emit``."""

    def __init__(self, emit: Emit = emit_hub_event) -> None:
        self._emit = emit

    def __call__(self, event: ControlEvent, /) -> None:
        if isinstance(event, BreakerChanged):
            self._breaker(event)
        elif event.kind == "workflow":
            self._workflow(event)

    def _breaker(self, event: BreakerChanged) -> None:
        if event.state == "open" and event.previous == "closed":
            kind = "breaker.opened"
        elif event.state == "closed":
            kind = "breaker.closed"
        else:
            return
        payload: Mapping[str, Any] = {
            "client": event.client,
            "state": event.state,
            "previous": event.previous,
            "calls": event.calls,
            "failures": event.failures,
            "open_seconds": event.open_seconds,
        }
        self._emit(kind, payload, group=f"{kind}:{event.client}")

    def _workflow(self, event: PauseChanged) -> None:
        kind = "workflow.paused" if event.paused else "workflow.resumed"
        payload: dict[str, Any] = {"workflow": event.name, "by": event.by, "reason": event.reason}
        if not event.paused:
            payload["released"] = event.released
        self._emit(kind, payload)


def install_control_alerts() -> None:
    """Make :class:`ControlAlerts` this process's control-event hook."""
    set_control_events(ControlAlerts())
