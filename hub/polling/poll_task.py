"""The poll task ``hub.poll``: one poll of a poll workflow, fired by beat.

Single-flight per workflow: a poll takes the workflow's lock (``SET NX`` with an expiry
each page pushes on) or, finding it held, ends at once (the poll holding it does the
work). A page that finds no quota slot (a 429 included), or a lock busy, re-schedules
the poll for when it can go on; an upstream 5xx is retried with backoff up to
``HUB_STEP_MAX_ATTEMPTS`` times, then left to the next tick. In every case the cursor
stays where it was and what was handed on is remembered. A poll that reached
``HUB_POLL_MAX_PAGES`` with its window still open sends the next poll at once, so one
task never runs for long. A poll of a workflow an operator paused (``hub pause workflow``)
does nothing: its cursor stays, so the first poll after ``hub resume`` reads what changed
meanwhile.

The poll trigger's ``uses`` must be a poll operation (its input has ``field``, ``after``
and ``page``, e.g. ``billing.invoices.poll``; see :mod:`hub.polling.poller`); its
``with`` is rendered with ``cursor`` (the stored cursor value), ``workflow``, ``run`` and
``secrets``. A poll that stopped at ``HUB_POLL_MAX_PAGES`` goes on with the same window.
"""

from __future__ import annotations

import logging
import time
import uuid
from functools import cache
from typing import Any

from celery import Celery, Task
from pydantic import ValidationError

from hub.connector import AnyOperation, get_operation
from hub.core import (
    ConfigError,
    Deferred,
    FatalError,
    PauseStore,
    RetryableError,
    Settings,
    TemplateError,
    get_settings,
    lock_key,
    redis_client,
    release_lock,
    try_lock,
)
from hub.http import RetryPolicy
from hub.intake import Intake, PolledRecord
from hub.polling.cursors import CursorStore, LockLost
from hub.polling.poller import HandOn, Poller, PollResult
from hub.polling.silence import SilenceRule, silence_message, silent_for
from hub.worker import MAX_COUNTDOWN_SECONDS, app
from hub.workflow import PollTrigger, Workflow, WorkflowStore, compile_run, render

__all__ = [
    "POLL_TASK",
    "build_poller",
    "check_poll_operation",
    "poll_lock_key",
    "poll_workflow",
    "record_result",
]

log = logging.getLogger("hub.poll")
POLL_TASK = "hub.poll"


def poll_lock_key(workflow: str) -> str:
    """The lock a poll of ``workflow`` holds (``hub cursors reset`` takes it too)."""
    return lock_key("poll", workflow)


def check_poll_operation(uses: str, op: AnyOperation) -> None:
    """:class:`ConfigError` unless ``op`` reads pages of a window (a poll operation)."""
    if not set(op.input.model_fields) >= _POSITION:
        resource = uses.rpartition(".")[0]
        raise ConfigError(
            f"'{uses}' cannot be polled: a poll trigger needs a poll operation "
            f"(such as '{resource}.poll') that reads pages after a cursor"
        )


#: the arguments the poller sets on every page
_POSITION = frozenset({"after", "field", "page"})


def _run_context(wf: Workflow, settings: Settings, cursor: Any, run_id: str) -> dict[str, Any]:
    return {
        "cursor": cursor,
        "workflow": {"name": wf.name, "revision": wf.revision},
        "run": {"id": run_id, "event_id": "", "source": "poll"},
        "secrets": settings.hub_secrets,
    }


def _base_arguments(
    wf: Workflow, trigger: PollTrigger, settings: Settings, cursor: Any, where: str
) -> dict[str, Any]:
    """The ``trigger``'s ``with``, rendered with the stored ``cursor``: the arguments of
    every page but its position."""
    tctx = _run_context(wf, settings, cursor, uuid.uuid4().hex)
    base = render(trigger.with_, tctx, where=f"{where} field 'with'")
    if not isinstance(base, dict) or _POSITION & set(base):
        raise ConfigError(f"{where}: 'with' must be a mapping without 'after', 'field' or 'page'")
    return base


def _hand_on(wf: Workflow, source: str, celery: Celery) -> HandOn:
    """Hands a polled record to the intake and sends the run it plans, if any."""
    intake = Intake([wf])

    def hand_on(record: dict[str, Any], event_id: str, event_type: str) -> bool:
        plan = intake.plan(PolledRecord(wf, source, event_type, event_id, record))
        for run in plan.runs:
            chain = compile_run(celery, wf, run.context, event_id=event_id, run_id=run.run_id)
            chain.apply_async()
        for skip in plan.skipped:
            if skip.failed:
                log.warning("poll %s: record left out: %s", wf.name, skip.reason)
        return bool(plan.runs)

    return hand_on


