"""The seam where operator-control transitions are told to whoever wants them.

Pausing or resuming a workflow, source or connector (:mod:`hub.core.pauses`) and each
circuit breaker transition (:mod:`hub.http.breaker`) call a :class:`ControlEvents`
hook with a typed payload: :class:`PauseChanged` or :class:`BreakerChanged`. The hook is
injected where the transition happens (``events=``); where none is injected, the
process-wide hook set by :func:`set_control_events` is called, a no-op by default. A
hook that raises is logged and never fails the transition it was told about.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "BreakerChanged",
    "BreakerState",
    "ControlEvent",
    "ControlEvents",
    "PauseChanged",
    "PauseKind",
    "emit_control_event",
    "no_control_events",
    "set_control_events",
]

log = logging.getLogger("hub.control")

PauseKind = Literal["workflow", "source", "connector"]
BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class PauseChanged:
    """``kind`` ``name`` was paused (``paused``) or resumed, by ``by`` at ``at`` (epoch)."""

    kind: PauseKind
    name: str
    paused: bool
    by: str
    reason: str
    at: float
    #: on resuming a workflow: the held runs it released
    released: int = 0


@dataclass(frozen=True)
class BreakerChanged:
    """The breaker of API client ``client`` went from ``previous`` to ``state``."""

    client: str
    state: BreakerState
    previous: BreakerState
    at: float
    #: the calls and failures in the window that opened it (0 for other transitions)
    calls: int = 0
    failures: int = 0
    #: while open: seconds until the next probe
    open_seconds: float = 0.0


ControlEvent = PauseChanged | BreakerChanged


class ControlEvents(Protocol):
    """Told of each control transition, after it happened."""

    def __call__(self, event: ControlEvent, /) -> None: ...


def no_control_events(event: ControlEvent) -> None:
    """The default hook: nothing is told."""


_hook: list[ControlEvents] = [no_control_events]


def set_control_events(hook: ControlEvents | None) -> None:
    """Make ``hook`` the process-wide hook (``None``: the no-op again)."""
    _hook[0] = hook or no_control_events


def emit_control_event(event: ControlEvent, hook: ControlEvents | None = None) -> None:
    """Tell ``hook`` (default: the process-wide one) of ``event``; never raises."""
    try:
        (hook or _hook[0])(event)
    except Exception:
        log.exception("the control-event hook failed on %s", type(event).__name__)
