"""Filters and globals that workflow templates add to Jinja's built-in ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from jinja2.exceptions import SecurityError

__all__ = ["FILTERS", "GLOBALS", "MAX_RANGE", "REMOVED_FILTERS", "to_datetime"]

#: Largest list ``range()`` may build in a template.
MAX_RANGE = 1000

#: Built-in Jinja filters left out: HTML helpers with no use in data workflows, and
#: filters that pad or format text to a width a template could make unbounded.
REMOVED_FILTERS = frozenset(
    {"center", "format", "indent", "pprint", "urlize", "wordwrap", "xmlattr", "forceescape"}
)


def to_datetime(value: Any) -> datetime:
    """An aware UTC datetime from an ISO 8601 string, epoch seconds or milliseconds.

    Numbers above 10**11 are taken as milliseconds (Unix time in ms, as many APIs send).
    Naive values are taken as UTC.
    """
    if isinstance(value, bool):
        raise ValueError("cannot read a date from true/false")
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > 1e11 else value
        result = datetime.fromtimestamp(seconds, tz=UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            result = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"cannot read a date from {value!r}: use ISO 8601") from None
    else:
        raise ValueError(f"cannot read a date from a {type(value).__name__}")
    if result.tzinfo is None:
        return result.replace(tzinfo=UTC)
    return result.astimezone(UTC)


def _json(value: Any) -> str:
    """Compact JSON, keeping non-ASCII text as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _date(value: Any, fmt: str = "%Y-%m-%d") -> str:
    """Format a date (ISO string, epoch number) in UTC with ``strftime`` codes."""
    return to_datetime(value).strftime(fmt)


def _datetime(value: Any, fmt: str | None = None) -> str:
    """ISO 8601 in UTC (``2024-05-01T12:00:00Z``), or ``strftime`` with ``fmt``."""
    moment = to_datetime(value)
    if fmt is None:
        return moment.isoformat().replace("+00:00", "Z")
    return moment.strftime(fmt)


def _now() -> str:
    """The current UTC time, ISO 8601 to the second: ``2024-05-01T12:00:00Z``."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _range(*args: int) -> list[int]:
    """``range`` as a list, at most :data:`MAX_RANGE` items."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() may give at most {MAX_RANGE} numbers")
    return list(numbers)


FILTERS: dict[str, Callable[..., Any]] = {
    "json": _json,
    "date": _date,
    "datetime": _datetime,
}
GLOBALS: dict[str, Callable[..., Any]] = {"now": _now, "range": _range}
