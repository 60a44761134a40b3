"""The call log and the rolling-window count over it."""

from __future__ import annotations

import math
from typing import Any

import pytest

from hub.sandbox.calllog import (
    CallLog,
    CallRecord,
    max_calls_in_window,
    window_counts,
    window_use,
)


def _call(seq: int, t: float, *, refused: bool = False, client: str | None = "c") -> CallRecord:
    return CallRecord(
        seq=seq,
        t=t,
        wall="2024-01-01T00:00:00.000Z",
        method="GET",
        path="/people",
        query="",
        client_id=client,
        status=429 if refused else 200,
        quota_refused=refused,
        fault=None,
        duration=0.0,
    )


def test_window_is_half_open_like_the_limiter() -> None:
    calls = [_call(1, 0.0), _call(2, 1.0), _call(3, 10.0)]
    # (0, 10] does not hold the call at 0.0, so no window of 10 s holds all three
    assert max_calls_in_window(calls, 10.0) == 2
    assert max_calls_in_window(calls, 10.001) == 3
    assert max_calls_in_window([], 10.0) == 0


def test_received_counts_refused_calls_admitted_does_not() -> None:
    calls = [_call(i, i * 0.1, refused=i > 3) for i in range(1, 7)]
    assert max_calls_in_window(calls, 5.0) == 6
    assert max_calls_in_window(calls, 5.0, admitted_only=True) == 3


def test_client_filter_and_json_records() -> None:
    calls: list[dict[str, Any]] = [
        _call(1, 0.0, client="a").to_json(),
        _call(2, 0.1, client="b").to_json(),
        _call(3, 0.2, client="a").to_json(),
        _call(4, 0.3, client=None).to_json(),
    ]
    assert max_calls_in_window(calls, 1.0) == 4
    assert max_calls_in_window(calls, 1.0, client_id="a") == 2
    assert window_counts(calls, 1.0) == {
        "a": {"received": 2, "admitted": 2},
        "b": {"received": 1, "admitted": 1},
    }


def test_unsorted_input_is_fine() -> None:
    calls = [_call(1, 5.0), _call(2, 0.0), _call(3, 4.0), _call(4, 4.5)]
    assert max_calls_in_window(calls, 1.5) == 3
    assert max_calls_in_window(calls, 1.0) == 2  # (4.0, 5.0] leaves 4.0 out


def test_log_keeps_arrival_order_and_filters_by_sequence() -> None:
    log = CallLog()
    first, second, third = log.next_seq(), log.next_seq(), log.next_seq()
    # answers finish out of order (a slow first call)
    log.append(_call(second, 1.0))
    log.append(_call(third, 2.0))
    log.append(_call(first, 0.5))
    assert [r.seq for r in log.records()] == [1, 2, 3]
    assert [r.seq for r in log.records(since=1)] == [2, 3]
    assert log.last_seq == 3
    log.clear()
    assert log.records() == [] and log.last_seq == 0


def test_log_is_bounded() -> None:
    log = CallLog(maxlen=3)
    for _ in range(5):
        log.append(_call(log.next_seq(), 0.0))
    assert [r.seq for r in log.records()] == [3, 4, 5]


def test_window_use_is_the_mean_fill_of_the_window_from_the_first_full_one() -> None:
    # two a second, a limit of two: every window from the first full one is full
    steady = [{"t": n / 2} for n in range(9)]
    assert window_use(steady, 1.0, 2) == pytest.approx(1.0)
    # one call late by a window: one of the two slots stays empty for one window of
    # the three sampled
    late = [{"t": t} for t in (0.0, 0.5, 1.0, 2.0, 2.5, 3.0, 3.5, 4.0)]
    assert window_use(late, 1.0, 2) == pytest.approx(1 - 0.5 / 3, abs=0.01)
    assert math.isnan(window_use([{"t": 0.0}, {"t": 0.9}], 1.0, 2))  # no full window
