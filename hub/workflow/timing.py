"""Durations (``"5m"``, ``"1h30m"``) and five-field cron expressions for triggers."""

from __future__ import annotations

import re

__all__ = ["CRON_MACROS", "DURATION_PATTERN", "cron_fields", "parse_duration"]

DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$"
_DURATION = re.compile(DURATION_PATTERN)
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

CRON_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (field name, lowest, highest, names mapped to numbers)
_FIELDS: list[tuple[str, int, int, dict[str, int]]] = [
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    ("day of week", 0, 6, {name: i for i, name in enumerate(_DAYS)}),
]
_ITEM = re.compile(r"^(?P<range>\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(?P<step>\d+))?$")


def parse_duration(text: str | int | float) -> float:
    """Seconds in a duration: ``"30s"``, ``"5m"``, ``"1h30m"``, ``"500ms"``, ``"1d"``.

    A bare number is seconds. Raises :class:`ValueError` for anything else or for zero.
    """
    if isinstance(text, bool):
        raise ValueError("a duration must be text like '30s', '5m' or '1h', not true/false")
    if isinstance(text, int | float):
        seconds = float(text)
    elif _DURATION.match(text):
        seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
    else:
        try:
            seconds = float(text)
        except ValueError:
            raise ValueError(
                f"invalid duration {text!r}: write a number and a unit (ms, s, m, h, d), "
                "e.g. '30s', '5m', '1h30m'"
            ) from None
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be greater than zero")
    return seconds


def cron_fields(expr: str) -> tuple[str, str, str, str, str]:
    """The five fields of a cron expression, checked; macros such as ``@daily`` expand.

    Fields: minute, hour, day of month, month, day of week (0-6, 0 is Sunday).
    Raises :class:`ValueError` naming the field at fault.
    """
    text = CRON_MACROS.get(expr.strip().lower(), expr)
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(
            f"cron {expr!r} has {len(parts)} fields; it needs 5: minute hour day-of-month "
            "month day-of-week, e.g. '*/5 * * * *' (or a macro such as @hourly, @daily)"
        )
    for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True):
        _check_field(part.lower(), name, low, high, names)
    return (parts[0], parts[1], parts[2], parts[3], parts[4])


def _check_field(part: str, name: str, low: int, high: int, names: dict[str, int]) -> None:
    for item in part.split(","):
        match = _ITEM.match(item)
        if match is None:
            raise ValueError(f"cron {name} field {part!r} is not valid cron syntax")
        step = match.group("step")
        if step is not None and int(step) == 0:
            raise ValueError(f"cron {name} field {part!r}: a step of 0 is not allowed")
        if match.group("range") == "*":
            continue
        bounds = [_value(v, name, low, high, names) for v in match.group("range").split("-")]
        if len(bounds) == 2 and bounds[0] > bounds[1]:
            raise ValueError(f"cron {name} field {part!r}: range {item!r} runs backwards")


def _value(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise ValueError(f"cron {name} field: {text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"cron {name} {value} is out of range {low}-{high}")
    return value
