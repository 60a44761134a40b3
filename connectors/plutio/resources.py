"""Plutio operations workflows can ``use``, declared as data."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connectors.plutio.api import PlutioApi
from hub.connector import Operation

__all__ = ["OPERATIONS", "PersonCreate", "PersonFind", "PersonUpsert"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonName(_Strict):
    first: str | None = None
    last: str | None = None


class ContactEmail(_Strict):
    address: str
    type: str = "work"


class ContactPhone(_Strict):
    number: str
    type: str = "work"


class PersonFind(_Strict):
    """Find people by key filters (``query``) and/or a MongoDB query (``q``)."""

    query: dict[str, Any] = Field(default_factory=dict)
    q: dict[str, Any] | None = None
    limit: int | None = Field(default=None, ge=1)


class PersonCreate(_Strict):
    """A new person (contact) in Plutio."""

    name: PersonName
    role: str | None = None
    contactEmails: list[ContactEmail] = Field(default_factory=list)
    contactPhones: list[ContactPhone] = Field(default_factory=list)
    address: dict[str, Any] | None = None
    companies: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    customFields: list[dict[str, Any]] = Field(default_factory=list)


class PersonUpsert(_Strict):
    """Find a person by ``match`` (key filters); create one from ``data`` if none."""

    match: dict[str, Any] = Field(min_length=1)
    data: PersonCreate


def _people_upsert(api: PlutioApi, args: PersonUpsert) -> Any:
    return api.upsert("people", args.match, args.data.model_dump(exclude_none=True))


def _people_find(api: PlutioApi, args: PersonFind) -> list[Any]:
    return api.find("people", args.query, args.q, limit=args.limit)


def _people_create(api: PlutioApi, args: PersonCreate) -> Any:
    return api.create("people", args.model_dump(exclude_none=True))


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("people.find", PersonFind, _people_find, "List people matching filters."),
        Operation("people.create", PersonCreate, _people_create, "Create a person.", writes=True),
        Operation(
            "people.upsert",
            PersonUpsert,
            _people_upsert,
            "Find a person by key filters, or create one. Answers {created, record}.",
            writes=True,
        ),
    )
}
