"""What a task shows of itself outside its message: its ids, never its data.

A step task's argument is its run context (the event, with whatever personal data it
holds) and so is its return value; a ``foreach`` item and the quota tickets travel in its
kwargs. Celery shows these in three places besides the message itself, and each is
narrowed to ids here:

- the ``argsrepr``/``kwargsrepr`` of every message the app publishes (a chain going on, a
  retry, a run beat or a replay starts), which the ``task-sent`` and ``task-received``
  events carry to Flower and worker log lines print: :class:`IdsOnlyAMQP` fills them in
  when the sender gave none (the ingress and ``foreach`` items give their own);
- the ``task-succeeded`` event's ``result`` and Flower's view of running tasks
  (``inspect active``): :class:`PrivateRequest`, the step task's request class;
- Celery's own log lines: :class:`hub.core.logs.TaskDataFilter`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from celery.app.amqp import AMQP
from celery.worker.request import Request

__all__ = ["ID_KWARGS", "NOT_SHOWN", "IdsOnlyAMQP", "PrivateRequest", "args_repr", "kwargs_repr"]

#: the kwargs of the hub's tasks that are ids or counters, shown as they are
ID_KWARGS = (
    "workflow",
    "revision",
    "step",
    "event_id",
    "run_id",
    "priority",
    "attempt",
    "quota_waits",
    "index",
    "resume",
)
#: what a step's result shows in its ``task-succeeded`` event
NOT_SHOWN = "(not shown: `hub runs show {run_id}` says what the run did)"


def args_repr(args: Sequence[Any] | None) -> str:
    """A task's positional arguments, shown without their contents."""
    return "(<run context>,)" if args else "()"


def kwargs_repr(kwargs: Mapping[str, Any] | None) -> str:
    """A task's kwargs, only those in :data:`ID_KWARGS` (in that order)."""
    given = kwargs or {}
    return repr({name: given[name] for name in ID_KWARGS if name in given})


class IdsOnlyAMQP(AMQP):  # type: ignore[misc]
    """Celery's message factory, with ``argsrepr``/``kwargsrepr`` that show ids only."""

    def as_task_v2(
        self,
        task_id: str,
        name: str,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        *rest: Any,
        argsrepr: str | None = None,
        kwargsrepr: str | None = None,
        **options: Any,
    ) -> Any:
        return super().as_task_v2(
            task_id,
            name,
            args,
            kwargs,
            *rest,
            argsrepr=args_repr(args) if argsrepr is None else argsrepr,
            kwargsrepr=kwargs_repr(kwargs) if kwargsrepr is None else kwargsrepr,
            **options,
        )


class PrivateRequest(Request):  # type: ignore[misc]
    """A step task's request: its events and its description carry no context."""

    def send_event(self, type: str, **fields: Any) -> None:
        if type == "task-succeeded" and "result" in fields:
            kwargs = self.kwargs if isinstance(self.kwargs, dict) else {}
            fields["result"] = NOT_SHOWN.format(run_id=kwargs.get("run_id", "RUN_ID"))
        super().send_event(type, **fields)

    def info(self, safe: bool = False) -> dict[str, Any]:
        """What ``inspect active`` (Flower's worker page) shows: the reprs, always."""
        described: dict[str, Any] = super().info(safe=True)
        return described
