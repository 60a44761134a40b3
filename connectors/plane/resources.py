"""Plane operations workflows can ``use``, declared as data.

Reads take ``fields`` and ``expand`` (lists; sent comma-separated). Lists page through
every cursor page unless ``limit`` stops them early. A work item created with both
``external_source`` and ``external_id`` is created once: the hub looks it up by them
first, under a cluster-wide lock.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.plane.api import PlaneApi, read_params
from hub.connector import Operation

__all__ = ["OPERATIONS"]

Priority = Literal["urgent", "high", "medium", "low", "none"]
StateGroup = Literal["backlog", "unstarted", "started", "completed", "cancelled"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Read(_Strict):
    fields: list[str] = Field(default_factory=list, description="Only these fields.")
    expand: list[str] = Field(default_factory=list, description="Related records to inline.")


class _External(_Strict):
    external_source: str | None = None
    external_id: str | None = None


class _InProject(_Strict):
    project_id: str = Field(min_length=1)


# --- projects -------------------------------------------------------------------------


class ProjectList(_Read):
    limit: int | None = Field(default=None, ge=1)


class ProjectGet(_Read):
    id: str = Field(min_length=1)


class ProjectFind(_Strict):
    """Projects whose ``identifier`` (e.g. ``OPS``) and/or ``name`` match exactly."""

    identifier: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _something(self) -> ProjectFind:
        if not self.identifier and not self.name:
            raise ValueError("give identifier or name")
        return self


class ProjectCreate(_External):
    name: str = Field(min_length=1)
    identifier: str = Field(min_length=1, max_length=12)
    description: str | None = None


# --- work items -----------------------------------------------------------------------


class WorkItemFields(_External):
    """Fields of a work item; all optional (for updates)."""

    name: str | None = None
    description_html: str | None = None
    priority: Priority | None = None
    state: str | None = None
    labels: list[str] | None = None
    assignees: list[str] | None = None
    parent: str | None = None
    start_date: str | None = None
    target_date: str | None = None


class WorkItemData(WorkItemFields):
    """A new work item: ``name`` required."""

    name: str = Field(min_length=1)


class WorkItemCreate(WorkItemData, _InProject):
    """A new work item; with ``external_source`` and ``external_id``, created only once."""


class WorkItemList(_Read, _InProject):
    limit: int | None = Field(default=None, ge=1)
    order_by: str | None = None


class WorkItemRef(_InProject):
    id: str = Field(min_length=1)


class WorkItemGet(_Read, WorkItemRef):
    pass


class WorkItemUpdate(WorkItemRef):
    data: WorkItemFields


class ExternalRef(_Strict):
    external_source: str = Field(min_length=1)
    external_id: str = Field(min_length=1)


class WorkItemUpsert(_InProject):
    """Find a work item by its external ids, or create it from ``data``."""

    match: ExternalRef
    data: WorkItemData
    update_existing: bool = Field(
        default=False, description="Patch an existing item with data's fields."
    )


# --- states, labels, comments ---------------------------------------------------------


class ProjectRecords(_Read, _InProject):
    limit: int | None = Field(default=None, ge=1)


class StateFind(_InProject):
    name: str | None = None
    group: StateGroup | None = None


class StateCreate(_External, _InProject):
    name: str = Field(min_length=1)
    color: str = "#60646C"
    group: StateGroup = "backlog"
    description: str | None = None


class LabelCreate(_External, _InProject):
    name: str = Field(min_length=1)
    color: str | None = None
    parent: str | None = None
    description: str | None = None


class CommentList(ProjectRecords):
    work_item_id: str = Field(min_length=1)


class CommentCreate(_External, _InProject):
    work_item_id: str = Field(min_length=1)
    comment_html: str = Field(min_length=1)
    access: Literal["INTERNAL", "EXTERNAL"] | None = None


class Nothing(_Strict):
    pass


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


def _project_lists(kind: str) -> Operation:
    def call(api: PlaneApi, a: ProjectRecords) -> list[Any]:
        path = api.path("projects", a.project_id, kind)
        return api.list(path, read_params(a.fields, a.expand), limit=a.limit)

    return Operation(f"{kind}.list", ProjectRecords, call, f"List a project's {kind}.")


def _project_creates(kind: str, model: type[_InProject]) -> Operation:
    def call(api: PlaneApi, a: _InProject) -> Any:
        return api.create(api.path("projects", a.project_id, kind), _body(a))

    return Operation(f"{kind}.create", model, call, f"Create a {kind[:-1]}.", writes=True)


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
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
}
