"""The run context: what a run starts with and carries from step to step.

The intake builds it (:func:`new_context`) for every run it plans; it rides in the first
task's arguments (see :mod:`hub.workflow.compiler`) and each step adds its output under
``steps``. It is plain JSON (a Celery argument): a ``dict`` with these keys.

- ``event``: the event's body; ``event_id``, ``source``, ``event_type``: what the intake
  read from the delivery; ``run_id``: this run.
- ``steps``: ``{step id: output}`` so far; ``skipped``: the ids of steps whose ``if`` was
  false.
- later, and only sometimes: ``error`` (for ``on_failure`` steps), ``replay_of`` (the run
  a replay repeats).
"""

from __future__ import annotations

from typing import Any

__all__ = ["RunContext", "new_context"]

#: A run's context (see the module's documentation for its keys).
RunContext = dict[str, Any]


def new_context(
    *, event: Any, event_id: str, source: str, event_type: str, run_id: str
) -> RunContext:
    """The context a run starts with; each step adds its output under ``steps``."""
    return {
        "event": event,
        "event_id": event_id,
        "source": source,
        "event_type": event_type,
        "run_id": run_id,
        "steps": {},
        "skipped": [],
    }
