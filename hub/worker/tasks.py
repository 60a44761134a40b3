"""The step task: runs one workflow step and schedules its own waits.

A call that finds no quota re-schedules the task for when a slot frees (counted as a
quota wait, never as an attempt); a retriable upstream error is retried after a backoff
countdown (an attempt); both countdowns are capped well under the broker's
visibility timeout. Nothing sleeps in a worker.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import redis
from celery import Task

from hub.errors import Deferred, RetryableError
from hub.http.retry import RetryPolicy
from hub.settings import get_settings
from hub.worker.celery_app import MAX_COUNTDOWN_SECONDS, app
from hub.worker.runtime import Runtime, execute_step
from hub.workflow.compiler import STEP_TASK
from hub.workflow.model import RetryOverride, Workflow
from hub.workflow.store import WorkflowStore

__all__ = ["StepTask", "run_step"]

log = logging.getLogger("hub.worker")


class StepTask(Task):  # type: ignore[misc]
    """Names each step ``<workflow>.<step>`` in logs and Flower."""

    def shadow_name(self, args: Any, kwargs: dict[str, Any], options: Any) -> str | None:
        if "workflow" in kwargs and "step" in kwargs:
            return f"{kwargs['workflow']}.{kwargs['step']}"
        return None


@cache
def _runtime() -> tuple[Runtime, WorkflowStore]:
    settings = get_settings()
    client = redis.Redis.from_url(settings.hub_redis_url or "redis://127.0.0.1:6379/0")
    return Runtime(settings, client), WorkflowStore(client)


def _policy(override: RetryOverride | None = None) -> RetryPolicy:
    """The hub's retry settings, with a step's ``retry:`` values in their place when set."""
    s = get_settings()
    policy = RetryPolicy(s.hub_step_max_attempts, s.hub_retry_base_seconds, s.hub_retry_cap_seconds)
    if override is None:
        return policy
    return policy.with_overrides(
        max_attempts=override.max_attempts,
        base_seconds=override.backoff_base_seconds,
        cap_seconds=override.backoff_cap_seconds,
    )


def _step_retry(wf: Workflow, step_id: str) -> RetryOverride | None:
    return next((s.retry for _, s in wf.all_steps() if s.id == step_id), None)


@app.task(name=STEP_TASK, bind=True, base=StepTask)  # type: ignore[untyped-decorator]
def run_step(
    self: StepTask,
    ctx: dict[str, Any],
    *,
    workflow: str,
    revision: str,
    step: str,
    event_id: str,
    run_id: str,
    attempt: int = 1,
    quota_waits: int = 0,
) -> dict[str, Any]:
    runtime, store = _runtime()
    wf = store.get(revision)
    kwargs = {
        "workflow": workflow,
        "revision": revision,
        "step": step,
        "event_id": event_id,
        "run_id": run_id,
        "attempt": attempt,
        "quota_waits": quota_waits,
    }
    try:
        return execute_step(wf, step, ctx, runtime)
    except Deferred as wait:
        countdown = min(max(wait.wait, 0.05), MAX_COUNTDOWN_SECONDS)
        raise self.retry(
            args=(ctx,),
            kwargs={**kwargs, "quota_waits": quota_waits + 1},
            countdown=countdown,
            max_retries=None,
            exc=wait,
        ) from wait
    except RetryableError as err:
        policy = _policy(_step_retry(wf, step))
        if not policy.should_retry(attempt):
            log.error(
                "%s.%s run %s: giving up after %d attempts: %s",
                workflow,
                step,
                run_id,
                attempt,
                err,
            )
            raise
        countdown = min(policy.delay(attempt, err.retry_after), MAX_COUNTDOWN_SECONDS)
        raise self.retry(
            args=(ctx,),
            kwargs={**kwargs, "attempt": attempt + 1},
            countdown=countdown,
            max_retries=None,
            exc=err,
        ) from err
