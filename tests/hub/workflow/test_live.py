"""Reloading workflows: new revisions published and swapped in, old ones stay readable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from hub.workflow.live import LiveWorkflows
from hub.workflow.problems import WorkflowError
from hub.workflow.revisions import WorkflowStore

TEMPLATE = """\
name: {name}
trigger:
  webhook: {{ source: app }}
steps:
  - id: say
    uses: core.echo
    with: {{ text: "{text}" }}
"""


def _write(folder: Path, name: str, text: str = "one") -> None:
    (folder / f"{name}.yaml").write_text(TEMPLATE.format(name=name, text=text))


def test_reload_swaps_in_new_revisions_and_keeps_old_ones_readable(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    _write(tmp_path, "alpha")
    _write(tmp_path, "beta")
    live = LiveWorkflows(tmp_path, WorkflowStore(redis_client))
    changes = live.reload()
    assert changes.added == ("alpha", "beta")
    first = live.revisions()
    assert live.reload_if_changed() is None

    _write(tmp_path, "alpha", "two")
    (tmp_path / "beta.yaml").unlink()
    _write(tmp_path, "gamma")
    again = live.reload_if_changed()
    assert again is not None
    changes = again
    assert (changes.added, changes.changed, changes.removed) == (("gamma",), ("alpha",), ("beta",))
    assert str(changes) == "added gamma; changed alpha; removed beta"
    assert [wf.name for wf in live.workflows] == ["alpha", "gamma"]
    assert live.revisions()["alpha"] != first["alpha"]

    fresh = WorkflowStore(redis_client)  # e.g. a worker process
    assert fresh.current() == live.revisions()
    old = fresh.get(first["alpha"])  # a run queued before the reload still finds its revision
    assert old.steps[0].with_ == {"text": "one"}
    assert fresh.get(live.revisions()["alpha"]).steps[0].with_ == {"text": "two"}


def test_an_invalid_folder_is_not_loaded_and_the_current_set_stays(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    _write(tmp_path, "alpha")
    live = LiveWorkflows(tmp_path, WorkflowStore(redis_client))
    live.reload()
    before = live.revisions()
    (tmp_path / "alpha.yaml").write_text(
        TEMPLATE.format(name="alpha", text="x").replace("echo", "ech")
    )
    with pytest.raises(WorkflowError, match=r"alpha\.yaml:6:11: unknown operation 'core\.ech'"):
        live.reload()
    assert live.revisions() == before
    assert WorkflowStore(redis_client).current() == before


def test_the_watcher_reloads_when_woken_and_when_files_change(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    _write(tmp_path, "alpha")
    live = LiveWorkflows(tmp_path, WorkflowStore(redis_client))
    live.reload()
    wake, stop = threading.Event(), threading.Event()
    thread = live.watch(interval=None, wake=wake, stop=stop)
    _write(tmp_path, "beta")
    time.sleep(0.2)
    assert "beta" not in live.revisions()  # no polling: only a wake-up reloads
    wake.set()
    _wait(lambda: "beta" in live.revisions())
    stop.set()
    wake.set()
    thread.join(5)
    assert not thread.is_alive()

    polling = live.watch(interval=0.05, wake=threading.Event(), stop=(stop := threading.Event()))
    _write(tmp_path, "gamma")
    _wait(lambda: "gamma" in live.revisions())
    stop.set()
    polling.join(5)


def _wait(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
