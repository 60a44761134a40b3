"""Ingress throughput and latency: the hub's ingress against a bare Starlette + LPUSH app.

    .venv/bin/python bench/ingress.py                  # 3 rounds of 3 runs of 10 s per app
    .venv/bin/python bench/ingress.py --seconds 5 --rounds 1 --fsync both

Starts a Redis server per app (AOF on, ``appendfsync always`` as deployed, or
``--redis-appendfsync everysec``) and, one after the other, two uvicorn processes on
loopback with the same flags: the hub's ingress (``hub.ingress.app.create_app`` for the
repository's workflows and its Standard Webhooks ``crm`` source) and a bare app that only
LPUSHes the body with ``redis.asyncio``. Both get the same signed requests (a fresh event
id each). In each round every app runs at once (idle while another is measured): the
peaks (closed loop, ``--connections``) back to back in mirrored order, then two runs at
half each app's peak: "lockstep", where every connection waits the same time between
sends, so connections that were answered together stay together and arrive in bursts,
and "independent", where each wait is random (exponential, the same mean), as from
senders that know nothing of each other. It prints requests/s, p50, p99 and the CPU
time per request of the app and of its Redis server for every run, then medians over
``--rounds`` and the hub's ratio to the bare app. With ``--replica`` the hub is measured
once more with a replica of its Redis attached and ``HUB_INGRESS_MIN_REPLICAS_ACKED=1``
(each answer waits for the replica's ``WAIT``, as with Redis Sentinel).

The load comes from ``wrk`` when it is on PATH (``apt-get install wrk``; ``--install-wrk``
does it), else from an asyncio httpx client, which is slower than the servers it drives,
so its ratio mostly measures itself: prefer wrk. Every run is bounded by ``--seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.processes import SAMPLE_OPEN_SOURCES, write_open_sources  # noqa: E402

SECRET = "whsec_" + "YmVuY2gtaW5ncmVzcy1zaWduaW5nLWtleQ=="
EVENT_TYPE = "contact.created"


# --- the two servers (run in child processes) ---------------------------------------------


def bare_app() -> Any:
    """Starlette + redis.asyncio: read the body, LPUSH it, answer 202."""
    import redis.asyncio as aioredis
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    client = aioredis.Redis.from_url(os.environ["HUB_REDIS_URL"])

    async def hook(request: Request) -> JSONResponse:
        body = await request.body()
        await client.lpush("bare:" + request.path_params["source"], body)
        return JSONResponse({"accepted": True}, status_code=202)

    return Starlette(routes=[Route("/hooks/{source}", hook, methods=["POST"])])


def hub_app() -> Any:
    """The hub's ingress, built as ``hub serve`` builds it."""
    import redis

    from hub.core import Settings
    from hub.ingress import check_fsync, connect, create_app, prepare_process
    from hub.worker import create_celery
    from hub.workflow import WorkflowStore, load_folder

    settings = Settings()
    prepare_process(settings)
    workflows = load_folder(settings.hub_workflows)
    client = redis.Redis.from_url(str(settings.hub_redis_url))
    WorkflowStore(client).publish(workflows)
    # as hub serve: a server without WAITAOF (Redis 7.0) is met by its appendfsync always
    waitaof = settings.hub_ingress_fsync != "always" or check_fsync(client).waitaof
    return create_app(
        settings,
        workflows,
        create_celery(settings),
        connect(str(settings.hub_redis_url)),
        waitaof=waitaof,
    )


