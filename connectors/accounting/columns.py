"""Column mapping: the values a workflow gives, typed into the text an accounting file holds.

A workflow maps each column to a value (``invoice_number: "{{ event.invoiceId }}"``) or
to a typed column (``amount: { value: "{{ event.amount }}", type: amount }``). Types:

- ``text`` (default): the value as text; a list or object as compact JSON.
- ``amount``: an exact decimal, never a binary float (a float from JSON is read by its
  shortest repr, so 0.1 is ``0.1``), rounded to ``decimals`` places, or to the row's
  currency's minor unit (2, or 0 for JPY, 3 for KWD, ...) when not given. ``rounding``:
  ``half_up`` (default), ``half_even``, or ``exact`` (refuse a value that needs rounding).
- ``currency``: an ISO 4217 code, upper-cased.
- ``date``: ISO 8601 date (``2024-03-01``) of the instant in ``timezone`` (default UTC).
- ``datetime``: ISO 8601 date and time with milliseconds, ``Z`` in UTC or the offset of
  ``timezone``.

Cells are text (or None for no value): amounts stay exact in CSV and JSON Lines alike.
CSV cells never hold a line break (one is written as a space), so a row is one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.core import FatalError
from hub.workflow import to_datetime

__all__ = [
    "SYSTEM_COLUMNS",
    "Column",
    "ColumnType",
    "Row",
    "build_row",
    "minor_units",
    "negate_amount",
]

ColumnType = Literal["text", "amount", "currency", "date", "datetime"]
Row = dict[str, str | None]

#: columns the sink adds after the mapped ones (a mapping may not use these names)
SYSTEM_COLUMNS = ("entry_type", "export_key", "exported_at")

#: ISO 4217 currencies whose minor unit is not two digits
_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"
_MINOR_UNITS = {
    **dict.fromkeys(_ZERO_DECIMALS.split(" "), 0),
    **dict.fromkeys(_THREE_DECIMALS.split(" "), 3),
}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ROUNDING = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}


class Column(BaseModel):
    """A typed column: its value and how to write it."""

    model_config = ConfigDict(extra="forbid")

    value: Any = Field(description="The value, usually a template.")
    type: ColumnType = "text"
    decimals: int | None = Field(default=None, ge=0, le=12, description="amount: places.")
    rounding: Literal["half_up", "half_even", "exact"] = "half_up"
    timezone: str = Field(default="UTC", description="date/datetime: the zone to write in.")
    required: bool = Field(default=False, description="Fail the row when the value is empty.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {zone!r} (use an IANA name such as 'Europe/Berlin')"
            ) from None
        return zone


def minor_units(currency: str | None) -> int:
    """Decimal places of ``currency``'s minor unit (2 when unknown)."""
    return _MINOR_UNITS.get((currency or "").upper(), 2)


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool):
        raise FatalError(f"{where}: {value!r} is not an amount")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise FatalError(f"{where}: {value!r} is not an amount") from None
    if not number.is_finite():
        raise FatalError(f"{where}: {value!r} is not a finite amount")
    return number


def _amount(value: Any, col: Column, currency: str | None, where: str) -> str:
    number = _decimal(value, where)
    places = col.decimals if col.decimals is not None else minor_units(currency)
    step = Decimal(1).scaleb(-places)
    rounding = ROUND_HALF_EVEN if col.rounding == "exact" else _ROUNDING[col.rounding]
    try:
        rounded = number.quantize(step, rounding=rounding)
    except InvalidOperation:
        raise FatalError(f"{where}: {value!r} is too large an amount") from None
    if col.rounding == "exact" and rounded != number:
        raise FatalError(
            f"{where}: {number} has more than {places} decimal places and rounding is "
            "'exact'; set `decimals` or another `rounding`"
        )
    return _plain(rounded)


def _plain(number: Decimal) -> str:
    if number.is_zero():
        number = abs(number)  # never "-0.00"
    return f"{number:f}"


def negate_amount(text: str | None) -> str | None:
    """``text`` (an amount as written) with its sign turned, places kept."""
    if text is None or text == "":
        return text
    return _plain(-Decimal(text))


def _moment(value: Any, col: Column, where: str) -> datetime:
    try:
        return to_datetime(value).astimezone(ZoneInfo(col.timezone))
    except (TypeError, ValueError, OverflowError) as exc:
        raise FatalError(f"{where}: {value!r} is not a date or time ({exc})") from None


def _iso_datetime(moment: datetime) -> str:
    text = moment.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return str(value)


def _cell(value: Any, col: Column, currency: str | None, where: str) -> str | None:
    if value is None or value == "":
        if col.required:
            raise FatalError(f"{where}: a value is required, none was given")
        return None
    if col.type == "amount":
        return _amount(value, col, currency, where)
    if col.type == "currency":
        code = _text(value).strip().upper()
        if not _CURRENCY.match(code):
            raise FatalError(f"{where}: {value!r} is not an ISO 4217 currency code")
        return code
    if col.type == "date":
        if isinstance(value, str) and _DATE_ONLY.match(value.strip()):
            return value.strip()  # a calendar date has no zone to convert from
        return _moment(value, col, where).date().isoformat()
    if col.type == "datetime":
        return _iso_datetime(_moment(value, col, where))
    return _text(value)


def build_row(columns: Mapping[str, Column], *, where: str) -> Row:
    """The typed cells of one row, in the mapping's order (currencies first resolved)."""
    currency: str | None = None
    currencies = [name for name, col in columns.items() if col.type == "currency"]
    if len(currencies) == 1:
        name = currencies[0]
        currency = _cell(columns[name].value, columns[name], None, f"{where} column '{name}'")
    return {
        name: _cell(col.value, col, currency, f"{where} column '{name}'")
        for name, col in columns.items()
    }
