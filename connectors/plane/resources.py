"""Plane operations workflows can ``use``, declared as data.

Projects, work items, states, labels and comments get their record operations from
:mod:`hub.connector.crud` (see :mod:`connectors.plane.records` for how they reach
Plane). Reads take ``fields`` and ``expand`` (lists; sent comma-separated). Lists page
through every cursor page unless ``limit`` stops them early. A work item created with
both ``external_source`` and ``external_id`` is created once: the hub looks it up by
them first, under a cluster-wide lock. ``work_items.upsert``, ``states.find`` (a name
matches whatever its case) and ``me`` are Plane's own.
"""

from __future__ import annotations

from typing import Any

from connectors.plane.api import PlaneApi
from connectors.plane.models import (
    CommentCreate,
    CommentList,
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
from connectors.plane.records import PlaneRecords
from hub.connector import Operation, crud, operation_table

__all__ = ["CRUD", "OPERATIONS", "RESOURCES"]

_WORK_ITEMS = "projects/{project_id}/work-items"

CRUD: crud.Crud[PlaneApi] = crud.Crud(
    "plane",
    PlaneRecords,
    send="non_null",
    order=("list", "get", "find", "create", "upsert", "update", "delete"),
)

PROJECTS = crud.Resource(
    "projects",
    path="projects",
    one="project",
    actions={"list": ProjectList, "get": ProjectGet, "find": ProjectFind, "create": ProjectCreate},
    summaries={
        "list": "List the workspace's projects.",
        "find": "Projects by identifier or name.",
    },
)
WORK_ITEMS = crud.Resource(
    "work_items",
    path=_WORK_ITEMS,
    one="work item",
    actions={
        "list": WorkItemList,
        "get": WorkItemGet,
        "update": WorkItemUpdate,
        "delete": WorkItemRef,
    },
    summaries={
        "list": "List a project's items.",
        "update": "Change some fields of a work item (PATCH).",
    },
)
STATES = crud.Resource(
    "states",
    path="projects/{project_id}/states",
    one="state",
    actions={"list": ProjectRecords, "create": StateCreate},
    summaries={"list": "List a project's states."},
)
LABELS = crud.Resource(
    "labels",
    path="projects/{project_id}/labels",
    one="label",
    actions={"list": ProjectRecords, "create": LabelCreate},
    summaries={"list": "List a project's labels."},
)
COMMENTS = crud.Resource(
    "comments",
    path=f"{_WORK_ITEMS}/{{work_item_id}}/comments",
    one="comment",
    actions={"list": CommentList, "create": CommentCreate},
    summaries={"list": "List a work item's comments.", "create": "Comment on a work item."},
)
RESOURCES = (PROJECTS, WORK_ITEMS, STATES, LABELS, COMMENTS)


def _me(api: PlaneApi, args: Nothing) -> Any:
    return api.get("api/v1/users/me/")


def _work_items_create(api: PlaneApi, a: WorkItemCreate) -> Any:
    body = crud.non_null_fields(a, exclude={"project_id"})
    if a.external_source and a.external_id:
        return api.upsert_work_item(a.project_id, body)["record"]
    return api.create(api.path("projects", a.project_id, "work-items"), body)


def _work_items_create_calls(a: WorkItemCreate) -> int:
    """With external ids a create is an upsert: a find, then the create."""
    return len(crud.UPSERT_CALLS) if a.external_source and a.external_id else 1


def _work_items_upsert(api: PlaneApi, a: WorkItemUpsert) -> dict[str, Any]:
    body = {**a.data.model_dump(exclude_none=True), **a.match.model_dump()}
    return api.upsert_work_item(a.project_id, body, update_existing=a.update_existing)


def _states_find(api: PlaneApi, a: StateFind) -> list[Any]:
    return [
        s
        for s in api.iterate(api.path("projects", a.project_id, "states"))
        if (a.name is None or str(s.get("name", "")).lower() == a.name.lower())
        and (a.group is None or s.get("group") == a.group)
    ]


OPERATIONS = operation_table(
    Operation("me", Nothing, _me, "The key's user."),
    *CRUD.operations(PROJECTS),
    *CRUD.operations(
        WORK_ITEMS,
        Operation(
            "work_items.create",
            WorkItemCreate,
            _work_items_create,
            "Create a work item (once per external_source/external_id when given).",
            writes=True,
            calls=_work_items_create_calls,
        ),
        Operation(
            "work_items.upsert",
            WorkItemUpsert,
            _work_items_upsert,
            "Find a work item by external ids or create it. Answers {created, updated, record}.",
            writes=True,
            calls=len(crud.UPSERT_CALLS),
        ),
    ),
    *CRUD.operations(
        STATES,
        Operation("states.find", StateFind, _states_find, "A project's states by name or group."),
    ),
    *CRUD.operations(LABELS),
    *CRUD.operations(COMMENTS),
)
