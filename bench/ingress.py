"""Ingress throughput and latency: the hub's ingress against a bare Starlette + LPUSH app.

    .venv/bin/python bench/ingress.py                  # 10 s per run, both fsync modes
    .venv/bin/python bench/ingress.py --seconds 5 --fsync always

Starts a Redis server per app (AOF on, ``appendfsync always`` as deployed, or
``--redis-appendfsync everysec``) and, one after the other, two uvicorn processes on
loopback with the same flags: the hub's ingress (``hub.ingress.app.create_app`` for the
repository's workflows and its Standard Webhooks ``crm`` source) and a bare app that only
LPUSHes the body with ``redis.asyncio``. Both get the same signed requests (a fresh event
id each). For each app it measures the peak (closed loop, ``--connections``), then a
run paced at half that peak, and prints requests/s, p50 and p99 for each and the ratio.

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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "whsec_" + "YmVuY2gtaW5ncmVzcy1zaWduaW5nLWtleQ=="
EVENT_TYPE = "contact.created"


# --- the two servers (run in child processes) ---------------------------------------------


def bare_app() -> object:
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


def hub_app() -> object:
    """The hub's ingress, built as ``hub serve`` builds it."""
    import redis

    from hub.ingress.app import create_app
    from hub.ingress.store import connect
    from hub.settings import Settings
    from hub.worker.celery_app import create_celery
    from hub.workflow.loader import load_folder
    from hub.workflow.store import WorkflowStore

    settings = Settings()
    workflows = load_folder(settings.hub_workflows)
    WorkflowStore(redis.Redis.from_url(str(settings.hub_redis_url))).publish(workflows)
    return create_app(
        settings, workflows, create_celery(settings), connect(str(settings.hub_redis_url))
    )


def serve(kind: str, port: int) -> None:
    import uvicorn

    app = hub_app() if kind == "hub" else bare_app()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",  # type: ignore[arg-type]
        access_log=False,
    )


# --- load -----------------------------------------------------------------------------------


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_us: float = 0.0  # server process CPU time per request

    def __str__(self) -> str:
        return (
            f"{self.rps:7.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:7.2f} ms"
            f"  server CPU {self.cpu_us:5.0f} us/req"
            + (f"  NON-2XX {self.errors}" if self.errors else "")
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def signed_requests(count: int) -> list[tuple[str, str, str, bytes]]:
    from hub.ingress.signatures import StandardWebhooks, standard_webhooks_key

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
init = function(args)
  for line in io.lines(args[1]) do
    local id, ts, sg, body = line:match("([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t(.*)")
    reqs[#reqs + 1] = wrk.format("POST", "/hooks/crm", {
      ["Content-Type"] = "application/json", ["X-Event-Type"] = "EVENT_TYPE",
      ["webhook-id"] = id, ["webhook-timestamp"] = ts, ["webhook-signature"] = sg }, body)
  end
end
request = function() i = i + 1; if i > #reqs then i = 1 end; return reqs[i] end
if pause > 0 then delay = function() return pause end end
""".replace("EVENT_TYPE", EVENT_TYPE)


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(
    url: str, seconds: float, connections: int, requests: Path, rate: float | None
) -> Result:
    script = requests.with_suffix(".lua")
    script.write_text(WRK_SCRIPT)
    env = dict(os.environ)
    if rate:  # each connection waits, then sends: rate ~ connections / (delay + latency)
        env["BENCH_DELAY_MS"] = str(max(int(connections / rate * 1000) - 2, 1))
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
) -> Result:
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
                        next_at += interval
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


def measure(
    kind: str, env: dict[str, str], args: argparse.Namespace, folder: Path
) -> tuple[Result, Result]:
    """Peak and half-peak runs of one app, on a Redis server of its own (a fresh AOF)."""
    import redis

    from hub.redis_server import RedisServer, free_port

    extra = ("--hz", str(args.redis_hz)) if args.redis_hz else ()
    data = Path(tempfile.mkdtemp(dir=folder))
    server = RedisServer(data, appendfsync=args.redis_appendfsync, extra_args=extra).start()
    flush = redis.Redis.from_url(server.url).flushall
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "serve", kind, str(port)],
        env={**env, "HUB_REDIS_URL": server.url},
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        url = f"http://127.0.0.1:{port}/hooks/crm"
        results = []
        for rate_of in (None, 0.5):
            flush()
            rate = results[0].rps * rate_of if rate_of else None
            count = int((rate or 20000) * args.seconds * 1.5) + 1000
            reqs = signed_requests(count)
            connections = args.connections
            before = cpu_seconds(proc.pid)
            if args.loader == "wrk":
                path = folder / "requests.tsv"
                path.write_bytes(
                    b"".join(f"{i}\t{t}\t{s}\t".encode() + b + b"\n" for i, t, s, b in reqs)
                )
                result = run_wrk(url, args.seconds, connections, path, rate)
            else:
                result = run_httpx(url, args.seconds, connections, reqs, rate)
            result.cpu_us = (cpu_seconds(proc.pid) - before) / max(result.requests, 1) * 1e6
            results.append(result)
        return results[0], results[1]
    finally:
        proc.terminate()
        proc.wait(15)
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--fsync",
        choices=["always", "everysec", "both"],
        default="both",
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
        env = {
            **os.environ,
            "HUB_WORKFLOWS": str(workflows),
            "HUB_SECRETS": json.dumps({"CRM_SIGNING_KEY": SECRET}),
            "HUB_LOG_LEVEL": "WARNING",
        }
        print(
            f"loader {args.loader}, {args.seconds:g} s per run, {args.connections} "
            f"connections; Redis AOF appendfsync {args.redis_appendfsync}"
            + (f", hz {args.redis_hz}" if args.redis_hz else "")
            + f"; {os.cpu_count()} CPUs"
        )
        bare_peak, bare_half = measure("bare", env, args, folder)
        print(f"bare Starlette+LPUSH  peak   {bare_peak}")
        print(f"                      half   {bare_half}")
        sys.stdout.flush()
        modes = ["always", "everysec"] if args.fsync == "both" else [args.fsync]
        for mode in modes:
            peak, half = measure("hub", {**env, "HUB_INGRESS_FSYNC": mode}, args, folder)
            print(f"hub fsync={mode:<9} peak   {peak}")
            print(
                f"                      ratio to bare: {peak.rps / bare_peak.rps:.2f} in "
                f"req/s, {bare_peak.cpu_us / peak.cpu_us:.2f} in CPU per request"
            )
            print(f"                      half   {half}")
            sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
