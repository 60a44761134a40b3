"""plane-work-item-to-plutio-task, end to end on the worker's code path and sandboxes.

The cases are offline tests next to the workflow
(``workflows/plane-work-item-to-plutio-task.test.yaml``); this one runs the fixture events
under ``workflows/events/``, which that format cannot read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from connectors.plane.sandbox import PlaneSandboxConfig
from connectors.plane.sandbox import create_app as plane_app
from connectors.plutio.sandbox import create_app as plutio_app
from tests.workflows.harness import Sandboxes, event, run, sandbox_settings, served, workflow

NAME = "plane-work-item-to-plutio-task"
PROJECT_ID = "4a7c9e1b-2d3f-4b5a-8c6d-7e8f9a0b1c2d"
ITEM_ID = "9b1e4c2a-7f3d-4e8a-b5c6-1d2e3f4a5b6c"


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    plane = plane_app(
        PlaneSandboxConfig(
            initial_data={"projects": [{"id": PROJECT_ID, "name": "Website", "identifier": "WEB"}]}
        )
    )
    with served({"plane": plane, "plutio": plutio_app()}) as s:
        yield s


@pytest.fixture
def hub(sandboxes: Sandboxes, redis_client: redis.Redis) -> tuple[Sandboxes, Any]:
    sandboxes.reset()
    return sandboxes, sandbox_settings(sandboxes)


def _tasks(sandboxes: Sandboxes) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = sandboxes.control("plutio", "GET", "state/tasks")
    return tasks


def test_the_fixture_events_make_one_task_and_no_more(
    hub: tuple[Sandboxes, Any], redis_client: redis.Redis
) -> None:
    sandboxes, settings = hub
    [plutio_project] = sandboxes.control(
        "plutio", "POST", "seed", {"projects": [{"name": "Website"}]}
    )["projects"]
    wf = workflow(NAME)
    ctx = run(wf, event(NAME, "1-work-item-created.json"), settings, redis_client)
    assert ctx is not None and ctx["steps"]["task"]["created"] is True
    [task] = _tasks(sandboxes)
    assert task["title"] == "[WEB-42] Fix the checkout page"
    assert task["projectId"] == plutio_project["_id"]
    assert f"plane:{ITEM_ID}" in task["tags"]
    again = run(wf, event(NAME, "2-work-item-created-redelivered.json"), settings, redis_client)
    assert again is not None and again["steps"]["task"]["created"] is False
    assert run(wf, event(NAME, "3-work-item-updated.json"), settings, redis_client) is None
    assert len(_tasks(sandboxes)) == 1
