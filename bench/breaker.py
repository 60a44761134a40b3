"""What a circuit breaker costs each upstream call, against the same client without one.

Starts a Redis server and sends ``--calls`` requests through an
:class:`~hub.http.client.ApiClient` over an in-process transport that answers at once
(so only the hub's own work is timed), first with no breaker, then with the cluster-wide
:class:`~hub.http.breaker.RedisBreaker` (two script calls per request: admit, record).
Prints the time per call of each and their ratio. The quota is left out of both (it is
measured by ``bench/quota.py``), so the ratio is the breaker's alone.

    .venv/bin/python bench/breaker.py                  # 5,000 calls
    .venv/bin/python bench/breaker.py --calls 20000
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

from hub.core import RedisServer  # noqa: E402
from hub.http import ApiClient, BreakerPolicy, NoBreaker, RedisBreaker  # noqa: E402


def _per_call(breaker: NoBreaker | RedisBreaker, calls: int) -> float:
    client = ApiClient(
        service="Bench",
        base_url="http://bench.test",
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json={})),
        breaker=breaker,
    )
    for _ in range(50):  # warm up: connections, scripts loaded
        client.request("GET", "/x")
    start = time.perf_counter()
    for _ in range(calls):
        client.request("GET", "/x")
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(Path(folder), appendonly=False).start()
        try:
            client = redis.Redis.from_url(server.url)
            bare = _per_call(NoBreaker(), args.calls)
            policy = BreakerPolicy(min_calls=20, failure_rate=0.5, window_seconds=60)
            guarded = _per_call(RedisBreaker(client, "bench:client", policy), args.calls)
        finally:
            server.stop()
    print(f"calls: {args.calls}")
    print(f"no breaker:    {bare * 1e6:8.1f} us per call")
    print(f"Redis breaker: {guarded * 1e6:8.1f} us per call")
    print(f"ratio: {guarded / bare:.2f}x (the breaker adds {(guarded - bare) * 1e6:.1f} us)")


if __name__ == "__main__":
    main()
