"""What the Plane sandbox knows of Plane's records: fields, checks, ``fields``/``expand``, paging.

Shapes follow Plane's public API (``/api/v1``) and its reference: field errors as Django
REST framework writes them (``{"name": ["This field is required."]}``), cursor pages of
``per_page`` records (at most 100) with ``next_cursor`` = ``value:offset:is_prev``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response

from hub.sandbox import BadInput, QuotaDecision, reason

__all__ = [
    "DEFAULT_STATES",
    "KINDS",
    "NOT_FOUND",
    "Kind",
    "cursor_page",
    "detail",
    "error",
    "field_errors",
    "ordered",
    "shape",
    "split_list",
    "throttled",
    "writable",
]

PRIORITIES = ("urgent", "high", "medium", "low", "none")
STATE_GROUPS = ("backlog", "unstarted", "started", "completed", "cancelled")
_EXTERNAL = {"external_source": None, "external_id": None}

#: the states Plane gives every new project: (name, group, color, default)
DEFAULT_STATES = (
    ("Backlog", "backlog", "#60646C", False),
    ("Todo", "unstarted", "#60646C", True),
    ("In Progress", "started", "#F59E0B", False),
    ("Done", "completed", "#46A758", False),
    ("Cancelled", "cancelled", "#9AA4BC", False),
)


@dataclass(frozen=True)
class Kind:
    """One Plane resource: required fields, defaults, choices and what ``expand`` reaches."""

    resource: str
    required: tuple[str, ...]
    defaults: Mapping[str, Any]
    #: parent fields the path sets (``project``, ``issue``)
    parents: tuple[str, ...] = ()
    #: field -> resource its id(s) point at, for ``expand`` and existence checks
    refs: Mapping[str, str] = field(default_factory=dict)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: how lists are ordered unless ``order_by`` says otherwise
    order_by: str = "-created_at"
    #: fields of workspace member ids: ``expand`` takes them (the reference's own example
    #: expands ``assignees``), and as the sandbox keeps no members they stay ids
    members: tuple[str, ...] = ()
    #: fields Plane shows that the sandbox does not keep: ``fields=`` may name them (the
    #: reference's own example asks work items for ``description``)
    unkept: tuple[str, ...] = ()

    @property
    def fields(self) -> frozenset[str]:
        """Every field a record of this kind shows (for ``fields=``)."""
        base = {"id", "created_at", "updated_at", "workspace"}
        return frozenset(base | set(self.required) | set(self.defaults) | set(self.parents))

    @property
    def readable(self) -> frozenset[str]:
        """What ``fields=`` may name: every field, and those the sandbox does not keep."""
        return self.fields | set(self.unkept)


KINDS: dict[str, Kind] = {
    kind.resource: kind
    for kind in (
        Kind(
            "projects",
            ("name", "identifier"),
            {"description": "", "network": 2, "emoji": None, **_EXTERNAL},
        ),
        Kind(
            "work-items",
            ("name",),
            {
                "description_html": "<p></p>",
                "priority": "none",
                "state": None,
                "labels": [],
                "assignees": [],
                "parent": None,
                "start_date": None,
                "target_date": None,
                "sequence_id": None,
                **_EXTERNAL,
            },
            parents=("project",),
            refs={
                "state": "states",
                "labels": "labels",
                "parent": "work-items",
                "project": "projects",
            },
            choices={"priority": PRIORITIES},
            members=("assignees",),
            unkept=("description", "description_stripped"),
        ),
        Kind(
            "states",
            ("name",),
            {
                "color": "#60646C",
                "group": "backlog",
                "default": False,
                "sequence": 65535,
                "description": "",
                **_EXTERNAL,
            },
            parents=("project",),
            refs={"project": "projects"},
            choices={"group": STATE_GROUPS},
            order_by="sequence",
        ),
        Kind(
            "labels",
            ("name",),
            {"color": "", "description": "", "parent": None, **_EXTERNAL},
            parents=("project",),
            refs={"project": "projects", "parent": "labels"},
        ),
        Kind(
            "comments",
            ("comment_html",),
            {"access": "INTERNAL", **_EXTERNAL},
            parents=("project", "issue"),
            refs={"issue": "work-items", "project": "projects"},
            choices={"access": ("INTERNAL", "EXTERNAL")},
        ),
    )
}


NOT_FOUND = "The requested resource does not exist."
#: fields Plane sets itself
READ_ONLY = frozenset({"id", "created_at", "updated_at", "workspace", "sequence_id"})


def error(
    status: int, message: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """Plane's own error shape: ``{"error": ...}``."""
    return JSONResponse({"error": message or reason(status)}, status_code=status, headers=headers)


