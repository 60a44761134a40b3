"""What the Plutora sandbox knows of Plutora's records: entities, checks, paging.

Error bodies follow ASP.NET Web API, which Plutora's API answers with
(``{"message": ..., "modelState": {...}}``). Paged reads follow Plutora's documentation:
``pageNum`` (0 is the first page) with ``recordsPerPage`` (at most 100). Release types
are Plutora's: ``plutoraReleaseType`` Independent, Integrated or Enterprise (the last
not created through the API, as the reference says), ``releaseProjectType`` IsProject,
NotIsProject or None (the values public clients of the Plutora API send).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.sandbox import BadInput

__all__ = ["ENTITIES", "Entity", "model_errors", "paged"]

MAX_PAGE = 100
#: values of a release's two type fields
RELEASE_TYPES = ("Independent", "Integrated", "Enterprise")
PROJECT_TYPES = ("IsProject", "NotIsProject", "None")


@dataclass(frozen=True)
class Entity:
    """One Plutora entity: its path, its name in messages, required fields, defaults."""

    path: str
    title: str
    required: tuple[str, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: a number Plutora assigns (``changeId``), counted per entity
    counter: str | None = None


ENTITIES: dict[str, Entity] = {
    e.path: e
    for e in (
        Entity(
            "releases",
            "release",
            ("identifier", "name", "implementationDate"),
            {
                "summary": "",
                "plutoraReleaseType": "Independent",
                "releaseStatusType": "Draft",
                "additionalInformation": [],
            },
        ),
        Entity(
            "changes",
            "change",
            ("name",),
            {"changeStatus": "Draft", "changePriority": "Medium", "additionalInformation": []},
            counter="changeId",
        ),
        Entity("systems", "system", ("name",), {"status": "Active", "vendor": ""}),
        Entity("environments", "environment", ("name",), {"isSharedEnvironment": False}),
    )
}


def _field_name(name: str) -> str:
    return name[:1].upper() + name[1:]


def model_errors(entity: Entity, body: Mapping[str, Any], *, partial: bool = False) -> Any:
    """ASP.NET's ``{"message", "modelState"}`` for a body missing fields, or ``None``."""
    state: dict[str, list[str]] = {}
    for name in entity.required:
        value = body.get(name)
        if (value is None and not partial) or (name in body and not str(value or "").strip()):
            title = _field_name(name)
            state[f"{entity.title}.{title}"] = [f"The {title} field is required."]
    if entity.path == "releases":
        state.update(_release_errors(body))
    if not state:
        return None
    return {"message": "The request is invalid.", "modelState": state}


def _release_errors(body: Mapping[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    kind = body.get("plutoraReleaseType")
    if kind == "Enterprise":
        errors["release.PlutoraReleaseType"] = [
            "Only Project and Independent releases can be created or updated through the API."
        ]
    elif kind is not None and kind not in RELEASE_TYPES:
        errors["release.PlutoraReleaseType"] = [f"The value '{kind}' is not valid."]
    project = body.get("releaseProjectType")
    if project is not None and project not in PROJECT_TYPES:
        errors["release.ReleaseProjectType"] = [f"The value '{project}' is not valid."]
    return errors


def _count(raw: Any, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadInput(f"{name} must be a whole number") from None
    if value < 0:
        raise BadInput(f"{name} must not be negative")
    return value


def paged(records: list[dict[str, Any]], page_num: Any, per_page: Any) -> dict[str, Any]:
    """The page ``page_num`` (from 0) of ``per_page`` records (at most 100), as Plutora pages."""
    number = _count(page_num, "pageNum", 0)
    size = min(max(_count(per_page, "recordsPerPage", MAX_PAGE), 1), MAX_PAGE)
    chunk = records[number * size : (number + 1) * size]
    return {
        "resultSet": chunk,
        "returnCount": len(chunk),
        "totalCount": len(records),
        "pageNum": number,
        "recordsPerPage": size,
    }
