"""The chaos suite, short run: 1,000 events through the CRM workflow while workers are
SIGKILLed every 3 s, Redis restarts once and the sandbox answers 500s, 429 bursts and
slowly; then exactly one person per event or a dead letter for it, and a replay of the
dead letters once the fault is fixed. ``bench/chaos.py`` makes the long run
(``--events 10000``); ``HUB_CHAOS_EVENTS`` sizes this one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.chaos import ChaosConfig, run_chaos

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]


@pytest.mark.timeout(900)
def test_nothing_lost_nothing_applied_twice_only_designed_failures_dead(tmp_path: Path) -> None:
    config = ChaosConfig(events=int(os.environ.get("HUB_CHAOS_EVENTS", "1000")))
    report = run_chaos(config, tmp_path)
    for line in report.lines():
        print(line)
    for kind, examples in report.examples.items():
        print(f"  {kind}: {', '.join(examples)}")
    assert report.settled, f"not settled; logs in {tmp_path / 'logs'}"
    assert report.accepted == config.events
    assert report.kills >= 5 and report.redis_restarts == 1 and report.storms >= 1
    assert (report.lost, report.duplicated, report.dead_and_upstream) == (0, 0, 0)
    assert report.dead_lettered == report.designed_to_fail == config.events // 20
    assert report.dead_not_designed == report.designed_not_dead == 0
    assert "designed, other error" not in report.examples  # each dead for its 400
    assert report.once == config.events - report.designed_to_fail
    # the fault fixed, `hub dlq replay --all` brings each of them upstream exactly once
    assert report.replayed == report.designed_to_fail
    assert report.replay_once == report.designed_to_fail
    assert report.ok
