"""The step flow on a real Redis: chains, if, foreach fan-out/fan-in, failures, run records."""

from __future__ import annotations

import pytest
import redis

from hub.core import PauseStore
from hub.core.errors import BreakerOpen, FatalError, LockBusy, Paused, QuotaWait, RetryableError
from hub.history.runs import WaitReason
from hub.testing.broker import StuckRun
from hub.worker.run_once import Claims

from .fakes import LocalHub

TRIGGER = "trigger: { webhook: { source: src } }"


@pytest.fixture
def hub(redis_client: redis.Redis) -> LocalHub:
    return LocalHub(redis_client)


def test_a_chain_hands_outputs_on_and_the_run_record_tells_what_ran(hub: LocalHub) -> None:
    wf = hub.load(
        f"""
        name: chain
        {TRIGGER}
        steps:
          - id: first
            uses: t.do
            with: {{ key: "{{{{ event.name }}}}" }}
          - id: second
            uses: t.do
            with: {{ key: second, value: "{{{{ steps.first.key | upper }}}}" }}
        """
    )
    run_id, record = hub.run(wf, {"name": "ada"})
    assert hub.api.calls == [("ada", None), ("second", "ADA")]
    assert record.status == "succeeded"
    assert (record.workflow, record.revision, record.event_id) == ("chain", wf.revision, "e1")
    assert {k: s.status for k, s in record.steps.items()} == {
        "first": "succeeded",
        "second": "succeeded",
    }
    assert record.steps["first"].attempts == 1
    assert record.started_at is not None and record.finished_at is not None
    assert hub.ctx(run_id)["steps"]["second"] == {"key": "second", "value": "ADA"}
    assert hub.runs.recent() == [run_id]


def test_if_false_skips_the_step_and_the_chain_goes_on(hub: LocalHub) -> None:
    wf = hub.load(
        f"""
        name: skip
        {TRIGGER}
        steps:
          - id: maybe
            if: "{{{{ event.go }}}}"
            uses: t.do
            with: {{ key: maybe }}
          - id: after
            uses: t.do
            with: {{ key: "after-{{{{ steps.maybe is none }}}}" }}
        """
    )
    run_id, record = hub.run(wf, {"go": False})
    assert hub.api.keys() == ["after-true"]
    assert record.status == "succeeded"
    assert record.steps["maybe"].status == "skipped"
    assert hub.ctx(run_id)["skipped"] == ["maybe"]


FOREACH = f"""
name: fan
{TRIGGER}
steps:
  - id: each
    foreach: "{{{{ event.items }}}}"
    if: "{{{{ item != 'skip' }}}}"
    uses: t.do
    with: {{ key: "{{{{ item }}}}", value: "{{{{ index }}}}" }}
  - id: total
    uses: t.do
    with: {{ key: total, value: "{{{{ steps.each | map(attribute='key', default='-') | list }}}}" }}
on_failure:
  - id: report
    uses: core.echo
    with: {{ failed: "{{{{ error.step }}}}", index: "{{{{ error.index }}}}",
             message: "{{{{ error.message }}}}", type: "{{{{ error.type }}}}" }}
"""


def test_foreach_runs_each_item_as_its_own_task_and_collects_outputs_in_order(
    hub: LocalHub,
) -> None:
    wf = hub.load(FOREACH)
    run_id, record = hub.run(wf, {"items": ["a", "skip", "c"]})
    outputs = hub.ctx(run_id)["steps"]["each"]
    assert outputs == [{"key": "a", "value": 0}, None, {"key": "c", "value": 2}]
    assert hub.api.calls[-1] == ("total", ["a", "-", "c"])
    assert sorted(hub.api.keys()[:2]) == ["a", "c"]
    # one fan-out task, three item tasks, the step after
    assert hub.worker.log.tasks == 5
    assert record.status == "succeeded"
    assert record.steps["each"].status == "succeeded"
    assert record.steps["each"].items == 3


def test_foreach_over_an_empty_list_gives_an_empty_list(hub: LocalHub) -> None:
    wf = hub.load(FOREACH)
    run_id, record = hub.run(wf, {"items": []})
    assert hub.ctx(run_id)["steps"]["each"] == []
    assert hub.api.calls == [("total", [])]
    assert record.status == "succeeded"


def test_a_redelivered_item_is_neither_applied_nor_counted_twice(hub: LocalHub) -> None:
    wf = hub.load(FOREACH)
    run_id = hub.start(wf, {"items": ["a", "b"]})
    fan_out = hub.queue.pop()
    assert fan_out is not None
    hub.worker.execute(fan_out)
    first, second = hub.queue.pop(), hub.queue.pop()
    assert first is not None and second is not None
    assert (first.shadow, second.shadow) == ("fan.each[0]", "fan.each[1]")
    hub.worker.execute(first)
    hub.worker.execute(first)  # delivered again, e.g. after its worker died before the ack
    assert hub.api.keys() == ["a"]
    hub.worker.execute(second)
    hub.worker.execute(second)  # the last item again: the chain goes on only once
    hub.worker.drain()
    assert hub.api.keys() == ["a", "b", "total"]
    assert hub.finished[run_id][0] == "succeeded"


