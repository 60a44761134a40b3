"""Concurrency keys on real parts: Redis, several Celery worker processes, the sandbox.

Each run of the test workflows makes two calls, ``<name>-begin`` and ``<name>-end``; the
sandbox's call log (arrival time and duration of every call) gives each run's span, from
its first call's arrival to its last call's answer. Runs on one key must never be more at
once than the key's limit; a workflow without a key, fed the same events, shows the
overlap the key prevents.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import redis

from hub.core.redis_server import RedisServer
from hub.history.runs import RunStore
from tests.support.processes import HubProcesses, quota_env, wait_for

pytestmark = pytest.mark.e2e

WORKFLOW = """
name: {name}
trigger:
  webhook: {{ source: crm, event: {event} }}
{concurrency}steps:
  - id: begin
    uses: plutio.people.find
    with:
      query: {{ name.last: "{{{{ event.name }}}}-begin" }}
  - id: end
    uses: plutio.people.find
    with:
      query: {{ name.last: "{{{{ event.name }}}}-end" }}
"""
LEASE_SECONDS = 4
_ids = itertools.count()


@pytest.fixture
def hub(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> Iterator[HubProcesses]:
    folder = tmp_path / "workflows"
    folder.mkdir()
    keyed = 'concurrency: {{ key: "{{{{ event.key }}}}", limit: {limit} }}\n'
    for name, event, concurrency in (
        ("one-at-a-time", "keyed.one", keyed.format(limit=1)),
        ("two-at-a-time", "keyed.two", keyed.format(limit=2)),
        ("unlimited", "keyed.none", ""),
    ):
        text = WORKFLOW.format(name=name, event=event, concurrency=concurrency)
        (folder / f"{name}.yaml").write_text(text)
    env = {
        **quota_env(100_000, 3600),
        "HUB_CONCURRENCY_LEASE_SECONDS": str(LEASE_SECONDS),
        "HUB_VISIBILITY_TIMEOUT_SECONDS": "20",
    }
    processes = HubProcesses(
        redis_url=redis_server.url,
        log_dir=tmp_path,
        workflows=folder,
        extra_env=env,
        open_sources=("crm",),
    )
    with processes.running(workers=3) as procs:
        yield procs


def _send(hub: HubProcesses, event: str, key: str, name: str) -> str:
    body = {"id": f"evt-{next(_ids)}-{name}", "type": event, "key": key, "name": name}
    answer = httpx.post(f"{hub.ingress_url}/hooks/crm", json=body, timeout=30)
    assert answer.status_code == 202, answer.text
    runs = answer.json()["runs"]
    assert len(runs) == 1, runs
    return str(runs[0]["run_id"])


def _faults(hub: HubProcesses, config: dict[str, Any]) -> None:
    httpx.post(f"{hub.sandbox_url}/_sandbox/faults", json=config).raise_for_status()


def _all_finished(hub: HubProcesses, runs: RunStore, run_ids: list[str], timeout: float) -> None:
    def done() -> bool:
        records = [runs.get(run_id) for run_id in run_ids]
        return all(r is not None and r.status != "running" for r in records)

    try:
        wait_for(done, timeout, f"{len(run_ids)} runs to finish", interval=0.25)
    except TimeoutError:
        print(hub.logs())
        raise
    for run_id in run_ids:
        record = runs.get(run_id)
        assert record is not None and record.status == "succeeded", record


def _spans(hub: HubProcesses) -> dict[str, tuple[float, float]]:
    """Per run name: (arrival of its begin call, answer of its end call)."""
    calls = httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()["calls"]
    begins: dict[str, float] = {}
    ends: dict[str, float] = {}
    for call in calls:
        if call["path"] != "/people" or call["status"] != 200:
            continue
        last = parse_qs(call["query"])["name.last"][0]
        name, _, part = last.rpartition("-")
        if part == "begin":
            begins[name] = min(begins.get(name, call["t"]), call["t"])
        else:
            ends[name] = max(ends.get(name, 0.0), call["t"] + call["duration"])
    return {name: (begins[name], ends[name]) for name in begins if name in ends}


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one moment (a span's end comes before a start at the same t)."""
    points = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = current = 0
    for _, step in points:
        current += step
        most = max(most, current)
    return most


def test_two_events_for_one_key_arriving_together_run_one_after_the_other(
    hub: HubProcesses, redis_client: redis.Redis
) -> None:
    hub.start_worker("w2", 3)
    _faults(hub, {"latency_ms": 400})
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(_send, hub, "keyed.one", "contact-7", n) for n in ("p", "q")]
        run_ids = [f.result() for f in futures]
    _all_finished(hub, RunStore(redis_client), run_ids, 90)
    spans = _spans(hub)
    first, second = sorted(("p", "q"), key=lambda name: spans[name][0])
    # the second run's first call came after the first run's last call was answered
    assert spans[first][1] <= spans[second][0], spans
    log = (hub.log_dir / "worker.log").read_text() + (hub.log_dir / "w2.log").read_text()
    assert "waits for its turn on a concurrency key" in log


