"""The step task: runs one workflow step and schedules its own waits.

A call that finds no quota re-schedules the task for when a slot frees (counted as a
quota wait, never as an attempt); a retriable upstream error is retried after a backoff
countdown (an attempt); both countdowns are capped well under the broker's
visibility timeout. Nothing sleeps in a worker. Re-scheduled steps go to
``hub.deferred`` (see :mod:`hub.worker.queues`), so they are not held up behind work
that has not started yet. What happens around the step (foreach, on_failure, the run
record) is :class:`hub.worker.flow.Flow`'s part.

The step runs under a quota claim (:mod:`hub.http.quota_claim`) with the workflow's
``priority``; the claim's waiting tickets travel in the task's ``quota`` kwarg, so a
re-scheduled step comes back to its place in each budget's waiting room.

A step that finds no quota slot and holds a ticket in the budget's waiting room is
parked there instead (:class:`hub.http.QuotaWaker`): its message waits in Redis and is
sent again, with its own task id and the rest of its chain, on ``hub.deferred`` at the
moment its slots free and are taken for it (:mod:`hub.worker.quota_waker`).

A step parked on a concurrency key (:mod:`hub.worker.concurrency`) is sent again, with
its own task id and the rest of its chain, on ``hub.deferred`` when its turn comes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from typing import Any

from hub.core import (
    Deferred,
    KeySlots,
    QuotaWait,
    RetryableError,
    error_label,
    get_settings,
    redis_client,
)
from hub.history import HubEvents, RunStore, install_control_alerts
from hub.http import QuotaClaim, QuotaWaker, use_claim
from hub.worker.celery_app import MAX_COUNTDOWN_SECONDS, app
from hub.worker.concurrency import ConcurrencyGate
from hub.worker.delivery import REDIS_LOSS, RequeueOnRedisLoss
from hub.worker.dispatch import CelerySender, StepCall, StepDispatch
from hub.worker.flow import Flow
from hub.worker.queues import DEFERRED_QUEUE
from hub.worker.quota_waker import QuotaReleaser
from hub.worker.runtime import Runtime, find_step
from hub.workflow import STEP_TASK, WorkflowStore

__all__ = ["StepTask", "concurrency_gate", "quota_releaser", "quota_waker", "run_step"]

log = logging.getLogger("hub.worker")


class StepTask(RequeueOnRedisLoss):
    """Names each step ``<workflow>.<step>`` in logs and Flower; its events show no run
    context (:class:`~hub.worker.task_data.PrivateRequest`)."""

    Request = "hub.worker.task_data:PrivateRequest"
    #: Celery writes a repr of every return value (here the run context) for its success
    #: line and event, where the hub shows none (:class:`~hub.worker.task_data.PrivateRequest`,
    #: :class:`hub.core.logs.TaskDataFilter`): a repr cut at once costs nothing to make
    resultrepr_maxsize = 0

    def shadow_name(self, args: Any, kwargs: dict[str, Any], options: Any) -> str | None:
        if "workflow" in kwargs and "step" in kwargs:
            index = kwargs.get("index")
            suffix = f"[{index}]" if index is not None else ""
            return f"{kwargs['workflow']}.{kwargs['step']}{suffix}"
        return None


@cache
def _runtime() -> tuple[Runtime, WorkflowStore]:
    settings = get_settings()
    client = redis_client(settings)
    install_control_alerts()  # circuit breakers' transitions become hub events
    return Runtime(settings, client), WorkflowStore(client)


@cache
def _flow() -> Flow:
    runtime, store = _runtime()
    retention = runtime.settings.hub_run_retention_seconds
    runs = RunStore(runtime.redis, retention_seconds=retention)
    events = HubEvents(
        runtime.redis,
        app,
        store,
        window_seconds=runtime.settings.hub_alert_window_seconds,
    )
    return Flow(
        runtime,
        runs,
        state_ttl_seconds=retention,
        gate=concurrency_gate(),
        hub_events=events,
    )


@cache
def concurrency_gate() -> ConcurrencyGate:
    """This process's gate to the concurrency keys; it sends woken steps to the broker."""
    runtime, _ = _runtime()
    settings = runtime.settings
    slots = KeySlots(
        runtime.redis,
        lease_seconds=settings.hub_concurrency_lease_seconds,
        ttl_seconds=settings.hub_run_retention_seconds,
    )
    return ConcurrencyGate(slots, wake=_wake)


@cache
def quota_waker() -> QuotaWaker:
    """This process's access to the steps parked for quota."""
    runtime, _ = _runtime()
    return QuotaWaker(runtime.redis, keep_seconds=runtime.settings.hub_run_retention_seconds)


def quota_releaser() -> QuotaReleaser:
    """A releaser that sends the steps parked for quota at their turn."""
    return QuotaReleaser(quota_waker(), _wake)


