"""The Plane connector against its sandbox over real HTTP, with quotas in a real Redis."""

from __future__ import annotations

import pytest
import redis
from pydantic import SecretStr

from connectors.plane.api import build_api
from connectors.plane.settings import PlaneSettings
from hub.core.errors import ConfigError, FatalError, QuotaWait, RetryableError, Throttled
from tests.connectors.plane.conftest import HUB, KEY, op, project, settings_for
from tests.support.sandboxes import Served


def test_lists_page_through_every_cursor(plane: Served, redis_client: redis.Redis) -> None:
    api = build_api(settings_for(plane), HUB, redis_client)
    pid = project(api)
    plane.control(
        "POST", "seed", {"work-items": [{"name": f"i{n}", "project": pid} for n in range(230)]}
    )
    items = op(api, "work_items.list", project_id=pid, fields=["id", "name"])
    assert len(items) == 230 and set(items[0]) == {"id", "name"}
    gets = [c for c in plane.calls() if c["method"] == "GET" and c["path"].endswith("/work-items/")]
    assert [c["query"] for c in gets] == [
        "fields=id%2Cname&per_page=100",
        "fields=id%2Cname&per_page=100&cursor=100%3A1%3A0",
        "fields=id%2Cname&per_page=100&cursor=100%3A2%3A0",
    ]
    assert len(op(api, "work_items.list", project_id=pid, limit=5)) == 5


def test_create_with_external_ids_happens_once(plane: Served, redis_client: redis.Redis) -> None:
    api = build_api(settings_for(plane), HUB, redis_client)
    pid = project(api)
    args = {"project_id": pid, "name": "R1", "external_source": "plutora", "external_id": "r-1"}
    first = op(api, "work_items.create", **args)
    second = op(api, "work_items.create", **{**args, "name": "R1 again"})
    assert first["id"] == second["id"] and second["name"] == "R1"
    assert len(plane.control("GET", "state/work-items")) == 1
    assert redis_client.keys("hub:lock:*") == []  # released


def test_upsert_reads_the_item_after_a_409(
    plane: Served, redis_client: redis.Redis, sandbox_mode: str
) -> None:
    if sandbox_mode == "strict":
        pytest.skip("Plane's reference has no 409: the strict sandbox never answers one")
    api = build_api(settings_for(plane), HUB, redis_client)
    pid = project(api)
    existing = op(
        api,
        "work_items.create",
        project_id=pid,
        name="made elsewhere",
        external_source="s",
        external_id="e",
    )
    # the lookup misses once (another writer is just creating it), so the create gets 409
    lookup = {"method": "GET", "path": "*/work-items/", "answers": [{"status": 404, "body": {}}]}
    plane.control("POST", "faults", {"scripts": [lookup]})
    result = op(
        api,
        "work_items.upsert",
        project_id=pid,
        match={"external_source": "s", "external_id": "e"},
        data={"name": "mine"},
    )
    assert result == {"created": False, "updated": False, "record": result["record"]}
    assert result["record"]["id"] == existing["id"]
    statuses = [(c["method"], c["status"]) for c in plane.calls()[-3:]]
    assert statuses == [("GET", 404), ("POST", 409), ("GET", 200)]


def test_upsert_can_update_an_existing_item(plane: Served, redis_client: redis.Redis) -> None:
    api = build_api(settings_for(plane), HUB, redis_client)
    pid = project(api)
    match = {"external_source": "plutora", "external_id": "r-9"}
    made = op(api, "work_items.upsert", project_id=pid, match=match, data={"name": "v1"})
    same = op(
        api,
        "work_items.upsert",
        project_id=pid,
        match=match,
        data={"name": "v1"},
        update_existing=True,
    )
    changed = op(
        api,
        "work_items.upsert",
        project_id=pid,
        match=match,
        data={"name": "v2", "priority": "high"},
        update_existing=True,
    )
    assert (made["created"], same["updated"], changed["updated"]) == (True, False, True)
    assert changed["record"]["name"] == "v2" and changed["record"]["priority"] == "high"
    patches = [c for c in plane.calls() if c["method"] == "PATCH"]
    assert len(patches) == 1