def serve(kind: str, port: int) -> None:
    """The hub as ``hub serve`` serves it; the bare app on uvicorn with the same options."""
    import uvicorn

    from hub.ingress import server

    if kind == "hub":
        server.run(hub_app(), host="127.0.0.1", port=port, log_level="warning")
    else:
        uvicorn.run(bare_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- load -----------------------------------------------------------------------------------


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_us: float = 0.0  # server process CPU time per request
    redis_us: float = 0.0  # Redis server CPU time per request

    def __str__(self) -> str:
        return (
            f"{self.rps:7.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:7.2f} ms"
            f"  CPU/req: app {self.cpu_us:4.0f} us, Redis {self.redis_us:4.0f} us"
            + (f"  NON-2XX {self.errors}" if self.errors else "")
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def signed_requests(count: int) -> list[tuple[str, str, str, bytes]]:
    from hub.intake import StandardWebhooks, standard_webhooks_key

    signer = StandardWebhooks((standard_webhooks_key(SECRET),))
    run, now = f"{time.time():.0f}", time.time()
    out = []
    for i in range(count):
        body = json.dumps(
            {
                "type": EVENT_TYPE,
                "data": {
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "email": f"ada{i}@example.com",
                },
            }
        )
        headers = signer.sign(body.encode(), f"bench-{run}-{i}", now)
        out.append(
            (
                headers["webhook-id"],
                headers["webhook-timestamp"],
                headers["webhook-signature"],
                body.encode(),
            )
        )
    return out


WRK_SCRIPT = """
local reqs, i, pause = {}, 0, tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local independent = os.getenv("BENCH_INDEPENDENT") == "1"
init = function(args)
  for line in io.lines(args[1]) do
    local id, ts, sg, body = line:match("([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t(.*)")
    reqs[#reqs + 1] = wrk.format("POST", "/hooks/crm", {
      ["Content-Type"] = "application/json", ["X-Event-Type"] = "EVENT_TYPE",
      ["webhook-id"] = id, ["webhook-timestamp"] = ts, ["webhook-signature"] = sg }, body)
  end
end
request = function() i = i + 1; if i > #reqs then i = 1 end; return reqs[i] end
if pause > 0 then
  delay = function()
    if independent then return math.floor(-pause * math.log(1 - math.random()) + 0.5) end
    return pause
  end
end
""".replace("EVENT_TYPE", EVENT_TYPE)


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(
    url: str,
    seconds: float,
    connections: int,
    requests: Path,
    rate: float | None,
    independent: bool = False,
) -> Result:
    script = requests.with_suffix(".lua")
    script.write_text(WRK_SCRIPT)
    env = dict(os.environ)
    if rate:  # each connection waits, then sends: rate ~ connections / (delay + latency)
        env["BENCH_DELAY_MS"] = str(max(int(connections / rate * 1000) - 2, 1))
        env["BENCH_INDEPENDENT"] = "1" if independent else "0"
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            str(requests),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=seconds + 60,
        check=True,
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return Result(
        float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        _ms(latency["50"]),
        _ms(latency["99"]),
        int(errors.group(1)) if errors else 0,
        int(total.group(1)) if total else 0,
    )


def run_httpx(
    url: str,
    seconds: float,
    connections: int,
    reqs: list[tuple[str, str, str, bytes]],
    rate: float | None,
    independent: bool = False,
) -> Result:
    import random

    import httpx

    async def main() -> Result:
        latencies: list[float] = []
        errors = 0
        index = 0
        deadline = time.monotonic() + seconds
        interval = connections / rate if rate else 0.0
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:

            async def worker() -> None:
                nonlocal index, errors
                next_at = time.monotonic()
                while time.monotonic() < deadline:
                    wid, ts, sg, body = reqs[index % len(reqs)]
                    index += 1
                    start = time.monotonic()
                    response = await client.post(
                        url,
                        content=body,
                        headers={
                            "Content-Type": "application/json",
                            "X-Event-Type": EVENT_TYPE,
                            "webhook-id": wid,
                            "webhook-timestamp": ts,
                            "webhook-signature": sg,
                        },
                    )
                    latencies.append(time.monotonic() - start)
                    errors += response.status_code >= 300
                    if interval:
                        next_at += random.expovariate(1 / interval) if independent else interval
                        await asyncio.sleep(max(0.0, next_at - time.monotonic()))

            began = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(connections)))
            elapsed = time.monotonic() - began
        latencies.sort()
        return Result(
            len(latencies) / elapsed,
            latencies[len(latencies) // 2] * 1000,
            latencies[int(len(latencies) * 0.99)] * 1000,
            errors,
            len(latencies),
        )

    return asyncio.run(main())


# --- orchestration --------------------------------------------------------------------------


def wait_http(url: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


#: the runs of one app: the peak (closed loop), then two at half that rate
PATTERNS = (
    ("peak", None, False),
    ("half, lockstep", 0.5, False),  # every connection waits the same time between sends
    ("half, independent", 0.5, True),  # random (exponential) waits: independent senders
)


class Served:
    """One app on uvicorn with a Redis server of its own (a fresh AOF), until stopped."""

    def __init__(
        self, kind: str, label: str, env: dict[str, str], args: argparse.Namespace, folder: Path
    ) -> None:
        import redis

        from hub.core import RedisServer, free_port

        self.kind, self.label, self.args, self.folder = kind, label, args, folder
        extra = ("--hz", str(args.redis_hz)) if args.redis_hz else ()
        self.data = Path(tempfile.mkdtemp(dir=folder))
        self.server = RedisServer(
            self.data, appendfsync=args.redis_appendfsync, extra_args=extra
        ).start()
        self.replica = None
        if env.get("HUB_INGRESS_MIN_REPLICAS_ACKED", "0") != "0":
            self.replica = self._start_replica(args)
        self.flush = redis.Redis.from_url(self.server.url).flushall
        assert self.server.process is not None
        self.redis_pid = self.server.process.pid
        port = free_port()
        self.log = (self.data / "server.log").open("wb")  # log lines to a file, as deployed
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve", kind, str(port)],
            env={**env, "HUB_REDIS_URL": self.server.url},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_http(f"http://127.0.0.1:{port}/")
        self.url = f"http://127.0.0.1:{port}/hooks/crm"

    def _start_replica(self, args: argparse.Namespace) -> Any:
        """A replica of this app's Redis, in sync before the app starts."""
        import redis

        from hub.core import RedisServer

        replica = RedisServer(
            Path(tempfile.mkdtemp(dir=self.folder)),
            appendfsync=args.redis_appendfsync,
            extra_args=("--replicaof", "127.0.0.1", str(self.server.port)),
        ).start()
        primary = redis.Redis.from_url(self.server.url)
        deadline = time.monotonic() + 30
        while primary.info("replication").get("slave0", {}).get("state") != "online":
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not get in sync in 30 s")
            time.sleep(0.1)
        return replica

    def run(self, rate: float | None, independent: bool) -> Result:
        """One run of ``--seconds`` (closed loop when ``rate`` is None), on a flushed Redis."""
        args = self.args
        self.flush()
        count = int((rate or 20000) * args.seconds * 1.5) + 1000
        reqs = signed_requests(count)
        before, redis_before = cpu_seconds(self.proc.pid), cpu_seconds(self.redis_pid)
        if args.loader == "wrk":
            path = self.folder / "requests.tsv"
            path.write_bytes(
                b"".join(f"{i}\t{t}\t{s}\t".encode() + b + b"\n" for i, t, s, b in reqs)
            )
            result = run_wrk(self.url, args.seconds, args.connections, path, rate, independent)
        else:
            result = run_httpx(self.url, args.seconds, args.connections, reqs, rate, independent)
        done = max(result.requests, 1)
        result.cpu_us = (cpu_seconds(self.proc.pid) - before) / done * 1e6
        result.redis_us = (cpu_seconds(self.redis_pid) - redis_before) / done * 1e6
        return result

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)
        self.log.close()
        lines = (self.data / "server.log").read_bytes().count(b"\n")
        print(f"  ({self.label}: {lines} log lines)")
        if self.replica is not None:
            self.replica.stop()
        self.server.stop()
        shutil.rmtree(self.data, ignore_errors=True)


def mean(results: list[Result]) -> Result:
    """The mean of runs of one pattern."""
    n = len(results)
    return Result(
        sum(r.rps for r in results) / n,
        sum(r.p50_ms for r in results) / n,
        sum(r.p99_ms for r in results) / n,
        sum(r.errors for r in results),
        sum(r.requests for r in results),
        sum(r.cpu_us for r in results) / n,
        sum(r.redis_us for r in results) / n,
    )


def measure_round(apps: list[Served]) -> dict[str, dict[str, Result]]:
    """Every app's runs of :data:`PATTERNS` in one round.

    Peaks go first and back to back, in order and then in reverse (A B C C B A), each
    app's peak the mean of its two: the machine's speed drifts from minute to minute, and
    mirrored runs put the same drift on every app.
    """
    peaks: dict[str, list[Result]] = {app.label: [] for app in apps}
    for app in [*apps, *reversed(apps)]:
        peaks[app.label].append(app.run(None, False))
    results = {app.label: {"peak": mean(peaks[app.label])} for app in apps}
    for name, rate_of, independent in PATTERNS[1:]:
        for app in apps:
            rate = results[app.label]["peak"].rps * (rate_of or 1)
            results[app.label][name] = app.run(rate, independent)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="bare and hub measured one after the other this many times; medians printed",
    )
    parser.add_argument(
        "--fsync",
        choices=["always", "everysec", "both"],
        default="always",
        help="HUB_INGRESS_FSYNC for the hub's runs",
    )
    parser.add_argument(
        "--redis-appendfsync",
        choices=["everysec", "always"],
        default="always",
        help="Redis AOF policy (deploy/redis.conf: always)",
    )
    parser.add_argument(
        "--redis-hz",
        type=int,
        default=None,
        help="Redis `hz` (WAITAOF under everysec waits up to 1/hz s)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        help="HUB_LOG_LEVEL of the hub (INFO, the default, logs a line per event)",
    )
    parser.add_argument(
        "--replica",
        action="store_true",
        help="also the hub with a replica and HUB_INGRESS_MIN_REPLICAS_ACKED=1",
    )
    parser.add_argument("--loader", choices=["wrk", "httpx"], default=None)
    parser.add_argument(
        "--install-wrk", action="store_true", help="apt-get install wrk first (needs root)"
    )
    args = parser.parse_args()
    if args.install_wrk and not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    args.loader = args.loader or ("wrk" if shutil.which("wrk") else "httpx")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        workflows = folder / "workflows"
        shutil.copytree(ROOT / "workflows", workflows)
        # served as in production (no local mode): the samples' other sources need files
        write_open_sources(workflows / "sources", SAMPLE_OPEN_SOURCES)
        env = {
            **os.environ,
            "HUB_WORKFLOWS": str(workflows),
            "HUB_SECRETS": json.dumps(
                {
                    "CRM_SIGNING_KEY": SECRET,
                    "HUBSPOT_CLIENT_SECRET": "bench-hubspot-secret",
                    "PIPEDRIVE_WEBHOOK_AUTH": "bench:pipedrive",
                }
            ),
            "HUB_LOG_LEVEL": args.log_level,
        }
        print(
            f"loader {args.loader}, {args.seconds:g} s per run, {args.connections} "
            f"connections, {args.rounds} round(s); hub log level {args.log_level}; "
            "Redis AOF appendfsync "
            f"{args.redis_appendfsync}"
            + (f", hz {args.redis_hz}" if args.redis_hz else "")
            + f"; {os.cpu_count()} CPUs"
        )
        modes = ["always", "everysec"] if args.fsync == "both" else [args.fsync]
        apps: list[tuple[str, str, dict[str, str]]] = [("bare", "bare Starlette+LPUSH", {})]
        apps += [("hub", f"hub fsync={mode}", {"HUB_INGRESS_FSYNC": mode}) for mode in modes]
        if args.replica:
            acked = {"HUB_INGRESS_FSYNC": modes[0], "HUB_INGRESS_MIN_REPLICAS_ACKED": "1"}
            apps.append(("hub", f"hub fsync={modes[0]} +WAIT", acked))
        seen: dict[str, list[dict[str, Result]]] = {label: [] for _, label, _ in apps}
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_}")
            served: list[Served] = []
            try:
                for kind, label, extra in apps:
                    served.append(Served(kind, label, {**env, **extra}, args, folder))
                results = measure_round(served)
            finally:
                for app in served:
                    app.stop()
            for label, runs in results.items():
                seen[label].append(runs)
                for name, result in runs.items():
                    print(f"  {label:<21} {name:<18} {result}")
            sys.stdout.flush()
        summarise(seen)
        refused = {
            label: sum(r.errors for runs in rounds for r in runs.values())
            for label, rounds in seen.items()
        }
        if any(refused.values()):
            sys.exit(
                "answers other than 2xx (the figures count refusals, not events): "
                + ", ".join(f"{label} {n}" for label, n in refused.items() if n)
            )