def _wake(parked: Mapping[str, Any]) -> None:
    """Send a parked step's task again (its id, context, kwargs and chain kept)."""
    kwargs = parked["kwargs"]
    sig = app.signature(
        STEP_TASK,
        args=(parked["ctx"],),
        kwargs=kwargs,
        queue=DEFERRED_QUEUE,
        shadow=f"{kwargs['workflow']}.{kwargs['step']}",
    )
    options = {"chain": parked["chain"]} if parked["chain"] else {}
    sig.apply_async(task_id=parked["task_id"], **options)


# max_retries=None on the task itself: Celery reads ``retry(max_retries=None)`` as "the
# task's default" (3), which would fail a step after its third quota wait. Attempts at
# retriable errors are counted by the hub (``attempt``), quota waits never end a step.
@app.task(name=STEP_TASK, bind=True, base=StepTask, max_retries=None)  # type: ignore[untyped-decorator]
def run_step(
    self: StepTask,
    ctx: dict[str, Any],
    *,
    workflow: str,
    revision: str,
    step: str,
    event_id: str,
    run_id: str,
    priority: str = "default",
    attempt: int = 1,
    quota_waits: int = 0,
    index: int | None = None,
    item: Any = None,
    quota: dict[str, Any] | None = None,
) -> dict[str, Any]:
    runtime, store = _runtime()
    wf = store.get(revision)
    claim = QuotaClaim.from_state(priority, quota, owner=self.request.id or "")
    kwargs = {
        "workflow": workflow,
        "revision": revision,
        "step": step,
        "event_id": event_id,
        "run_id": run_id,
        "priority": priority,
        "attempt": attempt,
        "quota_waits": quota_waits,
        "index": index,
        "item": item,
    }
    dispatch = StepDispatch(self.request, app, CelerySender())
    flow, call = _flow(), StepCall(**kwargs)
    try:
        with use_claim(claim), _woken(quota, claim):
            return flow.run(wf, call, ctx, dispatch)
    except Deferred as wait:
        # a quota wait: never an attempt, never the end of the step
        later = {**kwargs, "quota_waits": quota_waits + 1}
        if isinstance(wait, QuotaWait) and _park(dispatch, ctx, later, claim, wait):
            return ctx
        raise _reschedule(self, ctx, later, claim, max(wait.wait, 0.001), wait) from wait
    except RetryableError as err:
        policy = runtime.retry_policy(find_step(wf, step))
        if not policy.should_retry(attempt):
            _log_giving_up(call, err)
            flow.fail(wf, call, ctx, err, dispatch)
            raise
        later = {**kwargs, "attempt": attempt + 1}
        delay = policy.delay(attempt, err.retry_after)
        raise _reschedule(self, ctx, later, claim, delay, err) from err
    except REDIS_LOSS:
        raise  # not the step's failure: the task goes back to the queue (RequeueOnRedisLoss)
    except Exception as err:
        flow.fail(wf, call, ctx, err, dispatch)
        raise


def _woken(quota: dict[str, Any] | None, claim: QuotaClaim) -> AbstractContextManager[None]:
    """For a step woken from a quota wait: its message no longer kept to be sent, and
    the slots taken for it given back when it asks for none of them."""
    return quota_waker().woken(quota, claim) if quota else nullcontext()


def _park(
    dispatch: StepDispatch,
    ctx: dict[str, Any],
    kwargs: dict[str, Any],
    claim: QuotaClaim,
    wait: QuotaWait,
) -> bool:
    """Park the step's message with its quota ticket until its slots free (its chain
    detached: the woken task carries it); False when it holds no ticket to wait with."""
    if not wait.ticket:
        return False
    parked = {
        "task_id": dispatch.task_id,
        "ctx": ctx,
        "kwargs": {**kwargs, "quota": claim.state()},
        "chain": dispatch.remaining(),
    }
    payload = json.dumps(parked, separators=(",", ":"), default=str)
    if not quota_waker().park(wait.key, wait.ticket, payload):
        return False
    dispatch.detach()
    log.info(
        "%s.%s run %s: %s; parked until its turn",
        kwargs["workflow"],
        kwargs["step"],
        kwargs["run_id"],
        wait,
    )
    return True


def _reschedule(
    task: StepTask,
    ctx: dict[str, Any],
    kwargs: dict[str, Any],
    claim: QuotaClaim,
    delay: float,
    reason: Exception,
) -> Exception:
    """Sends the step again with ``kwargs`` and the claim's waiting tickets, on the
    deferred queue after ``delay`` seconds (capped well under the broker's visibility
    timeout). Celery's ``Retry``, which ends this run of the task, is raised (or, where
    Celery does not raise it, answered for the caller to raise)."""
    retry: Exception = task.retry(
        args=(ctx,),
        kwargs={**kwargs, "quota": claim.state()},
        countdown=min(delay, MAX_COUNTDOWN_SECONDS),
        queue=DEFERRED_QUEUE,
        exc=reason,
    )
    return retry


def _log_giving_up(call: StepCall, err: Exception) -> None:
    log.error(
        "%s.%s run %s: giving up after %d attempts: %s; `hub runs show %s` has the message",
        call.workflow,
        call.step,
        call.run_id,
        call.attempt,
        error_label(err),
        call.run_id,
    )
