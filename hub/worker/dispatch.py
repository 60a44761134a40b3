"""How a step task sends tasks and steers its chain: :class:`StepDispatch`.

:class:`~hub.worker.flow.Flow` sends item tasks, resumes detached chains and starts
failure-handler chains only through a :class:`StepDispatch`, which builds those
signatures and steers the chain through the running task's request (its id and the rest
of its chain, as Celery keeps them). Only where the signatures go is injected, a
:class:`Sender`: Celery's broker in the worker (:class:`CelerySender`), the in-memory
queue in ``hub test`` (:class:`hub.testing.broker.LocalQueue`). So ``hub test`` runs the
worker's own dispatch code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from celery import Celery, signature
from celery.canvas import Signature

from hub.workflow import Workflow, compile_steps, item_signature

__all__ = ["CelerySender", "Sender", "StepCall", "StepDispatch", "TaskRequest"]


@dataclass(frozen=True)
class StepCall:
    """The kwargs of one ``hub.step`` task."""

    workflow: str
    revision: str
    step: str
    event_id: str
    run_id: str
    priority: str = "default"
    attempt: int = 1
    quota_waits: int = 0
    index: int | None = None
    item: Any = None


class TaskRequest(Protocol):
    """What a dispatch reads and sets of the running task (Celery's ``task.request``):
    its id, and the rest of its chain (the next task last), which the broker's side goes
    on with when the task returns; ``None`` or empty when there is none."""

    id: Any
    chain: list[Any] | None


class Sender(Protocol):
    """Where a dispatch's tasks go."""

    def send(
        self, sig: Signature, *, args: Sequence[Any] = (), chain: list[Any] | None = None
    ) -> Any:
        """Send ``sig`` (a task, or a chain whose first task carries the rest) with
        ``args`` in front of its own, followed by ``chain`` (the next task last)."""
        ...


class CelerySender:
    """:class:`Sender` onto Celery's broker."""

    def send(
        self, sig: Signature, *, args: Sequence[Any] = (), chain: list[Any] | None = None
    ) -> Any:
        # a chain's own ``chain`` option must be absent, not None, when there is none
        options = {"chain": chain} if chain else {}
        return sig.apply_async(tuple(args), **options)


class StepDispatch:
    """How the task whose ``request`` it is sends tasks (through ``sender``) and steers
    the chain it is part of."""

    def __init__(self, request: TaskRequest, app: Celery, sender: Sender) -> None:
        self._request = request
        self._app = app
        self._sender = sender

    @property
    def task_id(self) -> str:
        """This task's id; the same when the task is retried or redelivered."""
        return str(self._request.id)

    def remaining(self) -> list[Any]:
        """The rest of this task's chain (JSON-able), empty when it is the last."""
        return list(self._request.chain or [])

    def detach(self) -> None:
        """Do not go on with the chain when this task returns."""
        self._request.chain = None

    def send_item(
        self, wf: Workflow, call: StepCall, ctx: dict[str, Any], index: int, item: Any
    ) -> None:
        """Send the task of one ``foreach`` item."""
        sig = item_signature(
            self._app,
            wf,
            call.step,
            ctx,
            event_id=call.event_id,
            run_id=call.run_id,
            index=index,
            item=item,
            priority=call.priority,
        )
        self._sender.send(sig)

    def resume(self, chain: list[Any], ctx: dict[str, Any]) -> None:
        """Go on with a detached chain, from context ``ctx``."""
        following = signature(chain[-1], app=self._app)
        self._sender.send(following, args=(ctx,), chain=chain[:-1])

    def start(
        self,
        wf: Workflow,
        step_ids: Sequence[str],
        ctx: dict[str, Any],
        *,
        event_id: str,
        run_id: str,
        priority: str | None = None,
    ) -> None:
        """Send a new chain running ``step_ids`` (at ``priority``, default the workflow's)."""
        sig = compile_steps(
            self._app, wf, step_ids, ctx, event_id=event_id, run_id=run_id, priority=priority
        )
        self._sender.send(sig)