def test_a_redelivered_fan_out_sends_no_item_twice(hub: LocalHub) -> None:
    wf = hub.load(FOREACH)
    hub.start(wf, {"items": ["a", "b"]})
    fan_out = hub.queue.pop()
    assert fan_out is not None
    hub.worker.execute(fan_out)
    hub.worker.execute(fan_out)
    assert len(hub.queue) == 2
    hub.worker.drain()
    assert hub.api.keys() == ["a", "b", "total"]


def test_a_failing_item_fails_the_step_once_and_the_rest_do_not_run(hub: LocalHub) -> None:
    wf = hub.load(FOREACH)
    hub.api.script["b"].append(FatalError("b is refused", status=400))
    run_id, record = hub.run(wf, {"items": ["a", "b", "c"]})
    assert hub.api.keys() == ["a", "b"]  # c was not run, total never ran
    assert record.status == "failed"
    assert record.steps["each"].status == "failed"
    assert record.error == {
        "message": "b is refused",
        "type": "FatalError",
        "step": "each",
        "status": 400,
        "index": 1,
    }
    report = hub.ctx(run_id)["steps"]["report"]
    assert report == {"failed": "each", "index": 1, "message": "b is refused", "type": "FatalError"}
    assert record.steps["report"].status == "succeeded"


ON_FAILURE = f"""
name: failing
{TRIGGER}
steps:
  - id: first
    uses: t.do
    with: {{ key: first }}
  - id: create
    uses: t.do
    retry: {{ max_attempts: 2 }}
    with: {{ key: create }}
    on_failure:
      - id: undo
        uses: t.do
        with: {{ key: "undo-{{{{ steps.first.key }}}}", value: "{{{{ error.status }}}}" }}
  - id: never
    uses: t.do
    with: {{ key: never }}
on_failure:
  - id: tell
    uses: t.do
    with: {{ key: "tell-{{{{ error.step }}}}", value: "{{{{ error.message }}}}" }}
"""


def test_a_fatal_error_runs_step_then_workflow_on_failure_and_fails_the_run(
    hub: LocalHub,
) -> None:
    wf = hub.load(ON_FAILURE)
    hub.api.script["create"].append(FatalError("Plutio answered 400", status=400))
    run_id, record = hub.run(wf)
    assert hub.api.calls == [
        ("first", None),
        ("create", None),
        ("undo-first", 400),
        ("tell-create", "Plutio answered 400"),
    ]
    assert record.status == "failed"
    assert record.error is not None and record.error["status"] == 400
    assert record.steps["create"].status == "failed"
    assert record.steps["create"].attempts == 1
    assert "never" not in record.steps
    assert hub.ctx(run_id)["steps"]["never"] is None
    assert [(step, type(err).__name__) for _, step, err in hub.worker.log.failures] == [
        ("create", "FatalError")
    ]


def test_retries_are_attempts_and_giving_up_is_a_failure(hub: LocalHub) -> None:
    wf = hub.load(ON_FAILURE)
    hub.api.script["create"].extend([RetryableError("503", status=503, retry_after=7)] * 2)
    run_id, record = hub.run(wf)
    assert hub.api.keys() == ["first", "create", "create", "undo-first", "tell-create"]
    assert record.steps["create"].attempts == 2  # retry: max_attempts 2
    assert hub.worker.log.delays[(run_id, "create")] == [7.0]
    assert record.status == "failed"


def test_a_retry_that_succeeds_lets_the_run_succeed(hub: LocalHub) -> None:
    wf = hub.load(ON_FAILURE)
    hub.api.script["create"].append(RetryableError("500", status=500))
    _, record = hub.run(wf)
    assert hub.api.keys() == ["first", "create", "create", "never"]
    assert record.status == "succeeded"
    assert record.steps["create"].attempts == 2


def test_quota_waits_are_not_attempts(hub: LocalHub) -> None:
    wf = hub.load(ON_FAILURE)
    hub.api.script["create"].extend([QuotaWait("plutio:x", 12.0)] * 3)
    run_id, record = hub.run(wf)
    assert record.status == "succeeded"
    assert record.steps["create"].attempts == 1
    assert record.steps["create"].quota_waits == 3
    assert hub.worker.log.delays[(run_id, "create")] == [12.0, 12.0, 12.0]


