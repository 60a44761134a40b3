"""Filters and globals that workflow templates add to Jinja's built-in ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import idna
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


def _ascii_domain(domain: str) -> str:
    """``domain`` in one canonical form: lower-case ASCII, internationalised labels as
    IDNA 2008 A-labels (``例え.jp`` and ``xn--r8jz45g.jp`` are ``xn--r8jz45g.jp``)."""
    text = domain.strip().rstrip(".")
    if not text:
        raise ValueError("no domain to convert")
    if text.isascii():
        return text.lower()
    try:
        return idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"'{text}' is not an internationalised domain name: {exc}") from None


def _idna(value: Any) -> Any:
    """A domain name in its ASCII form (IDNA 2008 with UTS #46 mapping), or the domain
    of an email address converted; None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"idna takes a domain name, not a {type(value).__name__}")
    local, at, domain = value.strip().rpartition("@")
    return f"{local}@{_ascii_domain(domain)}" if at else _ascii_domain(domain)


def _email(value: Any) -> Any:
    """An email address in one canonical form: trimmed, lower-case, its domain in IDNA
    ASCII form (``Li.Lei@例え.jp`` and ``li.lei@xn--r8jz45g.jp`` are the same address);
    None and "" stay as they are."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"email takes an address, not a {type(value).__name__}")
    text = value.strip()
    if not text:
        return text
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain.strip():
        raise ValueError(f"{text!r} is not an email address")
    return f"{local.lower()}@{_ascii_domain(domain)}"


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
    "email": _email,
    "idna": _idna,
}
GLOBALS: dict[str, Callable[..., Any]] = {"now": _now, "range": _range}
