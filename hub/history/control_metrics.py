"""The operator controls' metrics, read from Redis at scrape time (see
:mod:`hub.history.metrics`):

- ``hub_breaker_state{client}``: 0 closed, 1 half-open, 2 open;
- ``hub_breaker_transitions_total{client,state}``: transitions into each state;
- ``hub_breaker_held_steps{client}``: steps waiting for an open breaker;
- ``hub_paused{kind,name}``: 1 for each paused workflow, source or connector;
- ``hub_paused_held{kind,name}``: a paused workflow's held runs, a paused connector's
  waiting steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from hub.core import PauseStore
from hub.http import breaker_status

__all__ = ["BREAKER_STATE_VALUES", "control_metrics"]

BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def control_metrics(redis: Any, window_seconds: float = 60.0) -> Iterator[Metric]:
    """Every breaker's and every pause's figures now."""
    breakers = breaker_status(redis, window_seconds)
    state = GaugeMetricFamily(
        "hub_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open", labels=["client"]
    )
    moves = CounterMetricFamily(
        "hub_breaker_transitions", "Circuit breaker transitions", labels=["client", "state"]
    )
    held = GaugeMetricFamily(
        "hub_breaker_held_steps", "Steps waiting for an open breaker", labels=["client"]
    )
    for b in breakers:
        state.add_metric([b.key], BREAKER_STATE_VALUES[b.state])
        held.add_metric([b.key], b.held_steps)
        for into, count in sorted(b.transitions.items()):
            moves.add_metric([b.key, into], count)
    yield state
    yield moves
    yield held
    paused = GaugeMetricFamily(
        "hub_paused", "Paused by an operator (hub pause)", labels=["kind", "name"]
    )
    holds = GaugeMetricFamily(
        "hub_paused_held",
        "Held by a pause: a workflow's runs, a connector's waiting steps",
        labels=["kind", "name"],
    )
    for p in PauseStore(redis).paused():
        paused.add_metric([p.kind, p.name], 1)
        if p.kind != "source":
            holds.add_metric([p.kind, p.name], p.held)
    yield paused
    yield holds
