"""Broker queues by priority, and the router that sends each step to its queue.

A step goes to the queue of its workflow's ``priority``: ``hub.interactive``, ``hub``
(default) or ``hub.bulk``. A worker consumes its queues in the order given
(``queue_order_strategy: priority``): it takes a bulk message only when no interactive
or default message is ready, so a backfill of thousands of bulk events never sits in
front of an interactive one.

A step re-scheduled for later (a quota wait, a busy lock, a backoff) goes to
``hub.deferred``, which every worker consumes right after ``hub.interactive``: a step
woken at its turn (it may hold quota slots already) must not queue behind thousands of
messages not started yet, or it would run long after its time; but a bulk backlog's
woken steps, a steady stream under quota pressure, must not hold back an interactive
event either. ``hub.deferred`` also leaves the priority queues' lengths meaning "work
not started yet" (what an autoscaler should see).

Consuming fewer queues (``hub worker --queues``) dedicates a pool: a worker on
``hub.interactive`` alone keeps capacity for interactive steps whatever the backlog.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "BULK_QUEUE",
    "DEFAULT_QUEUE",
    "DEFERRED_QUEUE",
    "INTERACTIVE_QUEUE",
    "QUEUES_BY_PRIORITY",
    "STEP_QUEUES",
    "parse_queues",
    "queue_for",
    "route_step",
]

DEFERRED_QUEUE = "hub.deferred"
INTERACTIVE_QUEUE = "hub.interactive"
DEFAULT_QUEUE = "hub"
BULK_QUEUE = "hub.bulk"
QUEUES_BY_PRIORITY: Mapping[str, str] = {
    "interactive": INTERACTIVE_QUEUE,
    "default": DEFAULT_QUEUE,
    "bulk": BULK_QUEUE,
}
#: every step queue in the order a worker consumes them
STEP_QUEUES = (INTERACTIVE_QUEUE, DEFERRED_QUEUE, DEFAULT_QUEUE, BULK_QUEUE)
_STEP_TASK = "hub.step"


def queue_for(priority: str | None) -> str:
    """The queue of a workflow priority (``default`` for none or an unknown one)."""
    return QUEUES_BY_PRIORITY.get(priority or "default", DEFAULT_QUEUE)


def route_step(
    name: str,
    args: Any,
    kwargs: Mapping[str, Any] | None,
    options: Any,
    task: Any = None,
    **extra: Any,
) -> dict[str, str] | None:
    """Celery router: a step task goes to the queue of its ``priority`` kwarg."""
    if name != _STEP_TASK:
        return None
    return {"queue": queue_for((kwargs or {}).get("priority"))}


def parse_queues(value: str) -> list[str]:
    """``"hub, hub.interactive"`` -> ``["hub.interactive", "hub.deferred", "hub"]``.

    Order is kept, blanks and repeats dropped, with two exceptions: ``hub.interactive``
    comes first, and ``hub.deferred`` right after it (first when it is not consumed),
    whether named or not, since every worker must take its re-scheduled steps promptly.
    """
    queues = [q.strip() for q in value.split(",") if q.strip()]
    if not queues:
        raise ValueError("no queue named: give a comma-separated list like 'hub.interactive,hub'")
    rest = [q for q in dict.fromkeys(queues) if q not in (INTERACTIVE_QUEUE, DEFERRED_QUEUE)]
    first = [INTERACTIVE_QUEUE] if INTERACTIVE_QUEUE in queues else []
    return [*first, DEFERRED_QUEUE, *rest]
