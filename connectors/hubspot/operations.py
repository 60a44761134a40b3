"""The HubSpot operations workflows ``use``: contacts read by id, in a batch, by search.

HubSpot's contact events carry only the contact's id (``objectId``); a workflow looks
the contact up to have its email and name:

- ``contacts.get``: one contact (``id``, or the value of a unique ``id_property`` such
  as ``email``), with the ``properties`` asked for;
- ``contacts.batch_read``: up to 100 contacts in one call, ``{results, missing}``;
- ``contacts.search``: the contacts matching ``filters`` (ANDed; or ``filter_groups``,
  ORed groups of ANDed filters) or a full-text ``query``, paged to ``limit``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.hubspot.api import HubSpotApi
from hub.connector import Operation, operation_table

__all__ = ["OPERATIONS", "ContactBatchRead", "ContactGet", "ContactSearch", "Filter"]

Operator = Literal[
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactGet(_Args):
    id: str | int = Field(description="The contact's id, or its id_property's value.")
    properties: list[str] = Field(default_factory=list, description="Properties to return.")
    id_property: str | None = Field(default=None, description="A unique property, e.g. email.")
    archived: bool = False


class ContactBatchRead(_Args):
    ids: list[str | int] = Field(min_length=1, max_length=100)
    properties: list[str] = Field(default_factory=list)
    id_property: str | None = None


class Filter(_Args):
    """One condition, as HubSpot's search takes it."""

    propertyName: str  # HubSpot's names, as its documentation writes them
    operator: Operator = "EQ"
    value: Any = None
    values: list[Any] | None = None
    highValue: Any = None

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ContactSearch(_Args):
    filters: list[Filter] = Field(default_factory=list, description="Conditions, all must hold.")
    filter_groups: list[list[Filter]] = Field(
        default_factory=list, description="Groups of conditions; any group may hold."
    )
    query: str | None = Field(default=None, description="Full-text search.")
    properties: list[str] = Field(default_factory=list)
    sorts: list[dict[str, Any]] = Field(default_factory=list)
    limit: int = Field(default=100, ge=1, le=10_000, description="Most contacts to return.")

    @model_validator(mode="after")
    def _one_way(self) -> ContactSearch:
        if self.filters and self.filter_groups:
            raise ValueError("give filters or filter_groups, not both")
        return self

    def body(self) -> dict[str, Any]:
        groups = self.filter_groups or ([self.filters] if self.filters else [])
        body: dict[str, Any] = {
            "filterGroups": [{"filters": [f.body() for f in group]} for group in groups],
            "properties": self.properties,
            "sorts": self.sorts,
        }
        if self.query:
            body["query"] = self.query
        return body


def _get(api: HubSpotApi, args: ContactGet) -> Any:
    return api.get_contact(
        str(args.id), args.properties, id_property=args.id_property, archived=args.archived
    )


def _batch_read(api: HubSpotApi, args: ContactBatchRead) -> Any:
    answer = api.batch_read(
        [str(i) for i in args.ids], args.properties, id_property=args.id_property
    )
    missing: list[str] = []
    for error in (answer or {}).get("errors", []):
        missing += [str(i) for i in error.get("context", {}).get("ids", [])]
    return {"results": (answer or {}).get("results", []), "missing": missing}


def _search(api: HubSpotApi, args: ContactSearch) -> Any:
    return api.search(args.body(), limit=args.limit)


OPERATIONS = operation_table(
    Operation("contacts.get", ContactGet, _get, "One contact by id or a unique property."),
    Operation(
        "contacts.batch_read",
        ContactBatchRead,
        _batch_read,
        "Up to 100 contacts in one call: {results, missing}.",
    ),
    Operation(
        "contacts.search",
        ContactSearch,
        _search,
        "Contacts matching filters or a query, paged to limit.",
    ),
)
