"""Dead letters on a real Redis: what a run that failed for good leaves, and finding it."""

from __future__ import annotations

import pytest
import redis
from pydantic import SecretStr

from hub.core.errors import FatalError, RetryableError
from hub.core.settings import Settings
from hub.history.dead_letters import DLQ_INDEX, DeadLetterFilter, DeadLetterStore
from tests.hub.worker.fakes import LocalHub

TRIGGER = "trigger: { webhook: { source: src } }"
TWO_STEPS = f"""
name: two
{TRIGGER}
steps:
  - id: first
    uses: t.do
    with: {{ key: first }}
  - id: second
    uses: t.do
    with: {{ key: second, value: "{{{{ secrets.TOKEN }}}}" }}
on_failure:
  - id: report
    uses: core.log
    with: {{ message: "{{{{ error.message }}}}" }}
"""


@pytest.fixture
def hub(redis_client: redis.Redis) -> LocalHub:
    settings = Settings(hub_step_max_attempts=3, hub_secrets={"TOKEN": SecretStr("s3cr3t")})
    return LocalHub(redis_client, settings=settings)


def test_a_step_that_uses_up_its_retries_is_stored_with_every_attempt(hub: LocalHub) -> None:
    wf = hub.load(TWO_STEPS)
    hub.api.script["second"].extend(
        RetryableError(f"upstream 503 (try {n}, token s3cr3t)", status=503) for n in (1, 2, 3)
    )
    run_id, record = hub.run(wf, {"email": "ada@example.com"})
    assert record.status == "failed"
    letter = hub.flow.dead_letters.get(run_id)
    assert letter is not None
    assert (letter.workflow, letter.revision, letter.step, letter.index) == (
        "two",
        wf.revision,
        "second",
        None,
    )
    assert (letter.event_id, letter.source, letter.event_type) == ("e1", "src", "x")
    assert letter.event == {"email": "ada@example.com"}
    assert [a["attempt"] for a in letter.attempts] == [1, 2, 3]
    assert [a["status"] for a in letter.attempts] == [503, 503, 503]
    assert letter.attempts[0]["message"] == "upstream 503 (try 1, token ***)"
    assert letter.error["message"] == "upstream 503 (try 3, token ***)"
    # the context the failed step was given: the steps before it, not the handlers' error
    assert letter.context["steps"] == {"first": {"key": "first", "value": None}}
    assert "error" not in letter.context
    assert "s3cr3t" not in str(hub.redis.hgetall(f"hub:dlq:{run_id}"))
    assert letter.status == "dead" and letter.replayed_as is None


def test_a_fatal_failure_is_one_attempt_and_stored_once(hub: LocalHub) -> None:
    wf = hub.load(TWO_STEPS)
    hub.api.script["first"].append(FatalError("refused: bad email", status=400))
    run_id, _ = hub.run(wf)
    letter = hub.flow.dead_letters.get(run_id)
    assert letter is not None
    assert letter.step == "first" and letter.attempt_count == 1
    assert letter.error["status"] == 400
    # a redelivered failure does not store it again
    assert not hub.flow.dead_letters.add(
        run_id=run_id,
        workflow="two",
        revision=wf.revision,
        step="first",
        index=None,
        context={},
        error={"message": "again"},
        attempts=[],
        secrets={},
    )
    assert hub.flow.dead_letters.get(run_id).error["message"] == "refused: bad email"  # type: ignore[union-attr]


def test_a_failing_handler_adds_no_second_dead_letter(hub: LocalHub) -> None:
    wf = hub.load(
        f"""
        name: handler-fails
        {TRIGGER}
        steps:
          - id: main
            uses: t.do
            with: {{ key: main }}
        on_failure:
          - id: cleanup
            uses: t.do
            with: {{ key: cleanup }}
        """
    )
    hub.api.script["main"].append(FatalError("main refused", status=400))
    hub.api.script["cleanup"].append(FatalError("cleanup refused", status=400))
    run_id, _ = hub.run(wf)
    letters = hub.flow.dead_letters.find()
    assert [(d.run_id, d.step) for d in letters] == [(run_id, "main")]


def _add(store: DeadLetterStore, run_id: str, **fields: object) -> None:
    ctx = {
        "event": {"n": run_id},
        "event_id": f"evt-{run_id}",
        "source": fields.get("source", "crm"),
        "event_type": "contact.created",
    }
    store.add(
        run_id=run_id,
        workflow=str(fields.get("workflow", "wf-a")),
        revision="abc",
        step="person",
        index=None,
        context=ctx,
        error={"type": "FatalError", "status": fields.get("status", 400), "message": "refused"},
        attempts=[],
        secrets={},
    )


def test_filters_listing_replay_marks_and_purge(redis_client: redis.Redis) -> None:
    now = [1000.0]
    store = DeadLetterStore(redis_client, clock=lambda: now[0])
    _add(store, "r1")
    now[0] = 2000.0
    _add(store, "r2", workflow="wf-b", source="shop", status=503)
    now[0] = 3000.0
    _add(store, "r3")
    assert [d.run_id for d in store.find()] == ["r3", "r2", "r1"]
    assert [d.run_id for d in store.find(DeadLetterFilter(workflow="wf-a"))] == ["r3", "r1"]
    assert [d.run_id for d in store.find(DeadLetterFilter(source="shop"))] == ["r2"]
    assert [d.run_id for d in store.find(DeadLetterFilter(error="503"))] == ["r2"]
    assert [d.run_id for d in store.find(DeadLetterFilter(error="fatalerror"))] == [
        "r3",
        "r2",
        "r1",
    ]
    assert [d.run_id for d in store.find(DeadLetterFilter(since=2000.0))] == ["r3", "r2"]
    assert [d.run_id for d in store.find(DeadLetterFilter(event_id="evt-r1"))] == ["r1"]
    assert [d.run_id for d in store.find(limit=1)] == ["r3"]

    assert store.mark_replayed("r1", "new-1", keep_seconds=60)
    assert not store.mark_replayed("r1", "new-2", keep_seconds=60)  # once
    assert [d.run_id for d in store.find()] == ["r3", "r2"]  # not replayed yet, by default
    replayed = store.find(DeadLetterFilter(status="replayed"))
    assert [(d.run_id, d.replayed_as) for d in replayed] == [("r1", "new-1")]
    assert 0 < redis_client.ttl("hub:dlq:r1") <= 60  # a replayed letter is kept for a while
    assert redis_client.ttl("hub:dlq:r2") == -1  # one not replayed never expires

    redis_client.delete("hub:dlq:r1")  # as if it expired: the index forgets it
    assert [d.run_id for d in store.find(DeadLetterFilter(status=None))] == ["r3", "r2"]
    assert redis_client.zrange(DLQ_INDEX, 0, -1) == [b"r2", b"r3"]

    assert store.purge(["r2", "nope"]) == 1
    assert [d.run_id for d in store.find()] == ["r3"]
    assert store.get("r2") is None


def test_a_replay_run_id_is_chosen_once(redis_client: redis.Redis) -> None:
    store = DeadLetterStore(redis_client)
    _add(store, "r1")
    assert store.replay_run_id("r1", "first") == "first"
    assert store.replay_run_id("r1", "second") == "first"
    assert store.replay_run_id("gone", "x") is None
    assert not redis_client.exists("hub:dlq:gone")
