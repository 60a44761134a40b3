"""Step executions under redelivery, on a real Redis: owner, lease, recorded output."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from hub.worker.idempotency import StepBusy, StepLedger, execution_key

from .fakes import LocalHub

TRIGGER = "trigger: { webhook: { source: src } }"


def test_execution_keys_name_the_step_and_the_item() -> None:
    assert execution_key("person") == "person"
    assert execution_key("people", 3) == "people[3]"


def test_a_recorded_step_gives_its_output_back_and_another_task_is_a_duplicate(
    redis_client: redis.Redis,
) -> None:
    ledger = StepLedger(redis_client)
    with ledger.execute("r1", "person", "task-a") as first:
        assert first.state == "run"
        first.record({"output": {"_id": "p1"}, "skipped": False})
    with ledger.execute("r1", "person", "task-a") as again:  # redelivered after the work
        assert (again.state, again.output) == ("done", {"output": {"_id": "p1"}, "skipped": False})
    with ledger.execute("r1", "person", "task-b") as other:  # the chain continued twice
        assert (other.state, other.owner) == ("duplicate", "task-a")
    assert ledger.recorded("r1", "person") == (True, {"output": {"_id": "p1"}, "skipped": False})
    assert ledger.recorded("r1", "other") == (False, None)


def test_a_failed_attempt_frees_the_step_for_its_retry(redis_client: redis.Redis) -> None:
    ledger = StepLedger(redis_client)
    with pytest.raises(RuntimeError), ledger.execute("r1", "s", "task-a") as execution:
        assert execution.state == "run"
        raise RuntimeError("upstream 503")
    with ledger.execute("r1", "s", "task-a") as retry:
        assert retry.state == "run"


def test_a_second_delivery_waits_while_the_first_runs_and_its_lease_is_renewed(
    redis_client: redis.Redis,
) -> None:
    ledger = StepLedger(redis_client, lease_seconds=0.3)
    entered, release = threading.Event(), threading.Event()

    def first_delivery() -> None:
        with ledger.execute("r1", "s", "task-a") as execution:
            entered.set()
            release.wait(5)
            execution.record({"output": 1, "skipped": False})

    thread = threading.Thread(target=first_delivery)
    thread.start()
    assert entered.wait(5)
    time.sleep(0.7)  # over twice the lease: only renewal keeps it held
    with pytest.raises(StepBusy) as busy, ledger.execute("r1", "s", "task-a"):
        pass
    assert 0 < busy.value.wait <= 0.3
    release.set()
    thread.join(5)
    with ledger.execute("r1", "s", "task-a") as second:
        assert (second.state, second.output) == ("done", {"output": 1, "skipped": False})


def test_the_lease_of_a_dead_delivery_lapses(redis_client: redis.Redis) -> None:
    ledger = StepLedger(redis_client, lease_seconds=0.3)
    # a delivery that took the lease and died: nobody renews or releases it
    redis_client.set("hub:run:r1:lease:s", "dead-token", px=300)
    redis_client.hset("hub:run:r1:steps", "owner:s", "task-a")
    with pytest.raises(StepBusy), ledger.execute("r1", "s", "task-a"):
        pass
    time.sleep(0.35)
    with ledger.execute("r1", "s", "task-a") as redelivered:
        assert redelivered.state == "run"


CHAIN = f"""
name: chain
{TRIGGER}
steps:
  - id: first
    uses: t.do
    with: {{ key: first }}
  - id: maybe
    if: "{{{{ event.go }}}}"
    uses: t.do
    with: {{ key: maybe }}
  - id: second
    uses: t.do
    with: {{ key: second, value: "{{{{ steps.first.key }}}}" }}
"""


def test_a_step_redelivered_after_its_work_is_not_applied_again(hub: LocalHub) -> None:
    wf = hub.load(CHAIN)
    run_id = hub.start(wf, {"go": False})
    first = hub.queue.pop()
    assert first is not None
    hub.worker.execute(first)
    hub.worker.execute(first)  # its worker died after handing on, before the ack
    maybe = hub.queue.pop()
    assert maybe is not None
    hub.worker.execute(maybe)
    hub.worker.execute(maybe)  # a skipped step is recorded as skipped too
    # queued: the second hand-on of "first" (another task for "maybe") and "second" twice
    assert len(hub.queue) == 3
    hub.worker.drain()
    assert hub.api.keys() == ["first", "second"]  # each applied once
    status, ctx = hub.finished[run_id]
    assert status == "succeeded"
    assert ctx["steps"]["second"] == {"key": "second", "value": "first"}
    assert ctx["skipped"] == ["maybe"]


@pytest.fixture
def hub(redis_client: redis.Redis) -> LocalHub:
    return LocalHub(redis_client)


def test_an_item_sent_twice_under_two_task_ids_is_applied_once(hub: LocalHub) -> None:
    from dataclasses import replace

    from .test_flow import FOREACH

    wf = hub.load(FOREACH)
    run_id = hub.start(wf, {"items": ["a", "b"]})
    fan_out = hub.queue.pop()
    assert fan_out is not None
    hub.worker.execute(fan_out)
    first = hub.queue.pop()
    assert first is not None and first.shadow == "fan.each[0]"
    # the fan-out died after sending item 0 and before noting it sent: sent again, new id
    hub.queue.requeue(replace(first, task_id="a-second-task"))
    hub.queue.requeue(first)
    hub.worker.drain()
    assert sorted(hub.api.keys()) == ["a", "b", "total"]  # "a" once
    assert hub.finished[run_id][0] == "succeeded"


def test_a_failing_item_is_a_dead_letter_naming_its_index(hub: LocalHub) -> None:
    from hub.core.errors import FatalError

    from .test_flow import FOREACH

    wf = hub.load(FOREACH)
    hub.api.script["b"].append(FatalError("b is refused", status=400))
    run_id, record = hub.run(wf, {"items": ["a", "b"]})
    assert record.status == "failed"
    letter = hub.flow.dead_letters.get(run_id)
    assert letter is not None and (letter.step, letter.index) == ("each", 1)
    assert [a["message"] for a in letter.attempts] == ["b is refused"]
