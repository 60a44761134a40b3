"""What the Plutora sandbox knows of Plutora's records: entities, checks, paging, filters.

Error bodies follow ASP.NET Web API, which Plutora's API answers with
(``{"message": ..., "modelState": {...}}``). Paged reads follow the reference: ``pageNum``
(from 0) with ``recordsPerPage`` (at most 100); the filter body follows its "Changes API
update": ``SearchFilters`` of ``Property``/``Operator``/``Value`` (and ``Direction`` to
sort), with ``PageSize``, ``Page`` and ``Limit`` (up to 10,000 records when blank).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.sandbox import BadInput

__all__ = [
    "ENTITIES",
    "OPERATORS",
    "Entity",
    "filter_records",
    "model_errors",
    "paged",
]

MAX_PAGE = 100
DEFAULT_LIMIT = 10_000


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
    if entity.path == "releases" and body.get("plutoraReleaseType") == "Enterprise":
        state["release.PlutoraReleaseType"] = [
            "Only Project and Independent releases can be created or updated through the API."
        ]
    if not state:
        return None
    return {"message": "The request is invalid.", "modelState": state}


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


def _key(record: Mapping[str, Any], prop: str) -> str:
    for name in record:
        if name.lower() == prop.lower():
            return name
    return prop


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(left: Any, right: Any) -> int:
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    x, y = str(left).lower(), str(right).lower()
    return (x > y) - (x < y)


def _sort_key(value: Any) -> tuple[int, float, str]:
    number = _number(value)
    if number is not None:
        return (0, number, "")
    return (1, 0.0, "" if value is None else str(value).lower())


OPERATORS = {
    "equals": lambda v, t: v is not None and _compare(v, t) == 0,
    "notequals": lambda v, t: v is None or _compare(v, t) != 0,
    "contains": lambda v, t: v is not None and str(t).lower() in str(v).lower(),
    "notcontains": lambda v, t: v is None or str(t).lower() not in str(v).lower(),
    "greaterthan": lambda v, t: v is not None and _compare(v, t) > 0,
    "greaterorequal": lambda v, t: v is not None and _compare(v, t) >= 0,
    "lessthan": lambda v, t: v is not None and _compare(v, t) < 0,
    "lessorequal": lambda v, t: v is not None and _compare(v, t) <= 0,
}


def filter_records(records: list[dict[str, Any]], body: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a filter body (``SearchFilters``, ``PageSize``, ``Page``, ``Limit``); one page."""
    filters = body.get("SearchFilters") or []
    if not isinstance(filters, list) or not all(isinstance(f, dict) for f in filters):
        raise BadInput("SearchFilters must be an array of filter objects")
    found = list(records)
    sorts: list[tuple[str, bool]] = []
    for f in filters:
        prop = f.get("Property")
        if not isinstance(prop, str) or not prop:
            raise BadInput("every search filter needs a Property")
        if f.get("Operator") is not None:
            test = OPERATORS.get(str(f["Operator"]).lower())
            if test is None:
                raise BadInput(f"unknown Operator '{f['Operator']}' (use {', '.join(OPERATORS)})")
            found = [r for r in found if test(r.get(_key(r, prop)), f.get("Value"))]
        if f.get("Direction") is not None:
            direction = str(f["Direction"]).upper()
            if direction not in ("ASC", "DESC"):
                raise BadInput("Direction must be ASC or DESC")
            sorts.append((prop, direction == "DESC"))
    for prop, descending in reversed(sorts):
        found.sort(key=lambda r: _sort_key(r.get(_key(r, prop))), reverse=descending)
    limit = _count(body.get("Limit"), "Limit", DEFAULT_LIMIT) or DEFAULT_LIMIT
    return paged(found[:limit], body.get("Page"), body.get("PageSize"))
