"""Compiles a workflow and an event into a Celery chain of step tasks.

Every step is the one registered task ``hub.step``; its kwargs carry workflow, revision,
step, event id, run id and the workflow's priority (which picks the step's broker queue
and its place in quota waiting rooms); its name in logs and Flower is
``<workflow>.<step>``.
The run context travels along the chain: each task returns it with its step's output.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, chain
from celery.canvas import Signature

from hub.workflow.model import Workflow

__all__ = ["STEP_TASK", "compile_run", "step_kwargs"]

STEP_TASK = "hub.step"


def step_kwargs(wf: Workflow, step_id: str, *, event_id: str, run_id: str) -> dict[str, Any]:
    return {
        "workflow": wf.name,
        "revision": wf.revision,
        "step": step_id,
        "event_id": event_id,
        "run_id": run_id,
        "priority": wf.priority,
    }


def compile_run(
    app: Celery, wf: Workflow, ctx: dict[str, Any], *, event_id: str, run_id: str
) -> Signature:
    """The chain that runs ``wf`` for one event, starting from context ``ctx``."""
    sigs = [
        app.signature(
            STEP_TASK,
            args=(ctx,) if index == 0 else (),
            kwargs=step_kwargs(wf, step.id, event_id=event_id, run_id=run_id),
            shadow=f"{wf.name}.{step.id}",
        )
        for index, step in enumerate(wf.steps)
    ]
    return chain(*sigs)