def test_a_re_scheduled_step_is_recorded_as_waiting_for_quota_or_held(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    wf = hub.load(ON_FAILURE)
    waits = [QuotaWait("plutio:x", 1.0), LockBusy("crm:key")]
    waits += [Paused("connector t", 1.0), BreakerOpen("plutio:x", 2.0)]
    hub.api.script["create"].extend(waits)
    seen: list[tuple[str, str]] = []
    waiting = hub.runs.step_waiting

    def noted(run_id: str, step_id: str, reason: WaitReason) -> None:
        waiting(run_id, step_id, reason)
        seen.append((step_id, str(hub.runs.get(run_id).steps[step_id].waiting)))  # type: ignore[union-attr]

    monkeypatch.setattr(hub.runs, "step_waiting", noted)
    _, record = hub.run(wf)
    assert seen == [
        ("create", "quota"),
        ("create", "held"),
        ("create", "paused"),
        ("create", "breaker"),
    ]
    assert record.status == "succeeded"
    assert record.steps["create"].waiting is None  # done waiting once it ended
    assert record.steps["create"].attempts == 1


def test_a_paused_connector_holds_its_steps_until_resumed_without_calling_it(
    hub: LocalHub, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    wf = hub.load(ON_FAILURE)
    pauses = PauseStore(redis_client)
    pauses.pause("connector", "t", by="ops")
    calls_while_paused: list[list[str]] = []
    waiting = hub.runs.step_waiting

    def resume_after_three(run_id: str, step_id: str, reason: WaitReason) -> None:
        waiting(run_id, step_id, reason)
        calls_while_paused.append(list(hub.api.keys()))
        if len(calls_while_paused) == 3:
            assert pauses.held_steps("t") == 1
            pauses.resume("connector", "t", by="ops")

    monkeypatch.setattr(hub.runs, "step_waiting", resume_after_three)
    run_id, record = hub.run(wf)
    assert calls_while_paused == [[], [], []]  # its very first step waited, nothing called
    assert record.status == "succeeded"
    assert hub.api.keys() == ["first", "create", "never"]
    assert (record.steps["first"].attempts, record.steps["first"].quota_waits) == (1, 3)
    assert hub.worker.log.delays[(run_id, "first")] == [5.0, 5.0, 5.0]  # HUB_PAUSE_RECHECK


def test_a_plain_step_asks_whether_its_connector_is_paused_with_its_ledger_question(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    def own_round_trip(self: PauseStore, kind: str, name: str) -> bool:
        raise AssertionError(f"asked alone whether {kind} {name} is paused")

    monkeypatch.setattr(PauseStore, "is_paused", own_round_trip)
    wf = hub.load(
        f"""
        name: one-step
        {TRIGGER}
        steps:
          - id: only
            uses: t.do
            with: {{ key: k }}
        """
    )
    _, record = hub.run(wf)
    assert record.status == "succeeded" and hub.api.calls == [("k", None)]


def test_a_failing_handler_runs_its_own_on_failure_and_the_first_error_stays(
    hub: LocalHub,
) -> None:
    wf = hub.load(
        f"""
        name: handler-fails
        {TRIGGER}
        steps:
          - id: main
            uses: core.fail
            with: {{ message: "main broke" }}
            on_failure:
              - id: cleanup
                uses: core.fail
                with: {{ message: "cleanup broke after {{{{ error.message }}}}" }}
                on_failure:
                  - id: last
                    uses: t.do
                    with: {{ key: "{{{{ error.step }}}}", value: "{{{{ error.message }}}}" }}
              - id: skipped_after_cleanup
                uses: t.do
                with: {{ key: nope }}
        on_failure:
          - id: wf_handler
            uses: t.do
            with: {{ key: wf }}
        """
    )
    _, record = hub.run(wf)
    assert hub.api.calls == [("cleanup", "cleanup broke after main broke")]
    assert record.status == "failed"
    assert record.error is not None and record.error["message"] == "main broke"
    assert record.steps["cleanup"].status == "failed"


def test_template_errors_and_a_foreach_over_a_non_list_fail_the_run(hub: LocalHub) -> None:
    wf = hub.load(FOREACH)
    run_id, record = hub.run(wf, {"items": "abc"})
    assert record.status == "failed"
    assert record.error is not None
    assert record.error["type"] == "TemplateError"
    assert "field 'foreach': gives str, not a list" in record.error["message"]
    assert hub.ctx(run_id)["steps"]["report"]["failed"] == "each"
    wf2 = hub.load(ON_FAILURE.replace("key: first }", "key: '{{ event.missing }}' }"))
    _, record = hub.run(wf2, {})
    assert record.status == "failed"
    assert record.error is not None and "'event.missing' is undefined" in record.error["message"]


def test_claims_let_only_their_owner_act_until_settled(redis_client: redis.Redis) -> None:
    claims = Claims(redis_client, "run-1")
    assert claims.take("continue", "task-a")
    assert claims.take("continue", "task-a")  # redelivered owner acts again
    assert not claims.take("continue", "task-b")
    claims.settle("continue")
    assert not claims.take("continue", "task-a")
    assert redis_client.ttl("hub:run:run-1:claims") > 0


def test_the_local_worker_gives_up_on_a_run_that_never_finishes(hub: LocalHub) -> None:
    wf = hub.load(ON_FAILURE)
    hub.api.script["create"].extend([QuotaWait("plutio:x", 300.0)] * 100)
    hub.start(wf, {})
    with pytest.raises(StuckRun, match="still running after 20 tasks"):
        hub.worker.drain(max_tasks=20)
    with pytest.raises(StuckRun, match="simulated hours"):
        hub.worker.drain(max_seconds=3600)
