"""Plane operations workflows can ``use``, declared as data.

Reads take ``fields`` and ``expand`` (lists; sent comma-separated). Lists page through
every cursor page unless ``limit`` stops them early. A work item created with both
``external_source`` and ``external_id`` is created once: the hub looks it up by them
first, under a cluster-wide lock.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from connectors.plane.api import PlaneApi, read_params
from connectors.plane.models import (
    CommentCreate,
    CommentList,
    InProject,
    LabelCreate,
    Nothing,
    ProjectCreate,
    ProjectFind,
    ProjectGet,
    ProjectList,
    ProjectRecords,
    StateCreate,
    StateFind,
    WorkItemCreate,
    WorkItemGet,
    WorkItemList,
    WorkItemRef,
    WorkItemUpdate,
    WorkItemUpsert,
)
from hub.connector.declaration import AnyOperation, Operation, operation_table

__all__ = ["OPERATIONS"]


def _body(model: BaseModel, *drop: str) -> dict[str, Any]:
    return model.model_dump(exclude_none=True, exclude={"project_id", *drop})


def _projects_list(api: PlaneApi, a: ProjectList) -> list[Any]:
    return api.list(api.path("projects"), read_params(a.fields, a.expand), limit=a.limit)


def _projects_find(api: PlaneApi, a: ProjectFind) -> list[Any]:
    return [
        p
        for p in api.iterate(api.path("projects"))
        if (a.identifier is None or p.get("identifier") == a.identifier)
        and (a.name is None or p.get("name") == a.name)
    ]


def _work_item_path(api: PlaneApi, project_id: str, *rest: str) -> str:
    return api.path("projects", project_id, "work-items", *rest)


def _work_items_create(api: PlaneApi, a: WorkItemCreate) -> Any:
    body = _body(a)
    if a.external_source and a.external_id:
        return api.upsert_work_item(a.project_id, body)["record"]
    return api.create(_work_item_path(api, a.project_id), body)


def _work_items_list(api: PlaneApi, a: WorkItemList) -> list[Any]:
    params = read_params(a.fields, a.expand)
    if a.order_by:
        params["order_by"] = a.order_by
    return api.list(_work_item_path(api, a.project_id), params, limit=a.limit)


def _work_items_upsert(api: PlaneApi, a: WorkItemUpsert) -> dict[str, Any]:
    body = {**a.data.model_dump(exclude_none=True), **a.match.model_dump()}
    return api.upsert_work_item(a.project_id, body, update_existing=a.update_existing)


def _work_items_delete(api: PlaneApi, a: WorkItemRef) -> dict[str, Any]:
    api.delete(_work_item_path(api, a.project_id, a.id))
    return {"deleted": True, "id": a.id}


def _states_find(api: PlaneApi, a: StateFind) -> list[Any]:
    return [
        s
        for s in api.iterate(api.path("projects", a.project_id, "states"))
        if (a.name is None or str(s.get("name", "")).lower() == a.name.lower())
        and (a.group is None or s.get("group") == a.group)
    ]


def _project_lists(kind: str) -> AnyOperation:
    def call(api: PlaneApi, a: ProjectRecords) -> list[Any]:
        path = api.path("projects", a.project_id, kind)
        return api.list(path, read_params(a.fields, a.expand), limit=a.limit)

    return Operation(f"{kind}.list", ProjectRecords, call, f"List a project's {kind}.")


def _project_creates(kind: str, model: type[InProject]) -> AnyOperation:
    def call(api: PlaneApi, a: InProject) -> Any:
        return api.create(api.path("projects", a.project_id, kind), _body(a))

    return Operation(f"{kind}.create", model, call, f"Create a {kind[:-1]}.", writes=True)


OPERATIONS: dict[str, AnyOperation] = operation_table(
    Operation("me", Nothing, lambda api, a: api.get("api/v1/users/me/"), "The key's user."),
    Operation("projects.list", ProjectList, _projects_list, "List the workspace's projects."),
    Operation(
        "projects.get",
        ProjectGet,
        lambda api, a: api.get(api.path("projects", a.id), read_params(a.fields, a.expand)),
        "Read one project.",
    ),
    Operation("projects.find", ProjectFind, _projects_find, "Projects by identifier or name."),
    Operation(
        "projects.create",
        ProjectCreate,
        lambda api, a: api.create(api.path("projects"), _body(a)),
        "Create a project.",
        writes=True,
    ),
    Operation("work_items.list", WorkItemList, _work_items_list, "List a project's items."),
    Operation(
        "work_items.get",
        WorkItemGet,
        lambda api, a: api.get(
            _work_item_path(api, a.project_id, a.id), read_params(a.fields, a.expand)
        ),
        "Read one work item.",
    ),
    Operation(
        "work_items.create",
        WorkItemCreate,
        _work_items_create,
        "Create a work item (once per external_source/external_id when given).",
        writes=True,
    ),
    Operation(
        "work_items.upsert",
        WorkItemUpsert,
        _work_items_upsert,
        "Find a work item by external ids or create it. Answers {created, updated, record}.",
        writes=True,
    ),
    Operation(
        "work_items.update",
        WorkItemUpdate,
        lambda api, a: api.update(
            _work_item_path(api, a.project_id, a.id), a.data.model_dump(exclude_none=True)
        ),
        "Change some fields of a work item (PATCH).",
        writes=True,
    ),
    Operation(
        "work_items.delete", WorkItemRef, _work_items_delete, "Delete a work item.", writes=True
    ),
    _project_lists("states"),
    Operation("states.find", StateFind, _states_find, "A project's states by name or group."),
    _project_creates("states", StateCreate),
    _project_lists("labels"),
    _project_creates("labels", LabelCreate),
    Operation(
        "comments.list",
        CommentList,
        lambda api, a: api.list(
            _work_item_path(api, a.project_id, a.work_item_id, "comments"),
            read_params(a.fields, a.expand),
            limit=a.limit,
        ),
        "List a work item's comments.",
    ),
    Operation(
        "comments.create",
        CommentCreate,
        lambda api, a: api.create(
            _work_item_path(api, a.project_id, a.work_item_id, "comments"),
            _body(a, "work_item_id"),
        ),
        "Comment on a work item.",
        writes=True,
    ),
)