def summarise(seen: dict[str, list[dict[str, Result]]]) -> None:
    """Medians over the rounds, and each hub's ratios to the bare app."""
    from statistics import median

    def med(label: str, name: str, field: str) -> float:
        return float(median(getattr(r[name], field) for r in seen[label]))

    labels = list(seen)
    print(f"medians over {len(seen[labels[0]])} round(s)")
    for label in labels:
        for name, _, _ in PATTERNS:
            print(
                f"  {label:<21} {name:<18} {med(label, name, 'rps'):7.0f} req/s  "
                f"p50 {med(label, name, 'p50_ms'):6.2f} ms  "
                f"p99 {med(label, name, 'p99_ms'):7.2f} ms"
            )
    bare = labels[0]
    for label in labels[1:]:
        ratios = [
            h["peak"].rps / b["peak"].rps for h, b in zip(seen[label], seen[bare], strict=True)
        ]
        print(
            f"  {label}: peak req/s {median(ratios):.2f}x the bare app's "
            f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}); p99 at half peak "
            f"{med(label, 'half, independent', 'p99_ms'):.1f} ms with independent senders, "
            f"{med(label, 'half, lockstep', 'p99_ms'):.1f} ms in lockstep (goals: >= 0.8x, "
            "< 25 ms)"
        )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
