"""Concurrency keys in the step flow: the real Flow and key slots on a real Redis, tasks on
the in-memory queue (one task at a time, so interleaving is decided by the queue)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from hub.core import KeySlots
from hub.core.errors import FatalError
from hub.worker.concurrency import ConcurrencyGate, Swept
from hub.worker.flow import Flow

from .fakes import LocalHub

TRIGGER = "trigger: { webhook: { source: src } }"


@dataclass
class GatedHub(LocalHub):
    """A local hub whose flow has a concurrency gate; woken tasks go to its queue."""

    lease_seconds: float = 600.0

    def __post_init__(self) -> None:
        super().__post_init__()
        slots = KeySlots(self.redis, lease_seconds=self.lease_seconds, ttl_seconds=3600)
        self.gate = gate = ConcurrencyGate(slots, wake=self._wake)
        self.flow = Flow(self.runtime, self.runs, on_finished=self._finished, gate=gate)
        self.worker.flow = self.flow

    def _wake(self, parked: Mapping[str, Any]) -> None:
        sig = {"args": [parked["ctx"]], "kwargs": parked["kwargs"]}
        self.queue.publish(sig, chain=parked["chain"], task_id=parked["task_id"])


@pytest.fixture
def hub(redis_client: redis.Redis) -> GatedHub:
    return GatedHub(redis_client)


TWO_STEPS = f"""
    name: serial
    {TRIGGER}
    concurrency: {{ key: "{{{{ event.contact }}}}", limit: 1 }}
    steps:
      - {{ id: first, uses: t.do, with: {{ key: "{{{{ event.name }}}}-1" }} }}
      - {{ id: second, uses: t.do, with: {{ key: "{{{{ event.name }}}}-2" }} }}
    """


def test_runs_with_one_key_take_turns_and_other_keys_run_alongside(hub: GatedHub) -> None:
    wf = hub.load(TWO_STEPS)
    a = hub.start(wf, {"contact": "c1", "name": "a"})
    b = hub.start(wf, {"contact": "c1", "name": "b"})
    c = hub.start(wf, {"contact": "c2", "name": "c"})
    hub.worker.drain()
    # without the key, the queue would interleave a-1, b-1, c-1, a-2, ...
    calls = hub.api.keys()
    assert calls.index("a-2") < calls.index("b-1")  # b waited for a's whole run
    assert calls.index("c-1") < calls.index("a-2")  # another key did not wait
    assert sorted(calls) == ["a-1", "a-2", "b-1", "b-2", "c-1", "c-2"]
    for run_id in (a, b, c):
        record = hub.runs.get(run_id)
        assert record is not None and record.status == "succeeded"
        assert all(step.waiting is None for step in record.steps.values())


def test_a_parked_step_shows_it_waits_for_its_turn(hub: GatedHub) -> None:
    wf = hub.load(TWO_STEPS)
    hub.start(wf, {"contact": "c1", "name": "a"})
    b = hub.start(wf, {"contact": "c1", "name": "b"})
    hub.worker.execute(_pop(hub))  # a's first step takes the key
    hub.worker.execute(_pop(hub))  # b's first step is parked
    record = hub.runs.get(b)
    assert record is not None and record.status == "running"
    assert record.steps["first"].waiting == "concurrency"
    assert hub.api.keys() == ["a-1"]
    assert len(hub.queue) == 1  # a's second step only: b holds no message while parked
    hub.worker.drain()
    assert hub.api.keys() == ["a-1", "a-2", "b-1", "b-2"]


def test_a_lost_holder_s_place_frees_at_the_sweep_after_its_lease(
    redis_client: redis.Redis,
) -> None:
    hub = GatedHub(redis_client, lease_seconds=1.0)
    wf = hub.load(TWO_STEPS)
    a = hub.start(wf, {"contact": "c1", "name": "a"})
    b = hub.start(wf, {"contact": "c1", "name": "b"})
    hub.worker.execute(_pop(hub))  # a takes the key
    hub.worker.execute(_pop(hub))  # b is parked
    _pop(hub)  # a's next step is lost with its worker
    assert len(hub.queue) == 0 and hub.gate.sweep_due() == 0
    time.sleep(1.2)  # a's lease runs out
    assert hub.gate.sweep_due() == 1
    hub.worker.drain()
    assert hub.api.keys() == ["a-1", "b-1", "b-2"]
    assert hub.finished[b][0] == "succeeded" and a not in hub.finished


def test_a_failed_run_gives_its_place_back(hub: GatedHub) -> None:
    wf = hub.load(TWO_STEPS)
    hub.api.script["a-1"].append(FatalError("refused"))
    a = hub.start(wf, {"contact": "c1", "name": "a"})
    b = hub.start(wf, {"contact": "c1", "name": "b"})
    hub.worker.drain()
    assert hub.api.keys() == ["a-1", "b-1", "b-2"]
    assert hub.finished[a][0] == "failed" and hub.finished[b][0] == "succeeded"


def test_a_step_key_limits_that_step_only(hub: GatedHub) -> None:
    wf = hub.load(
        f"""
        name: step-key
        {TRIGGER}
        steps:
          - {{ id: free, uses: t.do, with: {{ key: "{{{{ event.name }}}}-free" }} }}
          - id: write
            uses: t.do
            with: {{ key: "{{{{ event.name }}}}-write" }}
            concurrency: {{ key: "{{{{ steps.free.key[0] }}}}", limit: 2 }}
          - {{ id: after, uses: t.do, with: {{ key: "{{{{ event.name }}}}-after" }} }}
        """
    )
    runs = [hub.start(wf, {"name": name}) for name in ("x1", "x2", "x3")]
    hub.worker.drain()
    calls = hub.api.keys()
    # the third write waited until one of the first two writes ended, then ran
    assert calls.index("x3-write") > min(calls.index("x1-write"), calls.index("x2-write"))
    assert all(hub.finished[run][0] == "succeeded" for run in runs)
    assert len(calls) == 9


def test_foreach_items_hold_one_place_each(hub: GatedHub) -> None:
    wf = hub.load(
        f"""
        name: items
        {TRIGGER}
        steps:
          - id: each
            uses: t.do
            foreach: "{{{{ event.items }}}}"
            with: {{ key: "{{{{ item }}}}" }}
            concurrency: {{ limit: 1 }}
          - {{ id: done, uses: t.do, with: {{ key: done }} }}
        """
    )
    run_id, record = hub.run(wf, {"items": ["i0", "i1", "i2"]})
    assert record.status == "succeeded"
    assert sorted(hub.api.keys()[:3]) == ["i0", "i1", "i2"]
    assert hub.api.keys()[3] == "done"
    assert hub.ctx(run_id)["steps"]["each"] == [
        {"key": "i0", "value": None},
        {"key": "i1", "value": None},
        {"key": "i2", "value": None},
    ]


def test_a_key_template_that_fails_fails_the_run(hub: GatedHub) -> None:
    wf = hub.load(TWO_STEPS)
    run_id = hub.start(wf, {"name": "no-contact"})
    hub.worker.drain()
    status, ctx = hub.finished[run_id]
    assert status == "failed"
    assert "concurrency.key" in ctx["error"]["message"]
    assert hub.api.keys() == []


def _pop(hub: GatedHub) -> Any:
    message = hub.queue.pop()
    assert message is not None
    return message


def test_the_sweeper_sweeps_due_keys_until_stopped() -> None:
    from hub.worker.key_sweeper import KeySweeper

    calls: list[int] = []
    done = threading.Event()

    def sweep() -> Swept:
        calls.append(1)
        if len(calls) == 3:
            done.set()
        if len(calls) == 2:
            raise ConnectionError("Redis away")  # logged; the sweeper goes on
        return Swept(1, None)

    sweeper = KeySweeper(sweep, interval=0.01)
    thread = sweeper.start()
    assert done.wait(30)
    sweeper.stop()
    thread.join(30)
    assert not thread.is_alive() and len(calls) >= 3


def test_the_sweeper_sleeps_until_the_next_key_is_due() -> None:
    from hub.worker.key_sweeper import KeySweeper

    looks: list[float] = []
    done = threading.Event()

    def sweep() -> Swept:
        looks.append(time.monotonic())
        if len(looks) == 3:
            done.set()
        return Swept(0, 0.05)  # a key is due in 50 ms

    sweeper = KeySweeper(sweep, interval=3600)
    thread = sweeper.start()
    assert done.wait(30)  # not an hour: each look comes when the key it was told of is due
    sweeper.stop()
    thread.join(30)
    assert not thread.is_alive()
