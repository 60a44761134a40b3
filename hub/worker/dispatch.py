"""How a step task sends tasks: the :class:`Dispatch` protocol and its Celery form.

:class:`~hub.worker.flow.Flow` sends item tasks, resumes detached chains and starts
failure-handler chains only through a :class:`Dispatch`, so the same flow runs in a
Celery worker (:class:`CeleryDispatch`) and in ``hub test``
(:class:`hub.testing.broker.LocalDispatch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from celery import Celery, Task, signature

from hub.workflow.compiler import compile_steps, item_signature
from hub.workflow.model import Workflow

__all__ = ["CeleryDispatch", "Dispatch", "StepCall"]


@dataclass(frozen=True)
class StepCall:
    """The kwargs of one ``hub.step`` task."""

    workflow: str
    revision: str
    step: str
    event_id: str
    run_id: str
    attempt: int = 1
    quota_waits: int = 0
    index: int | None = None
    item: Any = None


class Dispatch(Protocol):
    """How a step task sends other tasks and steers the chain it is part of."""

    @property
    def task_id(self) -> str:
        """This task's id; the same when the task is retried or redelivered."""
        ...

    def remaining(self) -> list[Any]:
        """The rest of this task's chain (JSON-able), empty when it is the last."""
        ...

    def detach(self) -> None:
        """Do not go on with the chain when this task returns."""
        ...

    def send_item(
        self, wf: Workflow, call: StepCall, ctx: dict[str, Any], index: int, item: Any
    ) -> None:
        """Send the task of one ``foreach`` item."""
        ...

    def resume(self, chain: list[Any], ctx: dict[str, Any]) -> None:
        """Go on with a detached chain, from context ``ctx``."""
        ...

    def start(
        self,
        wf: Workflow,
        step_ids: Sequence[str],
        ctx: dict[str, Any],
        *,
        event_id: str,
        run_id: str,
    ) -> None:
        """Send a new chain running ``step_ids``."""
        ...


class CeleryDispatch:
    """:class:`Dispatch` for a task running in a Celery worker."""

    def __init__(self, task: Task, app: Celery) -> None:
        self._task = task
        self._app = app

    @property
    def task_id(self) -> str:
        return str(self._task.request.id)

    def remaining(self) -> list[Any]:
        return list(self._task.request.chain or [])

    def detach(self) -> None:
        self._task.request.chain = None

    def send_item(
        self, wf: Workflow, call: StepCall, ctx: dict[str, Any], index: int, item: Any
    ) -> None:
        sig = item_signature(
            self._app,
            wf,
            call.step,
            ctx,
            event_id=call.event_id,
            run_id=call.run_id,
            index=index,
            item=item,
        )
        sig.apply_async()

    def resume(self, chain: list[Any], ctx: dict[str, Any]) -> None:
        following = signature(chain[-1], app=self._app)
        following.apply_async((ctx,), chain=chain[:-1] or None)

    def start(
        self,
        wf: Workflow,
        step_ids: Sequence[str],
        ctx: dict[str, Any],
        *,
        event_id: str,
        run_id: str,
    ) -> None:
        compile_steps(self._app, wf, step_ids, ctx, event_id=event_id, run_id=run_id).apply_async()
