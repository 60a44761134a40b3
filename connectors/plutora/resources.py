"""Plutora operations workflows can ``use``, declared as data.

Every entity (releases, changes, systems, environments) has ``list``, ``get``,
``create``, ``update`` (read, merge the given fields, PUT the whole record back, as
Plutora's PUT replaces) and ``delete``. Entity fields are Plutora's camelCase names;
the common ones are typed, and any other field (a site's own) is passed through.
``changes.search`` takes ``SearchFilters`` as the reference writes them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors.plutora.api import PlutoraApi
from hub.connector.declaration import AnyOperation, Operation

__all__ = ["OPERATIONS"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    """Entity fields: the common ones typed, a site's own fields passed through."""

    model_config = ConfigDict(extra="allow")

    additionalInformation: list[dict[str, Any]] | None = None


class Release(_Open):
    identifier: str = Field(min_length=1)
    name: str = Field(min_length=1)
    implementationDate: str = Field(min_length=1, description="ISO 8601 date(-time).")
    summary: str | None = None
    plutoraReleaseType: Literal["Independent", "Project", "Enterprise"] | None = None
    releaseTypeId: str | None = None
    releaseStatusTypeId: str | None = None
    releaseRiskLevelId: str | None = None
    organizationId: str | None = None
    managerId: str | None = None
    location: str | None = None
    parentReleaseId: str | None = None
    displayColor: str | None = None


class Change(_Open):
    name: str = Field(min_length=1)
    description: str | None = None
    changePriorityId: str | None = None
    changeStatusId: str | None = None
    changeTypeId: str | None = None
    changeDeliveryRiskId: str | None = None
    changeThemeId: str | None = None
    organizationId: str | None = None
    raisedById: str | None = None


class System(_Open):
    name: str = Field(min_length=1)
    vendor: str | None = None
    status: Literal["Active", "Inactive"] | None = None
    organizationId: str | None = None
    description: str | None = None


class Environment(_Open):
    name: str = Field(min_length=1)
    vendor: str | None = None
    linkedSystemId: str | None = None
    environmentStatusId: str | None = None
    usageWorkItemId: str | None = None
    isSharedEnvironment: bool | None = None
    color: str | None = None
    url: str | None = None


class ListArgs(_Strict):
    limit: int | None = Field(default=None, ge=1, description="Stop after this many records.")


class RecordRef(_Strict):
    id: str = Field(min_length=1)


class UpdateArgs(RecordRef):
    data: dict[str, Any] = Field(min_length=1, description="Fields to change.")


class SearchFilter(_Strict):
    """One of ``SearchFilters``: a condition (``Operator``/``Value``) and/or a sort."""

    Property: str = Field(min_length=1)
    Operator: (
        Literal[
            "Equals",
            "NotEquals",
            "Contains",
            "NotContains",
            "GreaterThan",
            "GreaterOrEqual",
            "LessThan",
            "LessOrEqual",
        ]
        | None
    ) = None
    Value: Any = None
    Direction: Literal["ASC", "DESC"] | None = None


class ChangeSearch(_Strict):
    filters: list[SearchFilter] = Field(default_factory=list)
    limit: int | None = Field(default=None, ge=1, le=10_000)


class Nothing(_Strict):
    pass


def _entity_operations(entity: str, model: type[_Open]) -> list[AnyOperation]:
    one = entity[:-1]

    def create(api: PlutoraApi, a: _Open) -> Any:
        return api.create(entity, a.model_dump(exclude_none=True))

    def delete(api: PlutoraApi, a: RecordRef) -> dict[str, Any]:
        api.delete(entity, a.id)
        return {"deleted": True, "id": a.id}

    return [
        Operation(
            f"{entity}.list",
            ListArgs,
            lambda api, a: api.list(entity, limit=a.limit),
            f"List {entity}, page by page.",
        ),
        Operation(
            f"{entity}.get", RecordRef, lambda api, a: api.get(entity, a.id), f"Read one {one}."
        ),
        Operation(f"{entity}.create", model, create, f"Create a {one}.", writes=True),
        Operation(
            f"{entity}.update",
            UpdateArgs,
            lambda api, a: api.update(entity, a.id, a.data),
            f"Change fields of a {one} (read, merge, PUT).",
            writes=True,
        ),
        Operation(f"{entity}.delete", RecordRef, delete, f"Delete a {one}.", writes=True),
    ]


OPERATIONS: dict[str, AnyOperation] = {
    op.name: op
    for op in (
        *_entity_operations("releases", Release),
        *_entity_operations("changes", Change),
        *_entity_operations("systems", System),
        *_entity_operations("environments", Environment),
        Operation(
            "changes.search",
            ChangeSearch,
            lambda api, a: api.search_changes(
                [f.model_dump(exclude_none=True) for f in a.filters], limit=a.limit
            ),
            "Changes matching SearchFilters (Property, Operator, Value, Direction).",
        ),
        Operation("me", Nothing, lambda api, a: api.me(), "The user behind the token."),
    )
}
