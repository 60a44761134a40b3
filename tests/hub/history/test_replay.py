"""Replaying dead letters through the real flow: from the failed step or the start, pinned
revision or latest, once."""

from __future__ import annotations

from collections.abc import Callable
from textwrap import dedent
from typing import Any

import pytest
import redis

from hub.core.errors import FatalError
from hub.history.dead_letters import DeadLetterFilter
from hub.history.replay import Replayer, ReplayError, replay_summary
from hub.history.runs import RunStore
from hub.workflow.loader import load_workflow_text
from hub.workflow.revisions import WorkflowStore
from tests.hub.worker.fakes import LocalHub, lookup

WORKFLOW = """
name: sync
trigger: { webhook: { source: src } }
steps:
  - id: first
    uses: t.do
    with: { key: first, value: "{{ event.n }}" }
  - id: second
    uses: t.do
    with: { key: "second", value: "{{ steps.first.value }}" }
"""


@pytest.fixture
def hub(redis_client: redis.Redis) -> LocalHub:
    return LocalHub(redis_client)


@pytest.fixture
def workflows(redis_client: redis.Redis) -> WorkflowStore:
    return WorkflowStore(redis_client)


def _replayer(
    hub: LocalHub,
    workflows: WorkflowStore,
    ids: list[str] | None = None,
    send: Callable[[Any], Any] | None = None,
) -> Replayer:
    fresh = iter(ids or [f"replay-{n}" for n in range(1, 100)])
    return Replayer(
        hub.app,
        hub.flow.dead_letters,
        workflows,
        hub.runs,
        keep_replayed_seconds=600,
        new_id=lambda: next(fresh),
        send=send or hub.queue.send,
    )


def _failed_run(hub: LocalHub, workflows: WorkflowStore) -> str:
    wf = hub.load(WORKFLOW)
    workflows.publish([wf])
    hub.api.script["second"].append(FatalError("refused", status=400))
    run_id, record = hub.run(wf, {"n": 7})
    assert record.status == "failed"
    return run_id


def test_replay_from_the_failed_step_reuses_the_earlier_outputs(
    hub: LocalHub, workflows: WorkflowStore
) -> None:
    dead = _failed_run(hub, workflows)
    assert hub.api.keys() == ["first", "second"]
    replay = _replayer(hub, workflows).replay(dead)
    assert (replay.new_run_id, replay.from_step) == ("replay-1", "second")
    hub.worker.drain()
    assert hub.api.keys() == ["first", "second", "second"]  # "first" is not called again
    status, ctx = hub.finished["replay-1"]
    assert status == "succeeded"
    assert ctx["steps"]["second"] == {"key": "second", "value": 7}
    record = hub.runs.get("replay-1")
    assert record is not None and record.replay_of == dead and record.event_id == "e1"
    letter = hub.flow.dead_letters.get(dead)
    assert letter is not None and (letter.status, letter.replayed_as) == ("replayed", "replay-1")
    assert RunStore(hub.redis).for_event("e1") == ["replay-1", dead]
    with pytest.raises(ReplayError, match="replayed already as run replay-1"):
        _replayer(hub, workflows).replay(dead)


def test_replay_from_the_start_runs_every_step(hub: LocalHub, workflows: WorkflowStore) -> None:
    dead = _failed_run(hub, workflows)
    _replayer(hub, workflows).replay(dead, from_start=True)
    hub.worker.drain()
    assert hub.api.keys() == ["first", "second", "first", "second"]
    assert hub.finished["replay-1"][0] == "succeeded"


def test_a_replay_that_fails_again_is_a_dead_letter_naming_the_first(
    hub: LocalHub, workflows: WorkflowStore
) -> None:
    dead = _failed_run(hub, workflows)
    hub.api.script["second"].append(FatalError("still refused", status=400))
    _replayer(hub, workflows).replay(dead)
    hub.worker.drain()
    again = hub.flow.dead_letters.get("replay-1")
    assert again is not None and again.replay_of == dead
    assert again.error["message"] == "still refused"


def test_replay_on_the_latest_revision(hub: LocalHub, workflows: WorkflowStore) -> None:
    dead = _failed_run(hub, workflows)
    fixed = load_workflow_text(
        dedent(WORKFLOW).replace('key: "second"', 'key: "second-fixed"'), "wf.yaml", lookup=lookup
    )
    workflows.publish([fixed])
    hub.worker.workflows[fixed.revision] = fixed
    replay = _replayer(hub, workflows).replay(dead, latest=True)
    assert replay.revision == fixed.revision
    hub.worker.drain()
    assert hub.api.keys()[-1] == "second-fixed"


def test_a_step_the_latest_revision_lacks_needs_a_replay_from_the_start(
    hub: LocalHub, workflows: WorkflowStore
) -> None:
    dead = _failed_run(hub, workflows)
    renamed = load_workflow_text(
        dedent(WORKFLOW).replace("id: second", "id: other"), "wf.yaml", lookup=lookup
    )
    workflows.publish([renamed])
    with pytest.raises(ReplayError, match="does not have; replay it from the start"):
        _replayer(hub, workflows).replay(dead, latest=True)
    assert hub.flow.dead_letters.get(dead).status == "dead"  # type: ignore[union-attr]


