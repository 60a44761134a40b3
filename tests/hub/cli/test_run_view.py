"""`hub up`'s run lines: one per run as it ends, or as it starts to wait, from the records."""

from __future__ import annotations

import io
import re

import redis

from hub.cli.console import Console
from hub.cli.run_view import RunWatcher, format_duration
from hub.history.runs import RunStore

SHOW = ["hub", "runs", "show"]


def _start(store: RunStore, run_id: str, workflow: str = "crm-contact", waits: int = 0) -> None:
    store.step_started(
        run_id, "person", workflow=workflow, revision="abc", event_id="crm-evt-1", quota_waits=waits
    )


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _setup(client: redis.Redis) -> tuple[RunStore, RunWatcher, io.StringIO, Clock]:
    clock = Clock(1_800_000_000.0)
    store = RunStore(client, clock=clock)
    out = io.StringIO()
    watcher = RunWatcher(store, Console(out, colour=False), since=clock.now, clock=clock)
    return store, watcher, out, clock


def _lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def test_a_run_shows_once_as_it_ends(redis_client: redis.Redis) -> None:
    store, watcher, out, clock = _setup(redis_client)
    _start(store, "a" * 32)
    watcher.poll()
    assert _lines(out) == []  # running, nothing to say yet
    clock.now += 0.42
    store.finish("a" * 32, "succeeded")
    watcher.poll()
    watcher.poll()
    [line] = _lines(out)
    parts = line.split()
    assert parts[1:] == ["crm-contact", "crm-evt-1", "succeeded", "420ms", *SHOW, "a" * 12]


def test_a_failed_run_says_where_and_why(redis_client: redis.Redis) -> None:
    store, watcher, out, clock = _setup(redis_client)
    _start(store, "b" * 32)
    clock.now += 2.5
    error = {"message": "plutio answered 400: Business undefined", "step": "person"}
    store.finish("b" * 32, "failed", error=error)
    watcher.poll()
    [line] = _lines(out)
    assert " failed " in line and "2.50s" in line and f"hub runs show {'b' * 12}" in line
    assert line.endswith("at person: plutio answered 400: Business undefined")


def test_a_run_waiting_for_quota_or_held_says_so_once_then_ends(
    redis_client: redis.Redis,
) -> None:
    store, watcher, out, clock = _setup(redis_client)
    _start(store, "c" * 32)
    store.step_waiting("c" * 32, "person", "quota")
    watcher.poll()
    watcher.poll()
    _start(store, "c" * 32, waits=1)
    store.step_waiting("c" * 32, "person", "held")
    watcher.poll()
    _start(store, "c" * 32, waits=2)
    store.step_waiting("c" * 32, "person", "concurrency")
    watcher.poll()
    clock.now += 1
    store.step_finished("c" * 32, "person", "succeeded")
    store.finish("c" * 32, "succeeded")
    watcher.poll()
    outcomes = [re.split(r"\s{2,}", line)[3] for line in _lines(out)]
    assert outcomes == ["waiting for quota", "waiting for a key", "waiting its turn", "succeeded"]
    assert _lines(out)[0].endswith("at person")
    assert store.get("c" * 32).steps["person"].waiting is None  # type: ignore[union-attr]


def test_runs_started_before_the_watch_are_left_out(redis_client: redis.Redis) -> None:
    store, watcher, out, clock = _setup(redis_client)
    clock.now -= 3600
    _start(store, "d" * 32)
    store.finish("d" * 32, "succeeded")
    clock.now += 3600
    watcher.poll()
    assert _lines(out) == []


def test_lines_stay_aligned_on_the_longest_workflow_expected(redis_client: redis.Redis) -> None:
    store, watcher, out, clock = _setup(redis_client)
    watcher.expect_workflows(["crm-contact", "a-much-longer-workflow-name"])
    for run_id, workflow in (("e" * 32, "crm-contact"), ("f" * 32, "a-much-longer-workflow-name")):
        _start(store, run_id, workflow)
        store.finish(run_id, "succeeded")
        clock.now += 1
    watcher.poll()
    first, second = _lines(out)
    assert first.index("crm-evt-1") == second.index("crm-evt-1")
    assert first.index("hub runs show") == second.index("hub runs show")


def test_durations_read_at_a_glance() -> None:
    assert [format_duration(s) for s in (0.085, 1.236, 12.54, 185)] == [
        "85ms",
        "1.24s",
        "12.5s",
        "3m 05s",
    ]


def test_runs_held_by_a_pause_or_an_open_breaker_say_so(redis_client: redis.Redis) -> None:
    from hub.history.runs import RUN_KEY, RUNS_INDEX

    store, watcher, out, clock = _setup(redis_client)
    _start(store, "e" * 32)
    store.step_waiting("e" * 32, "person", "paused")
    _start(store, "f" * 32)
    store.step_waiting("f" * 32, "person", "breaker")
    redis_client.hset(
        RUN_KEY.format("g" * 32),
        mapping={"workflow": "crm-contact", "revision": "abc", "event_id": "e2", "status": "held"},
    )
    redis_client.hset(RUN_KEY.format("g" * 32), "held_at", repr(clock.now))
    redis_client.zadd(RUNS_INDEX, {"g" * 32: clock.now})  # as the ingress holds a run
    watcher.poll()
    assert len(_lines(out)) == 3
    lines = {
        run: line for line in _lines(out) for run in ("e" * 12, "f" * 12, "g" * 12) if run in line
    }
    assert "  held  " in lines["e" * 12] and "its connector is paused" in lines["e" * 12]
    assert "  breaker open  " in lines["f" * 12]
    assert "  held  " in lines["g" * 12] and "its workflow is paused" in lines["g" * 12]


def test_a_held_run_says_so_then_shows_again_when_it_ends(redis_client: redis.Redis) -> None:
    from hub.history.runs import RUN_KEY, RUNS_INDEX

    store, watcher, out, clock = _setup(redis_client)
    run_id = "h" * 32
    redis_client.hset(
        RUN_KEY.format(run_id),
        mapping={"workflow": "crm-contact", "revision": "abc", "event_id": "e3", "status": "held"},
    )
    redis_client.zadd(RUNS_INDEX, {run_id: clock.now})  # as the ingress holds a run
    watcher.poll()
    watcher.poll()
    assert [line for line in _lines(out) if "  held  " in line] != []
    assert len(_lines(out)) == 1  # told once while held
    _start(store, run_id)  # the workflow resumed: the run starts
    store.finish(run_id, "succeeded")
    watcher.poll()
    assert len(_lines(out)) == 2 and "  succeeded  " in _lines(out)[1]
