"""Benchmark: time-scaled Plutio budgets, real Celery workers, a backlog of calls.

Starts a Redis server, the Plutio sandbox (enforcing the same rolling window as the hub)
and ``hub worker`` processes; enqueues the whole backlog at once as one-step workflow runs
(``--workload upsert``: a CRM contact upserted as a Plutio person, a find then a create;
``create``: a create alone); half-way through, one ``interactive`` run; waits until each
has been made; then reads the sandbox's own call log. For each quota size given
(``--sizes 20/2,100/1,500/5``: calls per seconds, each a fresh hub) it prints, side by side:

- useful calls / all calls (goal 100%): a find made again for the same contact is not
  useful, nor is any call past the first of the same method, path and query;
- utilisation while the backlog exists (goal >= 98%): the mean fill of the trailing
  window, sampled every millisecond from the first full window to the last call;
- the largest window against the limit (must stay <= the limit), and the windows over it;
- the time the ``interactive`` run's call waited behind the bulk backlog;
- 429s (goal 0); calls made again and calls' worth of quota left unused while steps
  waited, as the hub counts them (``hub quota``).

Then the limiter's own figures: acquires/s against a bare ``EVALSHA`` loop on the same
Redis (goal >= 0.5x), and the time one settle after a 429 holds Redis, by budget size
(``SLOWLOG``: inside the server, the script alone).

Run: ``.venv/bin/python bench/quota.py`` (defaults: 16 worker processes as 4 ``hub
worker`` x 4, the three sizes, a backlog of 10 windows each; a few minutes on two cores;
``--limiter-only``: the limiter's figures alone, in seconds). ``--help`` lists the knobs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
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
from hub.sandbox import max_calls_in_window, window_use  # noqa: E402
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
from tests.support.processes import HubProcesses, quota_env, wait_for  # noqa: E402

WORKFLOWS = {
    "create": """\
name: bench-people
priority: bulk
trigger:
  webhook: { source: bench, event: person.created }
steps:
  - id: person
    uses: plutio.people.create
    with:
      name: { first: "{{ event.n }}", last: "Bench" }
""",
    "upsert": """\
name: bench-people
priority: bulk
trigger:
  webhook: { source: bench, event: person.created }
steps:
  - id: person
    uses: plutio.people.upsert
    with:
      match: { contactEmails.address: "{{ event.n }}@example.com" }
      data:
        name: { first: "{{ event.n }}", last: "Bench" }
        contactEmails: [ { address: "{{ event.n }}@example.com", type: work } ]
""",
}

#: the high-priority run sent half-way through the backlog
URGENT = """\
name: bench-urgent
priority: interactive
trigger:
  webhook: { source: bench, event: person.urgent }
steps:
  - id: person
    uses: plutio.people.find
    with:
      query: { name.first: urgent }
      limit: 1
