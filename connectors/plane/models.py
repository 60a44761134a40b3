"""Inputs of the Plane operations: what a workflow step may pass, checked before it runs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CommentCreate",
    "CommentList",
    "ExternalRef",
    "InProject",
    "LabelCreate",
    "Nothing",
    "Priority",
    "ProjectCreate",
    "ProjectFind",
    "ProjectGet",
    "ProjectList",
    "ProjectRecords",
    "StateCreate",
    "StateFind",
    "StateGroup",
    "WorkItemCreate",
    "WorkItemData",
    "WorkItemFields",
    "WorkItemGet",
    "WorkItemList",
    "WorkItemRef",
    "WorkItemUpdate",
    "WorkItemUpsert",
]

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


class InProject(_Strict):
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


class WorkItemCreate(WorkItemData, InProject):
    """A new work item; with ``external_source`` and ``external_id``, created only once."""


class WorkItemList(_Read, InProject):
    limit: int | None = Field(default=None, ge=1)
    #: not in Plane's reference: Plane's own API server (makeplane/plane) reads it; an
    #: instance that does not answers in its default order (newest first)
    order_by: str | None = None


class WorkItemRef(InProject):
    id: str = Field(min_length=1)


class WorkItemGet(_Read, WorkItemRef):
    pass


class WorkItemUpdate(WorkItemRef):
    data: WorkItemFields


class ExternalRef(_Strict):
    external_source: str = Field(min_length=1)
    external_id: str = Field(min_length=1)


class WorkItemUpsert(InProject):
    """Find a work item by its external ids, or create it from ``data``."""

    match: ExternalRef
    data: WorkItemData
    update_existing: bool = Field(
        default=False, description="Patch an existing item with data's fields."
    )


# --- states, labels, comments ---------------------------------------------------------


class ProjectRecords(_Read, InProject):
    limit: int | None = Field(default=None, ge=1)


class StateFind(InProject):
    name: str | None = None
    group: StateGroup | None = None


class StateCreate(_External, InProject):
    name: str = Field(min_length=1)
    color: str = "#60646C"
    group: StateGroup = "backlog"
    description: str | None = None


class LabelCreate(_External, InProject):
    name: str = Field(min_length=1)
    color: str | None = None
    parent: str | None = None
    description: str | None = None


class CommentList(ProjectRecords):
    work_item_id: str = Field(min_length=1)


class CommentCreate(_External, InProject):
    work_item_id: str = Field(min_length=1)
    comment_html: str = Field(min_length=1)
    access: Literal["INTERNAL", "EXTERNAL"] | None = None


class Nothing(_Strict):
    pass
