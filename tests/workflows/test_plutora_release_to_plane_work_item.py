"""plutora-release-to-plane-work-item, end to end on the worker's code path and sandboxes.

Most cases are offline tests next to the workflow
(``workflows/plutora-release-to-plane-work-item.test.yaml``). These are the ones that
format cannot state: the fixture events under ``workflows/events/``, a release changed in
Plutora between two events, a held lock, the hub's own Plane quota and a wrong password
in the settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from connectors.plane.sandbox import PlaneSandboxConfig
from connectors.plane.sandbox import create_app as plane_app
from connectors.plutora.sandbox import PlutoraSandboxConfig
from connectors.plutora.sandbox import create_app as plutora_app
from hub.core.errors import FatalError, LockBusy, QuotaWait
from hub.core.locks import keyed_lock, lock_key
from hub.worker.runtime import execute_step
from tests.workflows.harness import Sandboxes, begin, event, run, sandbox_settings, served, workflow

NAME = "plutora-release-to-plane-work-item"
RELEASE_ID = "0b9a3c1e-5d2f-4c8e-9a51-3f2d7c4b8e10"
RELEASE = {
    "id": RELEASE_ID,
    "identifier": "R-2025.05",
    "name": "Spring release",
    "summary": "Payments & checkout",
    "implementationDate": "2025-05-30T00:00:00",
    "releaseStatusType": "Approved",
    "plutoraReleaseType": "Independent",
    "releaseProjectType": "IsProject",
}
KEY = {"X-API-Key": "plane_api_sandbox"}


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    with served({"plane": plane_app(), "plutora": plutora_app(PlutoraSandboxConfig())}) as s:
        yield s


class Hub:
    def __init__(self, sandboxes: Sandboxes, redis_client: redis.Redis) -> None:
        self.sandboxes = sandboxes
        self.redis = redis_client
        self.wf = workflow(NAME)
        self.settings = sandbox_settings(sandboxes)

    def run(self, file: str, **env: Any) -> dict[str, Any] | None:
        """Run the fixture event ``file``, with ``env`` (connector settings) changed."""
        return run(self.wf, event(NAME, file), self.settings.but(**env), self.redis)

    def step(self, ctx: dict[str, Any], *steps: str) -> dict[str, Any]:
        """Run ``steps`` on ``ctx`` as the worker does, each in a fresh runtime."""
        for step in steps:
            ctx = execute_step(self.wf, step, ctx, self.settings.runtime(self.redis))
        return ctx

    def started(self) -> dict[str, Any]:
        """A run for the release-created event, up to (not including) its ``item`` step."""
        ctx = begin(self.wf, event(NAME, "1-release-created.json"))
        assert ctx is not None
        return self.step(ctx, "release", "project", "state")

    def plane(self, method: str, path: str, body: Any = None) -> Any:
        url = f"{self.sandboxes.urls['plane']}/api/v1/workspaces/sandbox/{path}"
        response = httpx.request(method, url, json=body, headers=KEY)
        return response.json() if response.content else None

    def items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.sandboxes.control("plane", "GET", "state/work-items")
        return items

    def comments(self) -> list[dict[str, Any]]:
        comments: list[dict[str, Any]] = self.sandboxes.control("plane", "GET", "state/comments")
        return comments

    def state_of(self, item: dict[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = self.plane(
            "GET", f"projects/{item['project']}/states/{item['state']}/"
        )
        return state


@pytest.fixture
def hub(sandboxes: Sandboxes, redis_client: redis.Redis) -> Hub:
    sandboxes.reset()
    sandboxes.control("plutora", "POST", "seed", {"releases": [RELEASE]})
    made = Hub(sandboxes, redis_client)
    made.plane("POST", "projects/", {"name": "Releases", "identifier": "REL"})
    return made


def test_a_release_becomes_one_work_item_that_follows_it(hub: Hub) -> None:
    ctx = hub.run("1-release-created.json")
    assert ctx is not None and ctx["steps"]["item"]["created"] is True
    [item] = hub.items()
    assert item["name"] == "[R-2025.05] Spring release"
    assert item["description_html"] == "<p>Payments &amp; checkout</p>"
    assert item["target_date"] == "2025-05-30"
    assert (item["external_source"], item["external_id"]) == ("plutora", RELEASE_ID)
    assert hub.state_of(item)["group"] == "unstarted"  # Approved
    [comment] = hub.comments()
    assert "R-2025.05" in comment["comment_html"] and comment["issue"] == item["id"]

    # the release moves on in Plutora; its update event moves the work item along
    plutora = hub.settings.env
    url = f"{hub.sandboxes.urls['plutora']}/releases/{RELEASE_ID}"
    token = httpx.post(
        f"{hub.sandboxes.urls['plutora']}/oauth/token",
        data={
            "grant_type": "password",
            "client_id": plutora["PLUTORA_CLIENT_ID"],
            "client_secret": plutora["PLUTORA_CLIENT_SECRET"],
            "username": plutora["PLUTORA_USERNAME"],
            "password": plutora["PLUTORA_PASSWORD"],
        },
    ).json()["access_token"]
    moved = {**RELEASE, "releaseStatusType": "In Progress", "implementationDate": "2025-06-06"}
    httpx.put(url, json=moved, headers={"Authorization": f"bearer {token}"}).raise_for_status()
    again = hub.run("2-release-updated.json")
    assert again is not None
    assert (again["steps"]["item"]["created"], again["steps"]["item"]["updated"]) == (False, True)
    assert again["skipped"] == ["link"]
    [same] = hub.items()
    assert same["id"] == item["id"] and same["target_date"] == "2025-06-06"
    assert hub.state_of(same)["group"] == "started"
    assert len(hub.comments()) == 1

    # a redelivered event changes nothing
    hub.run("1-release-created.json")
    assert len(hub.items()) == 1 and len(hub.comments()) == 1


def test_the_sample_against_strict_sandboxes_finds_its_item_in_a_page(
    redis_client: redis.Redis,
) -> None:
    """A strict Plane answers the external-id lookup as the documented cursor page of
    every work item in the project: the sample still tracks the release once."""
    apps = {
        "plane": plane_app(PlaneSandboxConfig(strict=True)),
        "plutora": plutora_app(PlutoraSandboxConfig(strict=True)),
    }
    with served(apps) as strict:
        strict.control("plutora", "POST", "seed", {"releases": [RELEASE]})
        hub = Hub(strict, redis_client)
        project = hub.plane("POST", "projects/", {"name": "Releases", "identifier": "REL"})
        for n in range(3):  # other work items share the page the lookup answers
            hub.plane("POST", f"projects/{project['id']}/work-items/", {"name": f"other {n}"})
        first = hub.run("1-release-created.json")
        assert first is not None and first["steps"]["item"]["created"] is True
        again = hub.run("2-release-updated.json")
        assert again is not None and again["steps"]["item"]["created"] is False
        hub.run("1-release-created.json")
        tracked = [i for i in hub.items() if i.get("external_id") == RELEASE_ID]
        assert len(tracked) == 1 and len(hub.items()) == 4 and len(hub.comments()) == 1


def test_an_event_without_a_release_id_starts_no_run(hub: Hub) -> None:
    assert hub.run("3-release-event-without-id.json") is None
    assert begin(hub.wf, {**event(NAME, "1-release-created.json"), "source": "crm"}) is None


def test_a_refused_plutora_login_stops_the_run_and_says_why(hub: Hub) -> None:
    with pytest.raises(FatalError) as info:
        hub.run("1-release-created.json", PLUTORA_PASSWORD="expired")
    assert "validation_error" in str(info.value) and "PLUTORA_PASSWORD" in str(info.value)
    assert hub.items() == []


def test_a_second_run_for_the_same_release_waits_for_the_lock(hub: Hub) -> None:
    ctx = hub.started()
    project = ctx["steps"]["project"][0]["id"]
    key = lock_key("plane", "sandbox", project, "plutora", RELEASE_ID)
    with keyed_lock(hub.redis, key), pytest.raises(LockBusy):
        hub.step(ctx, "item")
    assert hub.items() == []


def test_the_plane_quota_defers_the_step_instead_of_calling(hub: Hub) -> None:
    # one run makes 5 Plane calls: find project, find states, look up, create, comment
    with pytest.raises(QuotaWait):
        hub.run("1-release-created.json", PLANE_QUOTA_LIMIT=4)
    assert len(hub.items()) == 1  # made before the quota ran out; the comment waits
    assert hub.comments() == []