def test_a_replay_sent_twice_applies_each_step_once(
    hub: LocalHub, workflows: WorkflowStore
) -> None:
    dead = _failed_run(hub, workflows)
    # a first replay chose its run id and sent the run, then stopped before marking it
    hub.flow.dead_letters.replay_run_id(dead, "replay-1")
    first = _replayer(hub, workflows, ["unused"])
    first._letters.mark_replayed = lambda *a, **k: False  # type: ignore[method-assign]
    first.replay(dead)
    second = _replayer(hub, workflows, ["unused-too"]).replay(dead)
    assert second.new_run_id == "replay-1"  # the same run again, not a new one
    hub.worker.drain()
    assert hub.api.keys() == ["first", "second", "second"]
    assert hub.finished["replay-1"][0] == "succeeded"


def test_unknown_and_unpublished(hub: LocalHub, workflows: WorkflowStore) -> None:
    with pytest.raises(ReplayError, match="no dead letter for run nope"):
        _replayer(hub, workflows).replay("nope")
    wf = hub.load(WORKFLOW)  # not published in Redis
    hub.api.script["first"].append(FatalError("refused", status=400))
    dead, _ = hub.run(wf)
    with pytest.raises(ReplayError, match="not published in Redis"):
        _replayer(hub, workflows).replay(dead)


def test_a_replay_at_another_priority_keeps_it_for_every_step(
    hub: LocalHub, workflows: WorkflowStore
) -> None:
    dead = _failed_run(hub, workflows)
    sent: list[Any] = []

    def send(chain: Any) -> Any:
        sent.append(chain)
        return hub.queue.send(chain)

    replay = _replayer(hub, workflows, send=send).replay(dead, from_start=True, priority="bulk")
    assert replay.priority == "bulk"
    (chain,) = sent
    assert [task.kwargs["priority"] for task in chain.tasks] == ["bulk", "bulk"]
    hub.worker.drain()
    assert hub.finished["replay-1"][0] == "succeeded"


def test_a_replay_keeps_its_workflows_priority_unless_told(
    hub: LocalHub, workflows: WorkflowStore
) -> None:
    dead = _failed_run(hub, workflows)
    assert _replayer(hub, workflows).replay(dead).priority == "default"


def test_replay_summary_counts_dead_letters_per_workflow(
    hub: LocalHub, workflows: WorkflowStore
) -> None:
    _failed_run(hub, workflows)
    _failed_run(hub, workflows)
    letters = hub.flow.dead_letters.find(DeadLetterFilter())
    assert replay_summary(letters) == {"sync": 2}
    assert replay_summary([]) == {}


FANNED = """
name: fanned
trigger: { webhook: { source: src } }
steps:
  - id: each
    foreach: "{{ event.items }}"
    uses: t.do
    with: { key: "item", value: "{{ item }}" }
  - id: last
    uses: t.do
    with: { key: last }
    on_failure:
      - id: note
        uses: t.do
        with: { key: note }
"""


def test_foreach_items_and_on_failure_steps_keep_the_replays_priority(
    hub: LocalHub, workflows: WorkflowStore
) -> None:
    wf = hub.load(FANNED)
    workflows.publish([wf])
    hub.api.script["item"].append(FatalError("refused", status=400))
    dead, record = hub.run(wf, {"items": [1, 2]})
    assert record.status == "failed"
    seen: list[tuple[str, str]] = []
    run = hub.flow.run

    def spy(wf: Any, call: Any, ctx: Any, dispatch: Any) -> Any:
        seen.append(
            (call.step if call.index is None else f"{call.step}[{call.index}]", call.priority)
        )
        return run(wf, call, ctx, dispatch)

    hub.flow.run = spy  # type: ignore[method-assign]
    hub.api.script["last"].append(FatalError("refused", status=400))
    _replayer(hub, workflows).replay(dead, priority="bulk")
    hub.worker.drain()
    assert sorted(seen) == [
        ("each", "bulk"),
        ("each[0]", "bulk"),
        ("each[1]", "bulk"),
        ("last", "bulk"),
        ("note", "bulk"),
    ]


def test_a_paused_workflows_dead_letter_stays_until_it_resumes(
    hub: LocalHub, workflows: WorkflowStore
) -> None:
    from hub.core import PauseStore

    dead = _failed_run(hub, workflows)
    pauses = PauseStore(hub.redis)
    wf_name = hub.runs.get(dead).workflow  # type: ignore[union-attr]
    pauses.pause("workflow", wf_name, by="ops")
    fresh = iter(f"replay-{n}" for n in range(1, 9))
    replayer = Replayer(
        hub.app,
        hub.flow.dead_letters,
        workflows,
        hub.runs,
        new_id=lambda: next(fresh),
        send=hub.queue.send,
        paused=lambda workflow: pauses.is_paused("workflow", workflow),
    )
    with pytest.raises(ReplayError, match=f"workflow {wf_name} is paused"):
        replayer.replay(dead)
    letter = hub.flow.dead_letters.get(dead)
    assert letter is not None and letter.status != "replayed"
    assert hub.runs.get("replay-1") is None  # nothing started
    pauses.resume("workflow", wf_name, by="ops")
    assert replayer.replay(dead).new_run_id == "replay-1"
