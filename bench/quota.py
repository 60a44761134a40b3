"""Benchmark: one time-scaled Plutio budget, real Celery workers, a backlog of calls.

Starts a Redis server, the Plutio sandbox (enforcing the same rolling window as the hub)
and ``hub worker`` processes; enqueues every call at once as one-step workflow runs;
waits until each has been made; then reads the sandbox's own call log and prints:

- windows over the limit (goal 0): calls whose trailing window held more than the limit;
- utilisation while the backlog exists (goal >= 98%): the mean fill of the trailing
  window, sampled every millisecond from the first full window to the last call;
- 429s (goal 0);
- limiter acquires/s against a bare ``EVALSHA`` loop on the same Redis (goal >= 0.5x);
- the time one settle after a 429 holds Redis, by budget size (``SLOWLOG``: inside the
  server, the script alone).

Run: ``.venv/bin/python bench/quota.py`` (defaults: 16 worker processes, 100 calls per
1 s, 10,000 calls; about two minutes on two cores; ``--limiter-only``: the limiter's
figures alone, in seconds). ``--help`` lists the knobs.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import redis
from celery import Celery

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.core import (  # noqa: E402
    RedisServer,
    Settings,
)
from hub.http import (  # noqa: E402
    Budget,
    Observation,
    QuotaClaim,
    RedisQuota,
    quota_status,
)
from hub.sandbox import max_calls_in_window  # noqa: E402
from hub.worker import (  # noqa: E402
    STEP_QUEUES,
    create_celery,
)
from hub.workflow import (  # noqa: E402
    WorkflowStore,
    compile_run,
    load_workflow,
    new_context,
)
from tests.support.processes import HubProcesses, wait_for  # noqa: E402

WORKFLOW = """\
name: bench-people
priority: bulk
trigger:
  webhook: { source: bench, event: person.created }
steps:
  - id: person
    uses: plutio.people.create
    with:
      name: { first: "{{ event.n }}", last: "Bench" }
