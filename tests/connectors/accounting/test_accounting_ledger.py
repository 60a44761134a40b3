"""Export keys, record states and the decision to write or skip."""

from __future__ import annotations

import pytest

from connectors.accounting.ledger import (
    Entry,
    RecordState,
    compare_revisions,
    export_key,
    merge,
    parse_key,
    reversal_key,
    reversal_row,
    skip_reason,
)
from hub.core.errors import FatalError


@pytest.fixture(scope="module", autouse=True)
def sandbox_mode() -> str:
    """No sandbox in these tests: they run once."""
    return "none"


T1, T2, T3 = "2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z", "2024-01-03T00:00:00.000Z"


def test_keys_round_trip() -> None:
    assert parse_key(export_key("inv1", T1)) == ("inv1", "export", T1)
    assert parse_key(reversal_key("inv1", T1)) == ("inv1", "reversal", T1)
    with pytest.raises(FatalError):
        export_key("a:b", T1)
    with pytest.raises(ValueError):
        parse_key("nocolon")


def test_revisions_compare_as_instants_when_they_are_dates() -> None:
    assert compare_revisions("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.000+00:00") == 0
    assert compare_revisions(T1, T2) == -1
    assert compare_revisions("b", "a") == 1


def _export(revision: str, amount: str) -> Entry:
    return Entry(export_key("inv1", revision), {"amount": amount, "note": "x"})


def test_state_keeps_the_newest_revision_whatever_the_order_met() -> None:
    state = merge(merge(None, _export(T2, "20.00")), _export(T1, "10.00"))
    assert (state.revision, state.row) == (T2, {"amount": "20.00", "note": "x"})
    state = merge(state, Entry(reversal_key("inv1", T3), {}))
    assert state.removed == T3
    assert RecordState.loads(state.dumps()) == state


def test_skip_reasons() -> None:
    exported = merge(None, _export(T2, "20.00"))
    assert skip_reason(None, export_key("inv1", T1), written=False) is None
    assert "already exported" in str(skip_reason(exported, export_key("inv1", T2), written=True))
    assert "older than the exported" in str(
        skip_reason(exported, export_key("inv1", T1), written=False)
    )
    assert skip_reason(exported, export_key("inv1", T3), written=False) is None
    assert "never exported" in str(skip_reason(None, reversal_key("inv1", T2), written=False))
    assert skip_reason(exported, reversal_key("inv1", T2), written=False) is None
    removed = merge(exported, Entry(reversal_key("inv1", T2), {}))
    assert "already reversed" in str(skip_reason(removed, reversal_key("inv1", T3), written=False))
    assert "was removed" in str(skip_reason(removed, export_key("inv1", T2), written=False))
    assert "already written" in str(skip_reason(removed, reversal_key("inv1", T2), written=True))


def test_reversal_row_negates_amount_columns_only() -> None:
    state = merge(None, _export(T1, "20.00"))
    row = reversal_row(state, ["note", "amount", "new"], {"amount", "new"})
    assert row == {"note": "x", "amount": "-20.00", "new": None}
