"""Celery beat for schedule and poll triggers (``hub beat``), and the ``hub.schedule`` task.

:func:`build_schedule` turns the workflows' triggers into beat entries: a poll trigger
sends ``hub.poll`` every ``every``; a schedule trigger sends ``hub.schedule`` every
``every`` or on its ``cron`` (UTC). Each entry names the workflow and the revision beat
loaded (beat publishes the workflows it loads, as the ingress does, so workers run that
exact revision), and expires after one interval: ticks that pile up while no worker
runs are dropped, not fired in a burst. Exactly one beat may run; its state file is
``HUB_DATA_DIR/beat-schedule``.

``hub.schedule`` starts one run with the event ``{"workflow", "scheduled_at"}`` and the
event id ``schedule:<workflow>:<tick>``; a redelivered tick starts nothing, and neither
does a tick of a workflow an operator paused (``hub pause workflow``).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import redis
from celery import Task
from celery.schedules import crontab

from hub.core import PauseStore, Presence, Settings, get_settings, redis_client
from hub.polling import POLL_TASK, check_poll_operation
from hub.worker.celery_app import QUEUE, app
from hub.workflow import Workflow, WorkflowStore, compile_run, new_context

__all__ = [
    "SCHEDULE_TASK",
    "build_schedule",
    "run_beat",
    "run_scheduled",
    "schedule_file",
]

log = logging.getLogger("hub.beat")
SCHEDULE_TASK = "hub.schedule"
_SEEN = "hub:schedule:seen:{}"
_SEEN_SECONDS = 86_400


def schedule_file(settings: Settings) -> Path:
    """Where beat keeps its state: ``HUB_DATA_DIR/beat-schedule``."""
    return settings.hub_data_dir / "beat-schedule"


def build_schedule(workflows: list[Workflow]) -> dict[str, dict[str, Any]]:
    """Beat entries for every schedule and poll trigger in ``workflows``."""
    from hub.connector import get_operation

    entries: dict[str, dict[str, Any]] = {}
    for wf in workflows:
        kwargs = {"workflow": wf.name, "revision": wf.revision}
        poll, schedule = wf.trigger.poll, wf.trigger.schedule
        if poll is not None:
            check_poll_operation(poll.uses, get_operation(poll.uses)[1])
            every = poll.every_seconds
            entries[f"poll {wf.name}"] = {
                "task": POLL_TASK,
                "schedule": timedelta(seconds=every),
                "kwargs": kwargs,
                "options": {"queue": QUEUE, "expires": every},
            }
        elif schedule is not None:
            cron = schedule.cron_fields
            when: Any
            if cron is not None:
                minute, hour, day_of_month, month, day_of_week = cron
                when = crontab(minute, hour, day_of_week, day_of_month, month)
                expires = 60.0
            else:
                expires = schedule.every_seconds or 60.0
                when = timedelta(seconds=expires)
            entries[f"schedule {wf.name}"] = {
                "task": SCHEDULE_TASK,
                "schedule": when,
                "kwargs": kwargs,
                "options": {"queue": QUEUE, "expires": expires},
            }
    return entries


def run_beat(settings: Settings, workflows: list[Workflow]) -> None:
    """Publish ``workflows`` and run Celery beat with their schedule (until stopped)."""
    client = redis_client(settings)
    WorkflowStore(client).publish(workflows)
    entries = build_schedule(workflows)
    path = schedule_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    app.conf.beat_schedule = entries
    app.conf.beat_max_loop_interval = 5
    for name, entry in entries.items():
        log.info("beat: %s every %s", name, entry["schedule"])
    if not entries:
        log.warning("beat: no workflow has a schedule or poll trigger; nothing will fire")
    presence = Presence(client, "beat", detail={"entries": len(entries)})
    presence.keep_up()
    try:
        app.Beat(schedule=str(path), loglevel=settings.hub_log_level.upper()).run()
    finally:
        with contextlib.suppress(redis.RedisError):
            presence.withdraw()


@cache
def _parts() -> tuple[Any, WorkflowStore]:
    client = redis_client(get_settings())
    return client, WorkflowStore(client)


@app.task(name=SCHEDULE_TASK, bind=True)  # type: ignore[untyped-decorator]
def run_scheduled(self: Task, *, workflow: str, revision: str) -> dict[str, Any]:
    client, store = _parts()
    if PauseStore(client).is_paused("workflow", workflow):
        log.info("schedule %s: the workflow is paused (`hub paused`); no run", workflow)
        return {"workflow": workflow, "skipped": "paused"}
    wf = store.get(revision)
    tick = str(self.request.id or uuid.uuid4().hex)
    if not client.set(_SEEN.format(tick), "1", nx=True, ex=_SEEN_SECONDS):
        log.info("schedule %s: tick %s already started its run", workflow, tick)
        return {"workflow": workflow, "duplicate": True}
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    event_id = f"schedule:{workflow}:{tick}"
    run_id = uuid.uuid4().hex
    ctx = new_context(
        event={"workflow": workflow, "scheduled_at": now},
        event_id=event_id,
        source="schedule",
        event_type="schedule",
        run_id=run_id,
    )
    try:
        compile_run(app, wf, ctx, event_id=event_id, run_id=run_id).apply_async()
    except Exception:
        client.delete(_SEEN.format(tick))
        raise
    log.info("schedule %s: run %s started", workflow, run_id)
    return {"workflow": workflow, "run_id": run_id, "event_id": event_id}
