"""Compiles a workflow and an event into a Celery chain of step tasks.

Every step is the one registered task ``hub.step``; its kwargs carry workflow, revision,
step, event id, run id and the workflow's priority (which picks the step's broker queue
and its place in quota waiting rooms); its name in logs and Flower is
``<workflow>.<step>`` (``<workflow>.<step>[<index>]`` for one item of a ``foreach``).
The run context travels along the chain: each task returns it with its step's output. A
``foreach`` step's task sends one task per item and the last item to finish continues
the chain (see :mod:`hub.worker.flow`); ``on_failure`` steps are compiled into a chain of
their own when a step fails for good.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery import Celery, chain
from celery.canvas import Signature

from hub.workflow.model import Workflow

__all__ = ["STEP_TASK", "compile_run", "compile_steps", "item_signature", "step_kwargs"]

STEP_TASK = "hub.step"


def step_kwargs(
    wf: Workflow, step_id: str, *, event_id: str, run_id: str, priority: str | None = None
) -> dict[str, Any]:
    """A step task's kwargs; ``priority`` overrides the workflow's (a bulk replay)."""
    return {
        "workflow": wf.name,
        "revision": wf.revision,
        "step": step_id,
        "event_id": event_id,
        "run_id": run_id,
        "priority": priority or wf.priority,
    }


def compile_steps(
    app: Celery,
    wf: Workflow,
    step_ids: Sequence[str],
    ctx: dict[str, Any],
    *,
    event_id: str,
    run_id: str,
    priority: str | None = None,
) -> Signature:
    """The chain that runs ``step_ids`` of ``wf`` in order, starting from context ``ctx``
    (at ``priority``, default the workflow's)."""
    sigs = [
        app.signature(
            STEP_TASK,
            args=(ctx,) if index == 0 else (),
            kwargs=step_kwargs(wf, step_id, event_id=event_id, run_id=run_id, priority=priority),
            shadow=f"{wf.name}.{step_id}",
        )
        for index, step_id in enumerate(step_ids)
    ]
    return chain(*sigs)


def compile_run(
    app: Celery, wf: Workflow, ctx: dict[str, Any], *, event_id: str, run_id: str
) -> Signature:
    """The chain that runs ``wf`` for one event, starting from context ``ctx``."""
    ids = [step.id for step in wf.steps]
    return compile_steps(app, wf, ids, ctx, event_id=event_id, run_id=run_id)


def item_signature(
    app: Celery,
    wf: Workflow,
    step_id: str,
    ctx: dict[str, Any],
    *,
    event_id: str,
    run_id: str,
    index: int,
    item: Any,
    priority: str | None = None,
) -> Signature:
    """The task that runs item ``index`` (value ``item``) of ``foreach`` step ``step_id``."""
    kwargs = step_kwargs(wf, step_id, event_id=event_id, run_id=run_id, priority=priority)
    return app.signature(
        STEP_TASK,
        args=(ctx,),
        kwargs={**kwargs, "index": index, "item": item},
        shadow=f"{wf.name}.{step_id}[{index}]",
        argsrepr="(context)",
        kwargsrepr=f"event={event_id} run={run_id} revision={wf.revision} item={index}",
    )
