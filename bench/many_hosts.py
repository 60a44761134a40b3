"""Many hosts, simulated: separately named workers on one Redis share one Plutio quota.

Starts a Redis server, the Plutio sandbox (enforcing the same rolling window as the
hub's budget), the ingress and three ``hub worker`` processes named ``hostA@<host>``,
``hostB@<host>``, ``hostC@<host>`` (separate processes, separate Celery node names; the
same machine: no network namespaces). Posts signed ``crm`` contact events through the
ingress, waits until every contact is a Plutio person, then prints:

- tasks each worker node ran (Celery's own ``inspect stats``);
- the sandbox call log's fullest window against the limit (goal: never over), and 429s;
- the hub's metrics for the budget (``hub_quota_*`` from :mod:`hub.history.metrics`).

Run: ``.venv/bin/python bench/many_hosts.py`` (defaults: 120 events, 20 calls per 2 s;
about half a minute). ``--help`` lists the knobs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.core import (  # noqa: E402
    RedisServer,
    Settings,
)
from hub.history import exposition  # noqa: E402
from hub.sandbox import max_calls_in_window  # noqa: E402
from hub.worker import create_celery  # noqa: E402
from tests.support.processes import HubProcesses, quota_env, wait_for  # noqa: E402
from tests.support.signing import crm_delivery  # noqa: E402

HOSTS = ["hostA", "hostB", "hostC"]


def post_events(ingress_url: str, count: int) -> None:
    with httpx.Client(base_url=ingress_url, timeout=10) as client:
        for i in range(count):
            event_id = f"many-{i}"
            body = {
                "id": event_id,
                "type": "contact.created",
                "data": {"first_name": f"P{i}", "last_name": "Many", "email": f"p{i}@example.com"},
            }
            answer = client.post(
                "/hooks/crm", **crm_delivery(body, event_id, **{"X-Event-Type": "contact.created"})
            )
            answer.raise_for_status()


def per_node_tasks(redis_url: str) -> dict[str, int]:
    """Tasks each worker node ran, from ``celery inspect stats``."""
    app = create_celery(Settings(hub_redis_url=redis_url))
    stats = app.control.inspect(timeout=3).stats() or {}
    return {node: sum(s.get("total", {}).values()) for node, s in sorted(stats.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=120)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--window", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=2, help="per worker node")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        server = RedisServer(tmp / "redis", appendonly=False).start()
        procs = HubProcesses(
            redis_url=server.url, log_dir=tmp, extra_env=quota_env(args.limit, args.window)
        )
        try:
            procs.start_sandbox()
            procs.start_ingress()
            procs.start_workers(HOSTS, concurrency=args.concurrency)
            started = time.monotonic()
            post_events(procs.ingress_url, args.events)

            def people() -> int:
                return len(httpx.get(f"{procs.sandbox_url}/_sandbox/state/people").json())

            try:
                wait_for(lambda: people() >= args.events, 600, "every person", interval=0.5)
            except TimeoutError:
                print(procs.logs())
                raise
            elapsed = time.monotonic() - started
            calls = httpx.get(f"{procs.sandbox_url}/_sandbox/calls").json()["calls"]
            nodes = per_node_tasks(server.url)
            metrics = exposition(redis.Redis.from_url(server.url)).decode()
        finally:
            procs.stop()
            server.stop()

    print(f"events: {args.events}  people: {args.events}  elapsed: {elapsed:.1f} s")
    print("tasks per worker node (celery inspect stats):")
    for node, total in nodes.items():
        print(f"  {node:40} {total}")
    fullest = max_calls_in_window(calls, args.window)
    refused = sum(1 for c in calls if c["status"] == 429)
    print(
        f"upstream calls: {len(calls)}  fullest {args.window:g} s window: {fullest} "
        f"(limit {args.limit}, {'held' if fullest <= args.limit else 'EXCEEDED'})  429s: {refused}"
    )
    print("metrics:")
    for line in metrics.splitlines():
        if line.startswith(("hub_quota_limit", "hub_quota_used", "hub_runs{", "hub_events_total")):
            print(f"  {line}")


if __name__ == "__main__":
    main()
