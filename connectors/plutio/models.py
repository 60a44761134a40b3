"""Input models of the Plutio operations: record fields, and each action's arguments.

Records whose fields the reference (and DESIGN's upstream facts) lists are strict
(:class:`Person`, :class:`Invoice`): a misspelt field is an error when the workflow is
validated. Every other resource takes any fields (:class:`Record`). Argument models
are strict everywhere, so an unknown argument is always reported.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, Optional, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

__all__ = [
    "DEFAULT_MAX_ITEMS",
    "ContactEmail",
    "ContactPhone",
    "FindArgs",
    "IdArgs",
    "IdsArgs",
    "Invoice",
    "ListArgs",
    "Person",
    "PersonName",
    "PollArgs",
    "PollPage",
    "PollPosition",
    "Record",
    "RecordActionArgs",
    "UpdateArgs",
    "UpsertArgs",
    "changes_model",
    "update_args",
    "upsert_args",
]

#: the most records a list or find answers unless told otherwise
DEFAULT_MAX_ITEMS = 1000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Record(BaseModel):
    """Any fields: for resources whose fields the reference does not list."""

    model_config = ConfigDict(extra="allow")


class PersonName(_Strict):
    first: str | None = None
    last: str | None = None


class ContactEmail(_Strict):
    address: str
    type: str = "work"


class ContactPhone(_Strict):
    number: str
    type: str = "work"


class Person(_Strict):
    """A person (contact) in Plutio."""

    name: PersonName
    role: str | None = None
    contactEmails: list[ContactEmail] = Field(default_factory=list)
    contactPhones: list[ContactPhone] = Field(default_factory=list)
    address: dict[str, Any] | None = None
    companies: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    customFields: list[dict[str, Any]] = Field(default_factory=list)


class Invoice(_Strict):
    """An invoice in Plutio (``_id`` is given by Plutio)."""

    invoiceId: str | None = None
    name: str | None = None
    amount: float | None = None
    subTotal: float | None = None
    currency: str | None = None
    status: str | None = None
    issueDate: str | None = None
    dueDate: str | None = None
    paidAt: str | None = None
    client: dict[str, Any] | str | None = None
    tax: Any = None
    discount: Any = None
    items: list[dict[str, Any]] | None = None


class ListArgs(_Strict):
    """Every record, paged with ``skip``/``limit``."""

    limit: int | None = Field(
        default=None, ge=1, description="Answer at most this many records (the first ones)."
    )
    max_items: int = Field(
        default=DEFAULT_MAX_ITEMS,
        ge=1,
        description="Without `limit`: fail rather than answer more records than this.",
    )


class FindArgs(ListArgs):
    """Records matching key filters (``query``) and/or a MongoDB query (``q``)."""

    query: dict[str, Any] = Field(
        default_factory=dict, description="Key filters, e.g. {'name.first': 'leo'}."
    )
    q: dict[str, Any] | None = Field(default=None, description="A MongoDB query.")

    @model_validator(mode="after")
    def _has_filter(self) -> FindArgs:
        if not self.query and not self.q:
            raise ValueError("find needs `query` or `q` (use list for every record)")
        return self


class PollPosition(_Strict):
    """Where a poll window starts: the records whose cursor field is ``value`` or later."""

    value: str | float | int = Field(description="The cursor field's value.")
    id: str = Field(
        default="", description="The ``_id`` at that value (not sent: every record at it is read)."
    )


class PollPage(_Strict):
    """Where the next page of a window starts: ``skip``, and the ``_id`` of the last
    record read (``anchor``), which that page must begin with if nothing moved."""

    skip: int = Field(default=0, ge=0)
    anchor: str | None = None
    #: times the window was read again from its start, after records moved under it
    restarts: int = Field(default=0, ge=0)


class PollArgs(_Strict):
    """One page of the records changed at or after a position (a poll trigger's page).

    The poll trigger sets ``field`` (its ``cursor``), ``after`` and ``page`` (the
    continuation the page before answered); the workflow may narrow the records with
    ``query``/``q`` and choose the page size with ``limit``.
    """

    field: str = Field(default="updatedAt", min_length=1, description="The cursor field.")
    after: PollPosition | None = Field(
        default=None, description="Answer records changed at or after this; none: every record."
    )
    page: PollPage | None = Field(
        default=None, description="The continuation a page answered as `next`; none: page one."
    )
    query: dict[str, Any] = Field(
        default_factory=dict, description="Key filters, e.g. {'status': 'paid'}."
    )
    q: dict[str, Any] | None = Field(default=None, description="A MongoDB query.")
    limit: int = Field(default=100, ge=1, le=1000, description="Records per page.")


class IdArgs(_Strict):
    """One record by ``_id``."""

    id: str = Field(alias="_id", min_length=1)


class IdsArgs(_Strict):
    """Records by ``_ids``."""

    ids: list[str] = Field(alias="_ids", min_length=1)


def changes_model(fields: type[BaseModel]) -> type[BaseModel]:
    """``fields`` with every field optional: what an update may set (whole values)."""
    if fields.model_config.get("extra") == "allow":
        return fields
    optional: dict[str, Any] = {}
    for name, info in fields.model_fields.items():
        annotation: Any = info.annotation
        optional[name] = (Optional[annotation], Field(default=None))  # noqa: UP045
    model: type[BaseModel] = create_model(f"{fields.__name__}Changes", __base__=_Strict, **optional)
    return model


Changes = TypeVar("Changes", bound=BaseModel)
Fields = TypeVar("Fields", bound=BaseModel)


class UpdateArgs(IdsArgs, Generic[Changes]):
    """``{_ids, data}``: set ``data``'s fields on every record in ``_ids``."""

    data: Changes

    @model_validator(mode="after")
    def _has_changes(self) -> UpdateArgs[Changes]:
        if not self.data.model_dump(exclude_unset=True):
            raise ValueError("data needs at least one field to set")
        return self


class UpsertArgs(_Strict, Generic[Fields]):
    """``{match, data, on_match}``: find by ``match``, or create from ``data``."""

    match: dict[str, Any] = Field(min_length=1, description="Key filters to find by.")
    data: Fields = Field(description="The record to create when none matches.")
    on_match: Literal["keep", "update"] = Field(
        default="keep", description="Keep the found record, or set data's fields on it."
    )


class RecordActionArgs(IdArgs):
    """``{_id, data}`` for ``move``/``copy``: the record, and the fields to set on it."""

    data: dict[str, Any] = Field(default_factory=dict, description="Fields to set.")


def update_args(fields: type[BaseModel]) -> type[UpdateArgs[Any]]:
    """The update arguments for records of ``fields``."""
    return UpdateArgs[changes_model(fields)]  # type: ignore[misc,return-value]


def upsert_args(fields: type[BaseModel]) -> type[UpsertArgs[Any]]:
    """The upsert arguments for records of ``fields``."""
    return UpsertArgs[fields]  # type: ignore[valid-type]