"""


def limiter_speed(client: redis.Redis, seconds: float) -> tuple[float, float, float]:
    """Acquires/s, acquire+settle pairs/s, and bare EVALSHA/s, one client each.

    The three loops take turns in short slices, so load from other processes on the
    machine weighs on each alike.
    """
    bare = client.register_script("return 1")
    quota = RedisQuota(client, Budget("bench:speed", 10**9, 3600))
    loops: dict[str, Callable[[], object]] = {
        "acquire": lambda: quota.acquire(QuotaClaim()),
        "pair": lambda: quota.settle(quota.acquire(QuotaClaim())),
        "bare": bare,
    }
    counts = dict.fromkeys(loops, 0)
    spent = dict.fromkeys(loops, 0.0)
    slices = max(1, round(seconds / 0.1))
    for _ in range(slices):
        for name, step in loops.items():
            start = time.perf_counter()
            while time.perf_counter() - start < 0.1:
                for _ in range(50):
                    step()
                counts[name] += 50
            spent[name] += time.perf_counter() - start
    client.delete(*client.keys("hub:quota:bench:speed:*"))
    client.hdel("hub:quota:budgets", "bench:speed")
    rate = {name: counts[name] / spent[name] for name in loops}
    return rate["acquire"], rate["pair"], rate["bare"]


def settle_429_micros(url: str, limit: int, runs: int = 3) -> tuple[int, int]:
    """Median time (us, by Redis's own ``SLOWLOG``) of one settle after a 429 on a
    budget of ``limit`` calls an hour with one call in flight, and the sorted-set members
    the budget holds after it."""
    budget = Budget(f"bench:settle:{limit}", limit, 3600)
    # no client timeout: a settle that writes a placeholder per call can take seconds
    client = redis.Redis.from_url(url, socket_timeout=None)
    threshold = client.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"] or 10_000
    client.config_set("slowlog-log-slower-than", 0)
    taken, members = [], 0
    try:
        for _ in range(runs):
            quota = RedisQuota(client, budget, register=False)
            lease = quota.acquire(QuotaClaim())
            client.slowlog_reset()
            quota.settle(lease, Observation(remaining=0, reset_seconds=60, pause_seconds=60))
            entries = client.slowlog_get(10)
            taken.append(max(int(e["duration"]) for e in entries if _is_evalsha(e)))
            keys = client.keys(f"hub:quota:{budget.key}:*")
            members = sum(client.zcard(k) for k in keys if client.type(k) == b"zset")
            client.delete(*keys)
    finally:
        client.config_set("slowlog-log-slower-than", threshold)
        client.close()
    return sorted(taken)[len(taken) // 2], members


def _is_evalsha(entry: dict[str, Any]) -> bool:
    command = entry["command"]
    text = command.decode() if isinstance(command, bytes) else str(command)
    return text.upper().startswith("EVALSHA")


def windows_over(times: list[float], window: float, limit: int) -> int:
    """Calls whose trailing window ``(t - window, t]`` held more than ``limit`` calls."""
    over, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        over += end - start + 1 > limit
    return over


def utilisation(times: list[float], window: float, limit: int) -> float:
    """Mean trailing-window fill / limit, from the first full window to the last call."""
    if len(times) < 2 or times[-1] - times[0] <= window:
        return float("nan")
    t, step, fills = times[0] + window, 0.001, []
    while t <= times[-1]:
        inside = bisect.bisect_right(times, t) - bisect.bisect_right(times, t - window)
        fills.append(min(inside, limit) / limit)
        t += step
    return sum(fills) / len(fills)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=16, help="worker processes in all")
    parser.add_argument("--nodes", type=int, default=2, help="`hub worker` commands")
    parser.add_argument("--speed-seconds", type=float, default=2.0)
    parser.add_argument(
        "--settle-limits",
        default="1000,26000,1000000",
        help="budget sizes at which to time one settle after a 429 (comma-separated)",
    )
    parser.add_argument(
        "--limiter-only", action="store_true", help="the limiter's figures alone, no workers"
    )
    parser.add_argument("--log-level", default="WARNING", help="of the worker processes")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="niceness of the workers: the sandbox stands in for an upstream on another "
        "host, so it must not wait for CPU behind 16 worker processes (0: same priority)",
    )
    args = parser.parse_args()
    per_node = max(1, args.workers // args.nodes)
    print(
        f"parameters: {args.calls} calls, quota {args.limit} per {args.window:g} s "
        f"(hub and sandbox alike, no reserve), {args.nodes} x {per_node} worker processes "
        f"at nice {args.worker_nice}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at start"
    )
    tmp = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    server = RedisServer(tmp / "redis", appendonly=False).start()
    client = redis.Redis.from_url(server.url)
    acquire_rate, pair_rate, bare_rate = limiter_speed(client, args.speed_seconds)
    settle_costs = [
        (limit, *settle_429_micros(server.url, limit))
        for limit in (int(x) for x in args.settle_limits.split(",") if x.strip())
    ]
    if args.limiter_only:
        print_limiter(acquire_rate, pair_rate, bare_rate, settle_costs)
        client.close()
        server.stop()
        return
    workflows = tmp / "workflows"
    workflows.mkdir()
    (workflows / "bench-people.yaml").write_text(WORKFLOW)
    procs = HubProcesses(
        redis_url=server.url,
        log_dir=tmp,
        workflows=workflows,
        extra_env={
            "PLUTIO_QUOTA_LIMIT": str(args.limit),
            "PLUTIO_QUOTA_WINDOW_SECONDS": str(args.window),
            "PLUTIO_QUOTA_RESERVE_PERCENT": "0",
            "PLUTIO_SANDBOX_QUOTA_LIMIT": str(args.limit),
            "PLUTIO_SANDBOX_QUOTA_WINDOW_SECONDS": str(args.window),
            "HUB_LOG_LEVEL": args.log_level,
        },
    )
    try:
        procs.start_sandbox()
        celery = create_celery(Settings(hub_redis_url=server.url))
        enqueue(client, celery, workflows, args.calls)
        # the whole backlog is in the broker before the first worker starts
        nodes = [f"b{i}" for i in range(args.nodes)]
        procs.spawn_workers(nodes, concurrency=per_node, nice=args.worker_nice)
        run(procs, client, args)
    finally:
        procs.stop()
        client.close()
        server.stop()
    print_limiter(acquire_rate, pair_rate, bare_rate, settle_costs)
    print(f"logs: {tmp}")


def print_limiter(
    acquire_rate: float,
    pair_rate: float,
    bare_rate: float,
    settle_costs: list[tuple[int, int, int]],
) -> None:
    print(
        f"limiter: {acquire_rate:,.0f} acquires/s, {pair_rate:,.0f} acquire+settle pairs/s; "
        f"bare EVALSHA loop {bare_rate:,.0f}/s -> acquire {acquire_rate / bare_rate:.2f}x "
        f"(goal >= 0.5x)"
    )
    for limit, micros, members in settle_costs:
        print(
            f"settle after a 429, budget {limit:,}/h: {micros / 1000:,.3f} ms inside Redis, "
            f"{members:,} sorted-set members held after it"
        )


def enqueue(client: redis.Redis, celery: Celery, workflows: Path, calls: int) -> None:
    """One run of the one-step workflow per call, as the ingress would start them."""
    wf = load_workflow(workflows / "bench-people.yaml")
    WorkflowStore(client).publish([wf])
    started = time.monotonic()
    with celery.producer_or_acquire() as producer:
        for n in range(calls):
            ctx = new_context(
                event={"n": f"n{n}"},
                event_id=f"e{n}",
                source="bench",
                event_type="person.created",
                run_id=f"r{n}",
            )
            run = compile_run(celery, wf, ctx, event_id=f"e{n}", run_id=f"r{n}")
            run.apply_async(producer=producer)
    print(f"enqueued {calls} runs in {time.monotonic() - started:.1f} s")


def run(procs: HubProcesses, client: redis.Redis, args: Any) -> None:
    started = time.monotonic()

    # progress from Redis only: polling the sandbox would steal its time from the calls
    last = [0.0]

    def drained() -> bool:
        left = {q: client.llen(q) for q in STEP_QUEUES}
        held = client.hlen("unacked")  # taken by a worker, not finished (timers included)
        if time.monotonic() - last[0] > 10:
            last[0] = time.monotonic()
            statuses = quota_status(client)
            waiting = statuses[0].waiting_total if statuses else 0
            print(
                f"  {time.monotonic() - started:6.1f} s: {sum(left.values())} not started, "
                f"{held} held by workers, {waiting} waiting for a slot"
            )
        return sum(left.values()) == 0 and held == 0

    expected = args.calls / args.limit * args.window
    wait_for(drained, expected * 3 + 120, "every call", interval=0.5)
    log = httpx.get(f"{procs.sandbox_url}/_sandbox/calls", timeout=60).json()
    calls = log["calls"]
    (procs.log_dir / "calls.json").write_text(json.dumps(calls))
    times = sorted(float(c["t"]) for c in calls)
    creates = [c for c in calls if c["method"] == "POST" and c["path"] == "/people"]
    refused = [c for c in calls if c["status"] == 429]
    span = times[-1] - times[0]
    print(
        json.dumps(
            {
                "calls_received": len(calls),
                "people_created": len([c for c in creates if c["status"] == 200]),
                "first_to_last_call_s": round(span, 2),
                "ideal_s": round((len(calls) / args.limit - 1) * args.window, 2),
                "max_in_window": max_calls_in_window(calls, args.window),
            }
        )
    )
    print(f"windows over limit: {windows_over(times, args.window, args.limit)} (goal 0)")
    print(
        f"utilisation while backlog exists: {utilisation(times, args.window, args.limit):.2%}"
        " (goal >= 98%)"
    )
    print(f"429s: {len(refused)} (goal 0)")
    stats = client.hgetall("hub:quota:plutio:sandbox-client:stats")
    late = int(stats.get(b"late_ms", 0))
    took = int(stats.get(b"call_ms", 0))
    print(
        f"moving averages at the end: waiting steps came back {late} ms after their turn, "
        f"calls took {took} ms from grant to answer"
    )


if __name__ == "__main__":
    main()