def test_reads_updates_deletes_states_labels_comments(
    plane: Served, redis_client: redis.Redis
) -> None:
    api = build_api(settings_for(plane), HUB, redis_client)
    pid = project(api)
    assert [p["identifier"] for p in op(api, "projects.find", identifier="OPS")] == ["OPS"]
    assert op(api, "projects.find", name="Nope") == []
    done = op(api, "states.find", project_id=pid, name="done")
    assert [s["group"] for s in done] == ["completed"]
    label = op(api, "labels.create", project_id=pid, name="release")
    item = op(api, "work_items.create", project_id=pid, name="Ship", labels=[label["id"]])
    got = op(api, "work_items.get", project_id=pid, id=item["id"], expand=["labels", "state"])
    assert got["labels"][0]["name"] == "release" and got["state"]["name"] == "Todo"
    moved = op(
        api, "work_items.update", project_id=pid, id=item["id"], data={"state": done[0]["id"]}
    )
    assert moved["state"] == done[0]["id"] and moved["name"] == "Ship"
    op(api, "comments.create", project_id=pid, work_item_id=item["id"], comment_html="<p>ok</p>")
    assert len(op(api, "comments.list", project_id=pid, work_item_id=item["id"])) == 1
    assert op(api, "work_items.delete", project_id=pid, id=item["id"]) == {
        "deleted": True,
        "id": item["id"],
    }
    with pytest.raises(FatalError, match="404") as gone:
        op(api, "work_items.get", project_id=pid, id=item["id"])
    assert gone.value.status == 404
    assert op(api, "me")["email"] == "sandbox@example.com"


def test_the_budget_is_kept_in_redis_per_key(plane: Served, redis_client: redis.Redis) -> None:
    api = build_api(settings_for(plane, quota_limit=3), HUB, redis_client)
    for _ in range(3):
        op(api, "projects.list")
    with pytest.raises(QuotaWait) as wait:
        op(api, "projects.list")
    assert 0 < wait.value.wait <= 60
    assert len(plane.calls()) == 3  # the fourth call never left the hub
    # another process with the same key shares the budget; the key never shows in Redis
    other = build_api(settings_for(plane, quota_limit=3), HUB, redis_client)
    with pytest.raises(QuotaWait):
        op(other, "projects.list")
    assert not [k for k in redis_client.keys("*") if KEY.encode() in k]


def test_throttling_and_server_errors_are_retriable(
    plane: Served, redis_client: redis.Redis
) -> None:
    api = build_api(settings_for(plane), HUB, redis_client)
    plane.control("POST", "faults", {"scripts": [{"answers": [503, {"drop": True}]}]})
    with pytest.raises(RetryableError) as down:
        op(api, "projects.list")
    assert down.value.status == 503
    with pytest.raises(RetryableError, match="unreachable"):
        op(api, "projects.list")
    assert op(api, "projects.list") == []
    plane.control(
        "POST", "faults", {"scripts": [{"answers": [{"status": 429, "retry_after": 30}]}]}
    )
    with pytest.raises(Throttled) as throttled:  # a quota wait: no attempt spent
        op(api, "projects.list")
    assert throttled.value.status == 429 and 25 < throttled.value.wait <= 30.5
    # the 429 paused the key's budget for every worker: no call until Retry-After
    with pytest.raises(QuotaWait) as paused:
        op(api, "projects.list")
    assert 25 < paused.value.wait <= 30.5


def test_a_wrong_key_is_fatal_and_never_shown(plane: Served, redis_client: redis.Redis) -> None:
    api = build_api(settings_for(plane, api_key=SecretStr("plane_api_wrong")), HUB, redis_client)
    with pytest.raises(FatalError) as info:
        op(api, "projects.list")
    assert info.value.status == 401 and "Given API token is not valid" in str(info.value)
    assert "plane_api_wrong" not in str(info.value)


def test_missing_settings_are_named(redis_client: redis.Redis) -> None:
    with pytest.raises(ConfigError, match="set PLANE_API_KEY, PLANE_WORKSPACE_SLUG"):
        build_api(PlaneSettings(api_key=None, workspace_slug=None), HUB, redis_client)
