"""The arguments of ``accounting.export``, checked when a workflow is validated."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from connectors.accounting.columns import SYSTEM_COLUMNS, Column

Format = Literal["csv", "jsonl"]


def _both() -> list[Format]:
    return ["csv", "jsonl"]


def _as_column(spec: Any) -> Any:
    """``{value, type, ...}`` is a column spec; anything else (an object a template gave
    included, unless it has a ``value`` or ``type`` key) a text column of that value."""
    if isinstance(spec, Column) or (isinstance(spec, dict) and {"value", "type"} & set(spec)):
        return spec
    return {"value": spec}


__all__ = ["ExportArgs", "FilesArgs", "HttpArgs"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FilesArgs(_Strict):
    """Where the file sink writes."""

    folder: str = Field(
        default="accounting",
        min_length=1,
        description="Folder under ACCOUNTING_EXPORT_DIR, e.g. 'invoices'.",
    )
    name: str = Field(
        default="export-{day}",
        min_length=1,
        description="File name without extension: {day} and {month} are the UTC export "
        "date (one file a day: 'export-{day}'; one a run: 'export-{{ run.id }}').",
    )
    formats: list[Format] = Field(
        default_factory=_both, min_length=1, description="csv, jsonl or both."
    )


class HttpArgs(_Strict):
    """Where the HTTP sink posts (under ACCOUNTING_URL)."""

    path: str = Field(default="entries", min_length=1, description="Path under ACCOUNTING_URL.")


class ExportArgs(_Strict):
    """One revision of a record (``id`` at ``revision``), exported or reversed once."""

    id: str = Field(min_length=1, description="The record's id, e.g. the invoice's _id.")
    revision: str = Field(
        min_length=1, description="What changes with each edit, e.g. the invoice's updatedAt."
    )
    entry: Literal["export", "reversal"] = Field(
        default="export",
        description="export: a row for this revision; reversal: the last exported row with "
        "its amounts negated (the record was removed).",
    )
    columns: dict[str, Annotated[Column, BeforeValidator(_as_column)]] = Field(
        min_length=1, description="Column name -> value, or {value, type, ...} (see the README)."
    )
    files: FilesArgs | None = Field(default=None, description="Write rows to files.")
    http: HttpArgs | None = Field(default=None, description="POST rows to ACCOUNTING_URL.")

    @model_validator(mode="before")
    @classmethod
    def _revision_as_text(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("revision"), int | float):
            data = {**data, "revision": str(data["revision"])}
        return data

    @model_validator(mode="after")
    def _check(self) -> ExportArgs:
        if self.files is None and self.http is None:
            raise ValueError("give `files`, `http` or both: where the rows go")
        if ":" in self.id:
            raise ValueError("id must not contain ':'")
        clash = sorted(set(self.columns) & set(SYSTEM_COLUMNS))
        if clash:
            raise ValueError(f"columns {clash} are added by the sink; use other names")
        return self

    def typed_columns(self) -> dict[str, Column]:
        """Every column as a :class:`Column` (a plain value is text)."""
        return dict(self.columns)