"""


@dataclass(frozen=True)
class Size:
    """One quota size: ``limit`` calls per ``window`` seconds."""

    limit: int
    window: float

    @classmethod
    def parse(cls, text: str) -> Size:
        limit, _, window = text.partition("/")
        return cls(int(limit), float(window.rstrip("s") or 1))

    def __str__(self) -> str:
        return f"{self.limit}/{self.window:g}s"


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="20/2,100/1,500/5", help="quotas to run, calls/seconds, comma-separated"
    )
    parser.add_argument(
        "--windows", type=float, default=10, help="the backlog's length, in windows of calls"
    )
    parser.add_argument("--workload", choices=sorted(WORKFLOWS), default="upsert")
    parser.add_argument("--workers", type=int, default=16, help="worker processes in all")
    parser.add_argument("--nodes", type=int, default=4, help="`hub worker` commands")
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
    return parser


def main() -> None:
    args = _parser().parse_args()
    sizes = [Size.parse(x) for x in args.sizes.split(",") if x.strip()]
    per_node = max(1, args.workers // args.nodes)
    print(
        f"parameters: {args.workload} workload, a backlog of {args.windows:g} windows at each "
        f"of {', '.join(map(str, sizes))} (hub and sandbox alike, no reserve), {args.nodes} x "
        f"{per_node} worker processes at nice {args.worker_nice}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    tmp = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    server = RedisServer(tmp / "redis", appendonly=False).start()
    client = redis.Redis.from_url(server.url)
    try:
        acquire_rate, pair_rate, bare_rate = limiter_speed(client, args.speed_seconds)
        settle_costs = [
            (limit, *settle_429_micros(server.url, limit))
            for limit in (int(x) for x in args.settle_limits.split(",") if x.strip())
        ]
        results = []
        if not args.limiter_only:
            for size in sizes:
                client.flushall()
                results.append(
                    measure(server.url, client, tmp / str(size).replace("/", "-"), size, args)
                )
    finally:
        client.close()
        server.stop()
    if results:
        print_results(results)
    print_limiter(acquire_rate, pair_rate, bare_rate, settle_costs)
    print(f"logs: {tmp}")


def measure(url: str, client: redis.Redis, folder: Path, size: Size, args: Any) -> dict[str, Any]:
    """One fresh hub at ``size``: the backlog made, then the figures of its call log."""
    workflows = folder / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bench-people.yaml").write_text(WORKFLOWS[args.workload])
    (workflows / "bench-urgent.yaml").write_text(URGENT)
    per_call = 2 if args.workload == "upsert" else 1
    runs = max(1, round(size.limit * args.windows / per_call))
    procs = HubProcesses(
        redis_url=url,
        log_dir=folder,
        workflows=workflows,
        extra_env={
            **quota_env(size.limit, size.window),
            "HUB_LOG_LEVEL": args.log_level,
        },
    )
    try:
        procs.start_sandbox()
        celery = create_celery(Settings(hub_redis_url=url))
        enqueue(client, celery, workflows, runs)
        # the whole backlog is in the broker before the first worker starts
        per_node = max(1, args.workers // args.nodes)
        nodes = [f"b{i}" for i in range(args.nodes)]
        procs.spawn_workers(nodes, concurrency=per_node, nice=args.worker_nice)
        calls, urgent_sent = run(procs, client, celery, workflows, runs * per_call + 1, size)
    finally:
        procs.stop()
    (folder / "calls.json").write_text(json.dumps(calls))
    return figures(calls, client, size, urgent_sent)


def print_results(results: list[dict[str, Any]]) -> None:
    rows = [
        ("quota", "size", "{}"),
        ("people created", "runs", "{}"),
        ("token requests", "token_requests", "{}"),
        ("calls received", "calls", "{}"),
        ("useful / all calls (goal 100%)", "useful_share", "{:.2%}"),
        ("use of the quota while the backlog lasts (goal >= 98%)", "utilisation", "{:.2%}"),
        ("largest window / limit (goal <= limit)", "max_window", "{}"),
        ("windows over the limit (goal 0)", "windows_over", "{}"),
        ("429s (goal 0)", "refused", "{}"),
        ("interactive run waited behind the backlog, s", "urgent_wait_s", "{:.3f}"),
        ("calls made again, as the hub counts (goal 0)", "repeated", "{}"),
        ("quota left unused while steps waited, calls", "unused_calls", "{:.1f}"),
        ("first to last call, s (ideal)", "span", "{}"),
        ("waiting steps came back after their turn, ms (mean)", "late_ms", "{}"),
        ("calls took from grant to answer, ms (mean)", "call_ms", "{}"),
    ]
    width = max(len(label) for label, _, _ in rows)
    for label, key, fmt in rows:
        cells = [fmt.format(r[key]) for r in results]
        print(f"{label:<{width}}  " + "  ".join(f"{c:>14}" for c in cells))


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


def run(
    procs: HubProcesses,
    client: redis.Redis,
    celery: Celery,
    workflows: Path,
    calls: int,
    size: Size,
) -> tuple[list[dict[str, Any]], float]:
    """Waits until the backlog is made, sending the interactive run half-way; the
    sandbox's call log and when the interactive run was sent (monotonic seconds).
    Half-way counts from the first call: 16 worker processes take seconds to start."""
    wait_for(lambda: bool(quota_status(client)), 120, "the first call", interval=0.05)
    started = time.monotonic()
    urgent_sent = [0.0]
    last = [0.0]

    # progress from Redis only: polling the sandbox would steal its time from the calls
    def drained() -> bool:
        left = sum(client.llen(q) for q in STEP_QUEUES)
        held = client.hlen("unacked")  # taken by a worker, not finished (timers included)
        # parked in Redis until their quota slots free (and until woken steps come)
        held += sum(client.hlen(key) for key in client.scan_iter("hub:quota:*:parked"))
        now = time.monotonic()
        if not urgent_sent[0] and now - started > calls / size.limit * size.window / 2:
            urgent_sent[0] = send_urgent(client, celery, workflows)
        if now - last[0] > 10:
            last[0] = now
            print(f"  {size}: {now - started:6.1f} s: {left} not started, {held} held by workers")
        return bool(urgent_sent[0]) and left == 0 and held == 0

    expected = calls / size.limit * size.window
    wait_for(drained, expected * 3 + 120, "every call", interval=0.5)
    log = httpx.get(f"{procs.sandbox_url}/_sandbox/calls", timeout=60).json()
    return log["calls"], urgent_sent[0]


def send_urgent(client: redis.Redis, celery: Celery, workflows: Path) -> float:
    """The ``interactive`` run, sent now; when (monotonic seconds)."""
    wf = load_workflow(workflows / "bench-urgent.yaml")
    WorkflowStore(client).publish([wf])
    ctx = new_context(
        event={}, event_id="urgent", source="bench", event_type="person.urgent", run_id="urgent"
    )
    sent = time.monotonic()
    compile_run(celery, wf, ctx, event_id="urgent", run_id="urgent").apply_async()
    return sent


def useful_calls(calls: list[dict[str, Any]]) -> int:
    """Calls not made before: a read counts once per method, path and query."""
    reads = {(c["method"], c["path"], c["query"]) for c in calls if c["method"] == "GET"}
    return len(reads) + sum(1 for c in calls if c["method"] != "GET")


def figures(
    calls: list[dict[str, Any]], client: redis.Redis, size: Size, urgent_sent: float
) -> dict[str, Any]:
    times = sorted(float(c["t"]) for c in calls)
    urgent = [float(c["t"]) for c in calls if c["method"] == "GET" and "urgent" in c["query"]]
    statuses = {s.key: s for s in quota_status(client)}
    status = statuses.get("plutio:sandbox-client")
    span = times[-1] - times[0]
    ideal = (len(calls) / size.limit - 1) * size.window
    return {
        "size": str(size),
        "runs": sum(1 for c in calls if c["method"] == "POST" and c["path"] == "/people"),
        "token_requests": sum(1 for c in calls if c["path"].endswith("/token")),
        "calls": len(calls),
        "useful_share": useful_calls(calls) / len(calls),
        "utilisation": window_use(calls, size.window, size.limit),
        "max_window": f"{max_calls_in_window(calls, size.window)}/{size.limit}",
        "windows_over": windows_over(times, size.window, size.limit),
        "refused": sum(1 for c in calls if c["status"] == 429),
        "urgent_wait_s": (min(urgent) - urgent_sent) if urgent else float("nan"),
        # (a hub without these counters gives none)
        "repeated": getattr(status, "repeated", "-"),
        "unused_calls": getattr(status, "unused_calls", float("nan")),
        "span": f"{span:.1f} ({ideal:.1f})",
        **_drift(client),
    }


def _drift(client: redis.Redis) -> dict[str, int]:
    """The budget's moving averages: how late waiting steps came back after their turn,
    and how long calls took from grant to answer (each ms a slot stays unused)."""
    stats = client.hgetall("hub:quota:plutio:sandbox-client:stats")
    return {"late_ms": int(stats.get(b"late_ms", 0)), "call_ms": int(stats.get(b"call_ms", 0))}


if __name__ == "__main__":
    main()
