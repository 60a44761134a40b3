"""Run records in Redis: idempotent writes, final states, bounded retention."""

from __future__ import annotations

from typing import Any

import redis

from hub.history.runs import RUN_KEY, RUNS_INDEX, RunStore

RUN: dict[str, Any] = {"workflow": "w", "revision": "abc123", "event_id": "e1"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_records_are_written_once_and_attempts_only_grow(redis_client: redis.Redis) -> None:
    clock = Clock()
    runs = RunStore(redis_client, clock=clock)
    runs.step_started("r1", "a", **RUN, attempt=1)
    clock.now = 1_005.0
    runs.start("r1", workflow="other", revision="zzz", event_id="e2")  # already recorded
    runs.step_started("r1", "a", **RUN, attempt=3, quota_waits=2)
    runs.step_started("r1", "a", **RUN, attempt=2)  # a late duplicate
    runs.step_finished("r1", "a", "succeeded")
    record = runs.get("r1")
    assert record is not None
    assert (record.workflow, record.revision, record.event_id) == ("w", "abc123", "e1")
    assert record.status == "running" and record.started_at == 1_000.0
    step = record.steps["a"]
    assert (step.status, step.attempts, step.quota_waits) == ("succeeded", 3, 2)
    assert (step.started_at, step.finished_at) == (1_000.0, 1_005.0)
    runs.step_started("r1", "a", **RUN, attempt=3)  # redelivered after it finished
    assert runs.get("r1").steps["a"].status == "succeeded"  # type: ignore[union-attr]


def test_a_finished_run_stays_finished_and_keeps_its_first_error(
    redis_client: redis.Redis,
) -> None:
    runs = RunStore(redis_client)
    runs.start("r2", **RUN)
    runs.record_error("r2", {"message": "first"})
    assert runs.finish("r2", "failed", error={"message": "second"})
    assert not runs.finish("r2", "succeeded")
    record = runs.get("r2")
    assert record is not None
    assert record.status == "failed" and record.error == {"message": "first"}
    assert runs.get("missing") is None


def test_skipped_runs_say_why(redis_client: redis.Redis) -> None:
    runs = RunStore(redis_client)
    runs.skipped("r3", **RUN, reason="if: false")
    record = runs.get("r3")
    assert record is not None and (record.status, record.reason) == ("skipped", "if: false")


def test_records_expire_and_the_list_is_bounded(redis_client: redis.Redis) -> None:
    clock = Clock()
    runs = RunStore(redis_client, retention_seconds=100, max_listed=3, clock=clock)
    for index in range(5):
        clock.now += 1
        runs.start(f"r{index}", **RUN)
    assert runs.recent() == ["r4", "r3", "r2"]
    assert 0 < redis_client.ttl(RUN_KEY.format("r4")) <= 100
    clock.now += 200  # r2..r4 are now older than the retention
    runs.start("r9", **RUN)
    assert runs.recent() == ["r9"]
    assert redis_client.zcard(RUNS_INDEX) == 1


def test_a_re_scheduled_step_says_what_it_waits_for_until_it_ends(
    redis_client: redis.Redis,
) -> None:
    from hub.history.render import run_detail

    runs = RunStore(redis_client)
    runs.step_started("r5", "person", **RUN)
    runs.step_waiting("r5", "person", "quota")
    record = runs.get("r5")
    assert record is not None and record.steps["person"].waiting == "quota"
    assert "running, waiting for quota" in run_detail(record)
    runs.step_waiting("r5", "person", "held")
    assert "running, held by another run's lock" in run_detail(runs.get("r5"))  # type: ignore[arg-type]
    runs.step_waiting("r5", "person", "paused")
    assert "running, held: its connector is paused" in run_detail(runs.get("r5"))  # type: ignore[arg-type]
    runs.step_waiting("r5", "person", "breaker")
    assert "circuit breaker is open" in run_detail(runs.get("r5"))  # type: ignore[arg-type]
    runs.step_waiting("r5", "person", "concurrency")
    detail = run_detail(runs.get("r5"))  # type: ignore[arg-type]
    assert "running, waiting for its turn on a concurrency key" in detail
    runs.step_finished("r5", "person", "succeeded")
    assert runs.get("r5").steps["person"].waiting is None  # type: ignore[union-attr]


def test_a_held_run_says_so_and_runs_when_its_first_step_starts(
    redis_client: redis.Redis,
) -> None:
    from hub.history.render import run_detail, run_table

    # as the ingress's accept script writes a run of a paused workflow
    redis_client.hset(
        RUN_KEY.format("h1"),
        mapping={"workflow": "w", "revision": "r1", "event_id": "e1", "status": "held"},
    )
    redis_client.hset(RUN_KEY.format("h1"), "held_at", "1700000000.0")
    runs = RunStore(redis_client)
    held = runs.get("h1")
    assert held is not None and held.status == "held"
    assert "held      2023-11-14 22:13:20 UTC, its workflow paused" in run_detail(held)
    assert " held " in run_table([held])
    runs.step_started("h1", "person", workflow="w", revision="r1", event_id="e1")
    started = runs.get("h1")
    assert started is not None and started.status == "running"
    assert started.started_at is not None and started.held_at == 1700000000.0