def test_waiters_go_in_arrival_order(hub: HubProcesses, redis_client: redis.Redis) -> None:
    runs = RunStore(redis_client)
    script = {"path": "/people", "query": "*a-begin*", "answers": [{"delay_ms": 3000}]}
    _faults(hub, {"scripts": [script]})
    order = ["a", "b", "c", "d", "e"]
    run_ids = [_send(hub, "keyed.one", "contact-1", "a")]
    # order is arrival at the key: b is sent once a holds it (idle workers take a and b
    # the moment each is queued, and b could reach the key first)
    holding = partial(_holds_a_place, redis_client, run_ids[0])
    wait_for(holding, 30, "run a to hold the key")
    for name in order[1:]:
        run_ids.append(_send(hub, "keyed.one", "contact-1", name))

        waiting = partial(_begin_waiting, runs, run_ids[-1])
        wait_for(waiting, 30, f"run {name} to wait for its turn")
    _all_finished(hub, runs, run_ids, 90)
    spans = _spans(hub)
    assert sorted(order, key=lambda name: spans[name][0]) == order
    assert _most_at_once(list(spans.values())) == 1


def test_many_events_over_few_keys_never_exceed_the_limit(
    hub: HubProcesses, redis_client: redis.Redis
) -> None:
    hub.start_worker("w2", 3)  # 6 worker processes in 2 workers
    _faults(hub, {"latency_ms": 60, "latency_max_ms": 140})
    events = [
        (event, f"{tag}-{key}", f"{tag}{key}x{n}")
        for event, tag, keys in (
            ("keyed.one", "one", 3),
            ("keyed.two", "two", 2),
            ("keyed.none", "none", 1),
        )
        for key in range(keys)
        for n in range(6)
    ]
    with ThreadPoolExecutor(8) as pool:
        run_ids = list(pool.map(lambda e: _send(hub, *e), events))
    _all_finished(hub, RunStore(redis_client), run_ids, 240)
    spans = _spans(hub)
    by_key: dict[str, list[tuple[float, float]]] = {}
    for _, key, name in events:
        by_key.setdefault(key, []).append(spans[name])
    most = {key: _most_at_once(found) for key, found in by_key.items()}
    print(f"most runs at once per key: {most}")
    for key, count in most.items():
        if key.startswith("one-"):
            assert count == 1, most
        elif key.startswith("two-"):
            assert count <= 2, most
    # the same events without a key overlap: the limit above is the key's doing
    assert most["none-0"] > 1, most


def test_a_killed_holder_frees_its_place_after_the_lease(
    hub: HubProcesses, redis_client: redis.Redis
) -> None:
    runs = RunStore(redis_client)
    hub.start_worker("w2", 2)
    script = {"path": "/people", "query": "*held-begin*", "answers": [{"delay_ms": 60_000}]}
    _faults(hub, {"scripts": [script]})
    held = _send(hub, "keyed.one", "contact-9", "held")
    wait_for(lambda: _begin_running(runs, held), 30, "the holder's step to start")

    def logged_by() -> str | None:
        """The worker whose log names the run (its line may follow the run record)."""
        for name in ("worker", "w2"):
            if held in (hub.log_dir / f"{name}.log").read_text(errors="replace"):
                return name
        return None

    wait_for(lambda: logged_by() is not None, 10, "the holder's log line")
    holder = logged_by()
    assert holder is not None
    waiter = _send(hub, "keyed.one", "contact-9", "waiter")
    wait_for(lambda: _begin_waiting(runs, waiter), 30, "the second run to wait for its turn")
    hub.kill(holder)  # mid-step: its place is never given back
    killed_at = time.monotonic()
    _all_finished(hub, runs, [waiter], 90)
    print(
        f"the waiting run finished {time.monotonic() - killed_at:.1f}s after its holder "
        f"was killed (lease {LEASE_SECONDS}s)"
    )
    waiter_end = _spans(hub)["waiter"][1]
    survivor = "w2" if holder == "worker" else "worker"
    survivor_log = (hub.log_dir / f"{survivor}.log").read_text(errors="replace")
    # the surviving worker's sweep freed the place, not the killed task's redelivery
    assert "swept 1 concurrency key(s) whose holder's lease ran out" in survivor_log
    # the killed run's message comes back (visibility timeout) and runs after the waiter
    _all_finished(hub, runs, [held], 120)
    calls = httpx.get(f"{hub.sandbox_url}/_sandbox/calls").json()["calls"]
    held_begins = [c["t"] for c in calls if "held-begin" in c["query"]]
    assert max(held_begins) >= waiter_end, (held_begins, waiter_end)


def _begin_running(runs: RunStore, run_id: str) -> bool:
    record = runs.get(run_id)
    step = record.steps.get("begin") if record is not None else None
    return step is not None and step.status == "running" and step.waiting is None


def _holds_a_place(client: redis.Redis, run_id: str) -> bool:
    return any(
        client.zscore(key, run_id) is not None for key in client.scan_iter("hub:conc:*:holders")
    )


def _begin_waiting(runs: RunStore, run_id: str) -> bool:
    record = runs.get(run_id)
    step = record.steps.get("begin") if record is not None else None
    return step is not None and step.waiting == "concurrency"