def detail(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Django REST framework's error shape: ``{"detail": ...}`` (auth, throttling, routing)."""
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def throttled(decision: QuotaDecision) -> Response:
    """The 429 Django REST framework's throttling answers."""
    wait = decision.retry_after_header
    return detail(
        429, f"Request was throttled. Expected available in {wait} seconds.", {"Retry-After": wait}
    )


def writable(kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``body`` a client may set (others are ignored, as Plane's serializers do)."""
    return {
        k: v
        for k, v in body.items()
        if k in kind.fields and k not in READ_ONLY and k not in kind.parents
    }


def field_errors(kind: Kind, data: Mapping[str, Any], *, partial: bool) -> dict[str, list[str]]:
    """Django REST framework style errors for ``data`` (empty when it is valid)."""
    errors: dict[str, list[str]] = {}
    for name in kind.required:
        if name not in data:
            if not partial:
                errors[name] = ["This field is required."]
        elif not isinstance(data[name], str) or not data[name].strip():
            errors[name] = ["This field may not be blank."]
    for name, allowed in kind.choices.items():
        if name in data and data[name] not in allowed:
            errors[name] = [f'"{data[name]}" is not a valid choice.']
    return errors


def split_list(raw: str | None) -> list[str]:
    """``"a,b"`` as ``["a", "b"]``; ``None`` or empty as ``[]``."""
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


Lookup = Callable[[str, str], dict[str, Any] | None]


def shape(
    kind: Kind, record: dict[str, Any], fields: list[str], expand: list[str], lookup: Lookup
) -> dict[str, Any]:
    """``record`` with only ``fields`` (all when empty) and ``expand`` ids made objects."""
    unknown = [f for f in fields if f not in kind.readable]
    if unknown:
        raise BadInput(f"Invalid fields: {', '.join(unknown)}")
    expandable = [*kind.refs, *kind.members]
    bad = [e for e in expand if e not in expandable]
    if bad:
        raise BadInput(f"Invalid expand: {', '.join(bad)} (can expand: {', '.join(expandable)})")
    out = {k: v for k, v in record.items() if not fields or k in fields}
    for name in (e for e in expand if e in kind.refs):
        value = out.get(name)
        target = kind.refs[name]
        if isinstance(value, list):
            out[name] = [lookup(target, v) or v for v in value]
        elif isinstance(value, str):
            out[name] = lookup(target, value) or value
    return out


def ordered(records: list[dict[str, Any]], order_by: str) -> list[dict[str, Any]]:
    """``records`` sorted by a field (``-field``: descending); records without it last."""
    name = order_by.lstrip("-")
    present = [r for r in records if r.get(name) is not None]
    absent = [r for r in records if r.get(name) is None]
    try:
        present.sort(key=lambda r: r[name], reverse=order_by.startswith("-"))
    except TypeError:
        raise BadInput(f"cannot order by {name}") from None
    return present + absent


def _parse_cursor(raw: str) -> tuple[int, int, bool]:
    bits = raw.split(":")
    try:
        if len(bits) != 3:
            raise ValueError(raw)
        return int(float(bits[0])), int(bits[1]), bool(int(bits[2]))
    except ValueError:
        raise BadInput("Invalid cursor parameter.") from None


def cursor_page(
    items: list[dict[str, Any]], params: Mapping[str, str], *, max_per_page: int = 100
) -> dict[str, Any]:
    """One page of ``items`` as Plane answers a list: ``per_page`` and ``cursor`` read."""
    try:
        per_page = int(params.get("per_page") or max_per_page)
    except ValueError:
        raise BadInput("per_page must be a number") from None
    per_page = min(max(per_page, 1), max_per_page)
    offset = 0
    if params.get("cursor"):
        _value, offset, _is_prev = _parse_cursor(params["cursor"])
    if offset < 0:
        raise BadInput("Pagination offset cannot be negative")
    start = offset * per_page
    page = items[start : start + per_page]
    total = len(items)
    return {
        "next_cursor": f"{per_page}:{offset + 1}:0",
        "prev_cursor": f"{per_page}:{offset - 1}:1" if offset > 0 else "",
        "next_page_results": start + per_page < total,
        "prev_page_results": offset > 0,
        "count": len(page),
        "total_pages": math.ceil(total / per_page),
        "total_results": total,
        "extra_stats": {},
        "results": page,
    }
