"""Beat's schedule, built from the workflows' schedule and poll triggers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import redis
from celery.schedules import crontab

from hub.core.errors import ConfigError
from hub.core.settings import Settings
from hub.polling.poll_task import POLL_TASK
from hub.worker.beat import SCHEDULE_TASK, build_schedule, schedule_file
from hub.worker.celery_app import QUEUE, TASK_MODULES
from hub.workflow.loader import load_folder, load_workflow_text
from tests.workflows.invoice_export import fast_workflows

STEP = """
steps:
  - id: tick
    uses: accounting.export
    with:
      id: "{{ event.workflow }}"
      revision: "{{ event.scheduled_at }}"
      files: { folder: ticks }
      columns: { at: "{{ event.scheduled_at }}" }
"""


def test_poll_workflows_poll_every_interval_and_ticks_expire(tmp_path: Path) -> None:
    workflows = load_folder(fast_workflows(tmp_path, every="7s"))
    entries = build_schedule(workflows)
    poll = next(wf for wf in workflows if wf.trigger.poll is not None)
    assert list(entries) == [f"poll {poll.name}"]  # webhook workflows have no entry
    entry = entries[f"poll {poll.name}"]
    assert entry["task"] == POLL_TASK and entry["schedule"] == timedelta(seconds=7)
    assert entry["kwargs"] == {"workflow": poll.name, "revision": poll.revision}
    assert entry["options"] == {"queue": QUEUE, "expires": 7.0}


def test_schedule_triggers_by_interval_and_by_cron() -> None:
    every = load_workflow_text(
        "name: ticker\ntrigger:\n  schedule: { every: 90s }" + STEP, "t.yaml"
    )
    cron = load_workflow_text(
        "name: nightly\ntrigger:\n  schedule: { cron: '30 2 * * 1-5' }" + STEP, "n.yaml"
    )
    entries = build_schedule([every, cron])
    assert entries["schedule ticker"]["task"] == SCHEDULE_TASK
    assert entries["schedule ticker"]["schedule"] == timedelta(seconds=90)
    nightly = entries["schedule nightly"]["schedule"]
    assert isinstance(nightly, crontab)
    assert nightly == crontab(minute="30", hour="2", day_of_week="1-5")


def test_a_poll_trigger_needs_a_poll_operation() -> None:
    text = (
        """
name: wrong-poll
trigger:
  poll: { uses: plutio.invoices.find, with: { q: { a: 1 } }, cursor: updatedAt }
"""
        + STEP
    )
    with pytest.raises(ConfigError, match=r"cannot be polled.*plutio\.invoices\.poll"):
        build_schedule([load_workflow_text(text, "w.yaml")])


def test_workers_register_the_poll_and_schedule_tasks(tmp_path: Path) -> None:
    assert {"hub.polling.poll_task", "hub.worker.beat"} <= set(TASK_MODULES)
    assert schedule_file(Settings(hub_data_dir=tmp_path)) == tmp_path / "beat-schedule"


class _NoRevisions:
    """A workflow store no paused tick may read."""

    def get(self, revision: str) -> None:
        raise AssertionError(f"a paused workflow's tick read revision {revision}")


def test_ticks_of_a_paused_workflow_start_nothing(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.core import PauseStore
    from hub.polling import poll_task
    from hub.worker import beat

    PauseStore(redis_client).pause("workflow", "nightly", by="ops")
    monkeypatch.setattr(beat, "_parts", lambda: (redis_client, _NoRevisions()))
    parts = (Settings(), redis_client, _NoRevisions(), None)
    monkeypatch.setattr(poll_task, "_parts", lambda: parts)
    scheduled = beat.run_scheduled.apply(kwargs={"workflow": "nightly", "revision": "r1"})
    assert scheduled.get() == {"workflow": "nightly", "skipped": "paused"}
    polled = poll_task.poll_workflow.apply(kwargs={"workflow": "nightly", "revision": "r1"})
    assert polled.get() == {"workflow": "nightly", "skipped": "paused"}
