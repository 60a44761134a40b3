"""Column mapping: exact amounts, currencies, dates in ISO 8601, text."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.accounting.columns import Column, build_row, minor_units, negate_amount
from hub.core.errors import FatalError


@pytest.fixture(scope="module", autouse=True)
def sandbox_mode() -> str:
    """No sandbox in these tests: they run once."""
    return "none"


def _one(value: Any, **spec: Any) -> str | None:
    return build_row({"c": Column(value=value, **spec)}, where="test")["c"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, "0.10"),  # a float is read by its shortest repr, never 0.1000000000000000055
        (1234.5, "1234.50"),
        ("99.999", "100.00"),
        (7, "7.00"),
        ("-0.001", "0.00"),  # never "-0.00"
        (2.675, "2.68"),  # half_up on the decimal 2.675, not on the float below it
    ],
)
def test_amounts_are_exact_decimals(value: Any, expected: str) -> None:
    assert _one(value, type="amount") == expected


def test_amount_places_follow_the_currency_unless_given() -> None:
    row = build_row(
        {
            "yen": Column(value=1234.5, type="amount"),
            "dinar": Column(value="1.2345", type="amount", decimals=3, rounding="half_even"),
            "currency": Column(value="jpy", type="currency"),
        },
        where="test",
    )
    assert row == {"yen": "1235", "dinar": "1.234", "currency": "JPY"}
    assert minor_units("KWD") == 3 and minor_units("EUR") == 2 and minor_units(None) == 2


def test_exact_rounding_refuses_a_value_it_would_change() -> None:
    assert _one("10.10", type="amount", rounding="exact") == "10.10"
    with pytest.raises(FatalError, match="more than 2 decimal places"):
        _one("10.101", type="amount", rounding="exact")


@pytest.mark.parametrize("bad", ["ten", True, float("nan"), "1e400000"])
def test_non_amounts_fail_with_the_column_named(bad: Any) -> None:
    with pytest.raises(FatalError, match="column 'c'"):
        _one(bad, type="amount")


def test_negating_keeps_the_places() -> None:
    assert negate_amount("12.50") == "-12.50"
    assert negate_amount("-3") == "3"
    assert negate_amount("0.00") == "0.00"
    assert negate_amount(None) is None and negate_amount("") == ""


def test_dates_and_times_are_iso_8601_in_the_zone_asked() -> None:
    instant = "2024-03-31T22:30:00.000Z"
    assert _one(instant, type="date") == "2024-03-31"
    assert _one(instant, type="date", timezone="Europe/Berlin") == "2024-04-01"
    assert _one("2024-04-01", type="date", timezone="America/New_York") == "2024-04-01"
    assert _one(instant, type="datetime") == "2024-03-31T22:30:00.000Z"
    assert (
        _one(instant, type="datetime", timezone="Europe/Berlin") == "2024-04-01T00:30:00.000+02:00"
    )
    assert _one(1711924200, type="datetime") == "2024-03-31T22:30:00.000Z"
    with pytest.raises(FatalError, match="not a date"):
        _one("last tuesday", type="date")
    with pytest.raises(ValueError, match="unknown time zone"):
        Column(value="x", type="date", timezone="Mars/Olympus")


def test_currency_text_and_empty_values() -> None:
    with pytest.raises(FatalError, match="not an ISO 4217"):
        _one("dollars", type="currency")
    assert _one({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    assert _one(False) == "false"
    assert _one(None, type="amount") is None
    with pytest.raises(FatalError, match="a value is required"):
        _one("", type="amount", required=True)


def test_export_arguments_read_plain_values_and_column_specs() -> None:
    from connectors.accounting.models import ExportArgs

    args = ExportArgs.model_validate(
        {
            "id": "inv1",
            "revision": 1711924200,
            "files": {},
            "columns": {
                "n": "INV-1",
                "client": {"_id": "c1", "entityType": "company"},  # an object a template gave
                "total": {"value": "1.5", "type": "amount"},
            },
        }
    )
    columns = args.typed_columns()
    assert args.revision == "1711924200"
    assert [c.type for c in columns.values()] == ["text", "text", "amount"]
    assert build_row(columns, where="t")["client"] == '{"_id":"c1","entityType":"company"}'
    with pytest.raises(ValueError, match="typ"):
        ExportArgs.model_validate(
            {
                "id": "x",
                "revision": "r",
                "files": {},
                "columns": {"t": {"value": 1, "typ": "amount"}},
            }
        )
    with pytest.raises(ValueError, match="where the rows go"):
        ExportArgs.model_validate({"id": "x", "revision": "r", "columns": {"a": 1}})
    with pytest.raises(ValueError, match="added by the sink"):
        ExportArgs.model_validate(
            {"id": "x", "revision": "r", "files": {}, "columns": {"export_key": 1}}
        )