def build_poller(
    wf: Workflow,
    *,
    settings: Settings,
    celery: Celery,
    cursors: CursorStore,
    api: Any,
    lock: tuple[str, str] | None,
) -> Poller:
    """A :class:`Poller` for ``wf``: fetches with its poll operation, starts its runs."""
    trigger = wf.trigger.poll
    if trigger is None:
        raise ConfigError(f"workflow '{wf.name}' has no poll trigger")
    connector, op = get_operation(trigger.uses)
    check_poll_operation(trigger.uses, op)
    where = f"workflow '{wf.name}' trigger 'poll'"
    base = _base_arguments(wf, trigger, settings, cursors.get(wf.name).value, where)

    def arguments(after: dict[str, Any] | None, page: Any) -> Any:
        values = {**base, "field": trigger.cursor, "after": after, "page": page}
        try:
            return op.input.model_validate(values)
        except ValidationError as exc:
            raise FatalError(f"{where}: arguments for {trigger.uses} are invalid: {exc}") from exc

    arguments(None, None)  # the rendered `with` is checked before any call

    def fetch(after: dict[str, Any] | None, page: Any) -> Any:
        return op.call(api, arguments(after, page))

    return Poller(
        wf.name,
        source=connector.name,
        fetch=fetch,
        hand_on=_hand_on(wf, connector.name, celery),
        cursors=cursors,
        overlap_seconds=settings.hub_poll_overlap_seconds,
        lock=lock,
        lock_ttl_seconds=settings.hub_poll_lock_seconds,
    )


@cache
def _parts() -> tuple[Settings, Any, WorkflowStore, CursorStore]:
    settings = get_settings()
    client = redis_client(settings)
    return settings, client, WorkflowStore(client), CursorStore(client)


_apis: dict[str, Any] = {}


def _api(uses: str, settings: Settings, client: Any) -> Any:
    connector, _ = get_operation(uses)
    if connector.name not in _apis:
        _apis[connector.name] = connector.build(connector.read_settings(), settings, client)
    return _apis[connector.name]


def _poll_once(wf: Workflow, token: str, *, resume: bool) -> PollResult:
    settings, client, _, cursors = _parts()
    assert wf.trigger.poll is not None
    poller = build_poller(
        wf,
        settings=settings,
        celery=app,
        cursors=cursors,
        api=_api(wf.trigger.poll.uses, settings, client),
        lock=(poll_lock_key(wf.name), token),
    )
    return poller.run(max_pages=settings.hub_poll_max_pages, resume=resume)


def record_result(
    workflow: str, result: PollResult, settings: Settings, cursors: CursorStore
) -> None:
    """Keep what a poll did (``hub cursors``), and say so when the workflow is silent."""
    cursors.note_read(workflow, result.read)
    rule = SilenceRule(settings.hub_poll_silent_polls, settings.hub_poll_silent_seconds)
    cursor = cursors.get(workflow)
    still = silent_for(cursor, time.time(), rule)
    if still is not None:
        log.warning("%s", silence_message(workflow, cursor, still))
    silent = 0 if still is None else max(1, round(still))  # 0: not silent
    cursors.record_poll(workflow, error="", silent=silent, **result.as_dict())
    log.info("poll %s: %s", workflow, result.as_dict())


@app.task(name=POLL_TASK, bind=True)  # type: ignore[untyped-decorator]
def poll_workflow(
    self: Task, *, workflow: str, revision: str, attempt: int = 1, resume: bool = False
) -> dict[str, Any]:
    settings, client, store, cursors = _parts()
    if PauseStore(client).is_paused("workflow", workflow):
        log.info("poll %s: the workflow is paused (`hub paused`); no poll", workflow)
        return {"workflow": workflow, "skipped": "paused"}
    wf = store.get(revision)
    key = poll_lock_key(workflow)
    token = try_lock(client, key, ttl_seconds=settings.hub_poll_lock_seconds)
    if token is None:
        log.info("poll %s: another poll is running; this one ends", workflow)
        return {"workflow": workflow, "skipped": "another poll is running"}
    countdown: float | None = None
    # a poll that goes on after a pause starts right after its cursor, without the overlap
    retry_kwargs = {"workflow": workflow, "revision": revision, "attempt": attempt, "resume": True}
    try:
        result = _poll_once(wf, token, resume=resume)
    except Deferred as wait:
        countdown = wait.wait
        log.info("poll %s: %s; again in %.2fs", workflow, wait, wait.wait)
    except RetryableError as err:
        policy = RetryPolicy(
            settings.hub_step_max_attempts,
            settings.hub_retry_base_seconds,
            settings.hub_retry_cap_seconds,
        )
        cursors.record_poll(workflow, error=str(err))
        if not policy.should_retry(attempt):
            log.error("poll %s: giving up after %d attempts: %s", workflow, attempt, err)
            return {"workflow": workflow, "error": str(err)}
        countdown = policy.delay(attempt, err.retry_after)
        retry_kwargs["attempt"] = attempt + 1
        log.warning("poll %s: %s; attempt %d in %.2fs", workflow, err, attempt + 1, countdown)
    except (FatalError, ConfigError, TemplateError, LockLost) as err:
        log.error("poll %s: %s", workflow, err)
        cursors.record_poll(workflow, error=str(err))
        return {"workflow": workflow, "error": str(err)}
    finally:
        release_lock(client, key, token)
    if countdown is not None:
        raise self.retry(
            kwargs=retry_kwargs,
            countdown=min(max(countdown, 0.05), MAX_COUNTDOWN_SECONDS),
            max_retries=None,
        )
    record_result(workflow, result, settings, cursors)
    if result.more:
        poll_workflow.apply_async(
            kwargs={"workflow": workflow, "revision": revision, "resume": True}
        )
    return {"workflow": workflow, **result.as_dict()}
