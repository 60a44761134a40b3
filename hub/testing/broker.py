"""An in-memory broker and worker for ``hub.step`` tasks, on a fake clock.

Messages carry what Celery's carry (args, kwargs, the rest of the chain, a task id kept
across retries) and are JSON round-tripped as the broker would. :class:`LocalWorker`
runs them with the same :class:`~hub.worker.flow.Flow` and the same
:class:`~hub.worker.dispatch.StepDispatch` the Celery task uses (:class:`LocalQueue` is
its :class:`~hub.worker.dispatch.Sender`) and handles waits and retries as the task
does (:mod:`hub.worker.tasks`), but moves the clock to a countdown's end instead of
waiting for it.
"""

from __future__ import annotations

import heapq
import itertools
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from celery.canvas import Signature

from hub.core import Deferred, RetryableError
from hub.sandbox import FakeClock
from hub.worker import MAX_COUNTDOWN_SECONDS, Flow, StepCall, StepDispatch, find_step
from hub.workflow import Workflow

__all__ = ["LocalQueue", "LocalRequest", "LocalWorker", "Message", "StuckRun"]


class StuckRun(Exception):
    """The queue did not drain within the task or simulated-time budget."""


@dataclass(frozen=True)
class Message:
    """One task message."""

    task_id: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    chain: list[Any]
    shadow: str = ""


def _wire(value: Any) -> Any:
    """``value`` as it comes out of the broker: JSON round-tripped."""
    return json.loads(json.dumps(value))


class LocalQueue:
    """Messages ordered by due time on ``clock``."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Message]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def publish(
        self,
        sig: Mapping[str, Any],
        *,
        args: Sequence[Any] = (),
        chain: Sequence[Any] | None = None,
        countdown: float = 0.0,
        task_id: str | None = None,
    ) -> Message:
        """Queue ``sig`` (a signature or its dict) with ``args`` in front of its own."""
        options = sig.get("options") or {}
        message = Message(
            task_id=task_id or uuid.uuid4().hex,
            args=tuple(_wire([*args, *sig.get("args", ())])),
            kwargs=_wire(dict(sig.get("kwargs") or {})),
            chain=_wire(list(chain or [])),
            shadow=str(options.get("shadow", "")),
        )
        self.requeue(message, countdown)
        return message

    def send(
        self, sig: Signature, *, args: Sequence[Any] = (), chain: list[Any] | None = None
    ) -> Message:
        """Queue ``sig`` as Celery's broker would (:class:`~hub.worker.dispatch.Sender`):
        a chain's first task carries the rest, then ``chain`` (the next task last)."""
        tasks = list(getattr(sig, "tasks", None) or [sig])
        rest = [*(chain or []), *(dict(task) for task in reversed(tasks[1:]))]
        return self.publish(tasks[0], args=args, chain=rest)

    def requeue(self, message: Message, countdown: float = 0.0) -> None:
        due = self.clock.monotonic() + max(0.0, countdown)
        heapq.heappush(self._heap, (due, next(self._seq), message))

    def pop(self) -> Message | None:
        """The next message, moving the clock to its due time; None when empty."""
        if not self._heap:
            return None
        due, _, message = heapq.heappop(self._heap)
        now = self.clock.monotonic()
        if due > now:
            self.clock.advance(due - now)
        return message


@dataclass
class LocalRequest:
    """The request of a running message (:class:`~hub.worker.dispatch.TaskRequest`)."""

    id: str
    chain: list[Any] | None


@dataclass
class TaskLog:
    """What the worker did: per (run id, step), the countdowns it scheduled, in order."""

    delays: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    failures: list[tuple[str, str, BaseException]] = field(default_factory=list)
    tasks: int = 0


class LocalWorker:
    """Runs queued ``hub.step`` messages until none are left."""

    def __init__(
        self,
        flow: Flow,
        queue: LocalQueue,
        app: Celery,
        workflows: Mapping[str, Workflow],
    ) -> None:
        self.flow = flow
        self.queue = queue
        self.app = app
        self.workflows = dict(workflows)  # by revision
        self.log = TaskLog()

    def drain(self, *, max_tasks: int = 10_000, max_seconds: float = 7 * 86_400.0) -> None:
        """Run until the queue is empty; :class:`StuckRun` past either budget."""
        start = self.queue.clock.monotonic()
        for _ in range(max_tasks):
            message = self.queue.pop()
            if message is None:
                return
            if self.queue.clock.monotonic() - start > max_seconds:
                raise StuckRun(f"still running after {max_seconds / 3600:g} simulated hours")
            self.execute(message)
        raise StuckRun(f"still running after {max_tasks} tasks")

    def execute(self, message: Message) -> None:
        """One task, as :func:`hub.worker.tasks.run_step` runs it."""
        self.log.tasks += 1
        call = StepCall(**message.kwargs)
        wf = self.workflows[call.revision]
        ctx = _wire(message.args[0])
        request = LocalRequest(message.task_id, list(message.chain))
        dispatch = StepDispatch(request, self.app, self.queue)
        try:
            result = self.flow.run(wf, call, ctx, dispatch)
        except Deferred as wait:
            countdown = min(max(wait.wait, 0.05), MAX_COUNTDOWN_SECONDS)
            self._again(message, countdown, quota_waits=call.quota_waits + 1)
        except RetryableError as err:
            policy = self.flow.runtime.retry_policy(find_step(wf, call.step))
            if not policy.should_retry(call.attempt):
                self._failed(wf, call, ctx, err, dispatch)
                return
            countdown = min(policy.delay(call.attempt, err.retry_after), MAX_COUNTDOWN_SECONDS)
            self._again(message, countdown, attempt=call.attempt + 1)
        except Exception as err:
            self._failed(wf, call, ctx, err, dispatch)
        else:
            chain = request.chain  # as Celery goes on with a chain: None once detached
            if chain:
                self.queue.publish(chain[-1], args=(result,), chain=chain[:-1])

    def _again(self, message: Message, countdown: float, **changes: int) -> None:
        kwargs = {**message.kwargs, **changes}
        self.log.delays.setdefault((kwargs["run_id"], kwargs["step"]), []).append(countdown)
        retry = Message(message.task_id, message.args, kwargs, message.chain, message.shadow)
        self.queue.requeue(retry, countdown)

    def _failed(
        self,
        wf: Workflow,
        call: StepCall,
        ctx: dict[str, Any],
        err: BaseException,
        dispatch: StepDispatch,
    ) -> None:
        self.log.failures.append((call.run_id, call.step, err))
        self.flow.fail(wf, call, ctx, err, dispatch)
