"""Fault injection decisions."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from hub.sandbox.clock import FakeClock
from hub.sandbox.faults import FaultConfig, FaultInjector


def _injector(seed: int = 1, **config: object) -> tuple[FaultInjector, FakeClock]:
    clock = FakeClock()
    return FaultInjector(clock, random.Random(seed), FaultConfig.model_validate(config)), clock


def _kinds(injector: FaultInjector, n: int) -> list[str | None]:
    out = []
    for _ in range(n):
        d = injector.decide("GET", "/people")
        out.append(f"{d.kind}:{d.status}" if d else None)
    return out


def test_no_faults_by_default() -> None:
    injector, _ = _injector()
    assert _kinds(injector, 50) == [None] * 50
    assert injector.latency() == 0.0


def test_error_rate_is_reproducible_with_a_seed_and_roughly_right() -> None:
    first, _ = _injector(seed=42, error_rate=0.3)
    second, _ = _injector(seed=42, error_rate=0.3)
    a, b = _kinds(first, 1000), _kinds(second, 1000)
    assert a == b
    errors = [k for k in a if k]
    assert 240 <= len(errors) <= 360
    assert {k.split(":")[1] for k in errors} == {"500", "502", "503", "504"}
    assert {k.split(":")[0] for k in errors} == {"error_rate"}


def test_script_answers_then_passes_through_and_only_for_its_calls() -> None:
    injector, _ = _injector()
    injector.set({"scripts": [{"method": "POST", "path": "/people", "answers": [500, None, 503]}]})
    assert injector.decide("GET", "/people") is None
    first = injector.decide("POST", "/people")
    assert first is not None and (first.kind, first.status) == ("script", 500)
    assert injector.decide("POST", "/people") is None  # null: this one passes
    third = injector.decide("post", "/people")
    assert third is not None and third.status == 503
    assert injector.decide("POST", "/people") is None
    assert injector.snapshot()["scripts"][0]["answers"] == []


def test_a_repeating_script_on_a_query_holds_for_those_records_only() -> None:
    injector, _ = _injector()
    rule = {"path": "/people", "query": "*refused.example*", "repeat": True, "answers": [400]}
    injector.set({"scripts": [rule]})
    refused = "contactEmails.address=a%40refused.example&limit=1"
    for _ in range(3):  # the answers start over: the rule holds until replaced
        decision = injector.decide("GET", "/people", refused)
        assert decision is not None and decision.status == 400
    assert injector.decide("GET", "/people", "contactEmails.address=b%40ok.example") is None
    assert injector.decide("GET", "/people") is None
    injector.set({"scripts": []})
    assert injector.decide("GET", "/people", refused) is None


def test_script_globs_objects_and_drops() -> None:
    injector, _ = _injector()
    injector.set(
        {
            "scripts": [
                {
                    "path": "/task*",
                    "answers": [
                        {"status": 429, "retry_after": 3, "body": {"x": 1}},
                        {"drop": True},
                        {"delay_ms": 250},
                    ],
                }
            ]
        }
    )
    a = injector.decide("PUT", "/tasks/bulk")
    assert a is not None and (a.status, a.retry_after, a.body) == (429, 3, {"x": 1})
    b = injector.decide("GET", "/task-groups")
    assert b is not None and b.drop
    c = injector.decide("GET", "/tasks")
    assert c is not None and c.status is None and c.delay == pytest.approx(0.25)


def test_storm_by_count_and_by_time() -> None:
    injector, clock = _injector()
    injector.set({"storm": {"count": 2, "retry_after": 7}})
    assert _kinds(injector, 3) == ["storm:429", "storm:429", None]
    injector.set({"storm": {"seconds": 5}})
    assert _kinds(injector, 2) == ["storm:429", "storm:429"]
    assert injector.snapshot()["storm_active"] is True
    clock.advance(5)
    assert _kinds(injector, 1) == [None]


def test_scripts_come_before_storms_which_come_before_rates() -> None:
    injector, _ = _injector(error_rate=1.0)
    injector.set({"storm": {"count": 1}, "scripts": [{"answers": [418]}]})
    kinds = _kinds(injector, 3)
    assert kinds[:2] == ["script:418", "storm:429"]
    assert kinds[2] is not None and kinds[2].startswith("error_rate:")


def test_set_keeps_unmentioned_fields_and_running_state() -> None:
    injector, _ = _injector(error_rate=0.5)
    injector.set({"scripts": [{"answers": [500, 500]}]})
    injector.decide("GET", "/x")
    state = injector.set({"latency_ms": 20})
    assert state["error_rate"] == 0.5
    assert len(state["scripts"][0]["answers"]) == 1  # the consumed answer stays consumed
    assert injector.latency() == pytest.approx(0.02)
    injector.reset()
    assert injector.snapshot()["scripts"] == [] and injector.snapshot()["latency_ms"] == 0
    assert injector.snapshot()["error_rate"] == 0.5  # back to the initial configuration
    injector.clear()
    assert injector.snapshot()["error_rate"] == 0


def test_latency_range_and_drop_rate() -> None:
    injector, _ = _injector(seed=3, latency_ms=10, latency_max_ms=30, drop_rate=1.0)
    delays = [injector.latency() for _ in range(100)]
    assert all(0.01 <= d <= 0.03 for d in delays) and len(set(delays)) > 50
    d = injector.decide("GET", "/people")
    assert d is not None and d.drop and d.kind == "drop"


def test_invalid_settings_are_refused() -> None:
    injector, _ = _injector()
    with pytest.raises(ValidationError):
        injector.set({"error_rate": 2})
    with pytest.raises(ValidationError):
        injector.set({"storm": {"retry_after": 1}})
    with pytest.raises(ValidationError):
        injector.set({"nonsense": 1})
