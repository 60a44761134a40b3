"""Plutora operations workflows can ``use``, declared as data.

Every entity (releases, changes, systems, environments) has ``list``, ``get``,
``create``, ``update`` (read, merge the given fields, PUT the whole record back, as
Plutora's PUT replaces) and ``delete``, from :mod:`hub.connector.crud` (see
:mod:`connectors.plutora.records` for how they reach Plutora). Entity fields are
Plutora's camelCase names; the common ones are typed, and any other field (a site's own)
is passed through. ``changes.search`` takes search filters as the reference writes them
(``Property``, ``Operator``, ``Value``, ``Direction``) and reads them with the documented
``filter`` parameter of ``GET /changes``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.plutora.api import PlutoraApi
from connectors.plutora.records import PlutoraRecords
from hub.connector import Operation, crud, operation_table

__all__ = ["CRUD", "OPERATIONS", "RESOURCES"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    """Entity fields: the common ones typed, a site's own fields passed through."""

    model_config = ConfigDict(extra="allow")

    additionalInformation: list[dict[str, Any]] | None = None


class Release(_Open):
    """A release. Its two type fields take the values public clients of the Plutora API
    send (Plutora's own REST API library lists them): ``plutoraReleaseType`` Independent,
    Integrated or Enterprise, and, apart from it, ``releaseProjectType`` IsProject,
    NotIsProject or None (a "Project" release is a release project type, not a Plutora
    release type)."""

    identifier: str = Field(min_length=1)
    name: str = Field(min_length=1)
    implementationDate: str = Field(min_length=1, description="ISO 8601 date(-time).")
    summary: str | None = None
    plutoraReleaseType: Literal["Independent", "Integrated", "Enterprise"] | None = None
    releaseProjectType: Literal["IsProject", "NotIsProject", "None"] | None = None
    releaseTypeId: str | None = None
    releaseStatusTypeId: str | None = None
    releaseRiskLevelId: str | None = None
    organizationId: str | None = None
    managerId: str | None = None
    location: str | None = None
    parentReleaseId: str | None = None
    displayColor: str | None = None

    @field_validator("plutoraReleaseType")
    @classmethod
    def _creatable(cls, value: str | None) -> str | None:
        if value == "Enterprise":
            raise ValueError(
                "Plutora's reference: Project and Independent releases, not Enterprise "
                "ones, can be created through the API"
            )
        return value


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
    """A condition (``Operator``/``Value`` on ``Property``) and/or an order
    (``Direction``), as the reference's "Changes API update" writes them."""

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
            "LessOrEquals",
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


CRUD: crud.Crud[PlutoraApi] = crud.Crud(
    "plutora",
    PlutoraRecords,
    summaries={"update": "Change fields of a {one} (read, merge, PUT)."},
)

RESOURCES = tuple(
    crud.Resource(
        entity,
        path=entity,
        one=entity[:-1],
        actions={
            "list": ListArgs,
            "get": RecordRef,
            "create": fields,
            "update": UpdateArgs,
            "delete": RecordRef,
        },
    )
    for entity, fields in (
        ("releases", Release),
        ("changes", Change),
        ("systems", System),
        ("environments", Environment),
    )
)


def _search_changes(api: PlutoraApi, a: ChangeSearch) -> Any:
    return api.search_changes([f.model_dump(exclude_none=True) for f in a.filters], limit=a.limit)


def _me(api: PlutoraApi, a: Nothing) -> Any:
    return api.me()


OPERATIONS = operation_table(
    *(op for resource in RESOURCES for op in CRUD.operations(resource)),
    Operation(
        "changes.search",
        ChangeSearch,
        _search_changes,
        "Changes matching SearchFilters (Property, Operator, Value, Direction).",
    ),
    Operation("me", Nothing, _me, "The user behind the token."),
)
