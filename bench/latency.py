"""Pickup latency and per-step cost: the hub's worker against a bare Celery app.

    .venv/bin/python bench/latency.py               # about three minutes on two cores
    .venv/bin/python bench/latency.py --quick       # seconds: only that it still works

Starts one Redis server (AOF ``appendfsync always``, as deployed), the Plutio sandbox,
``hub serve`` and one ``hub worker`` (``--concurrency`` processes), and beside them on
the same server (database 1) a bare Celery app with the hub's worker settings (acks
late, prefetch 1, task events, the same queues in the same order, the same concurrency;
kombu's own Redis transport) and a bare Starlette ingress that only sends its task.
Then, the two taking turns so that load from elsewhere on the machine weighs on both
alike, it prints side by side:

- **e2e**: a CRM contact POSTed (signed, to the hub) until the person is created at the
  sandbox (its ``createdAt``, millisecond resolution), both sides at half of the hub's
  peak rate with independent (Poisson) senders: p50 and p99; and the same at a steady
  ``--rate`` (5 a second, as issue #15 measured). A peak is the rate at which a burst of
  contacts is created; each side's is measured once a round, and the rate is half the
  median of the hub's. The bare task creates the person with one call; the
  hub's workflow upserts it (find, then create under a lock).
- **chain**: a run of five ``core.echo`` steps sent to an idle worker, until its run
  record says it ended; bare: a chain of five tasks handing a context on, until the last
  one noted its end. p50 and p99 over ``--chains`` runs.
- **drain**: 1,000 one-step ``core.echo`` runs (bare: no-op tasks) queued at once, until
  every message is acknowledged: runs a second, and the hub's rate as a ratio of the
  bare app's.

The contacts are POSTed by :class:`HookSender`, which keeps its own CPU low: the
systems that send webhooks do not share the hub's cores in production, and here they do.

Goals (issue #15): e2e p50 <= 15 ms and p99 <= 60 ms, chain p50 <= 40 ms, drain >= 0.8x
the bare app. The figures are printed, never asserted. Loopback only; everything it
starts is stopped at the end, and the logs stay in a temporary folder it names.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import redis
from celery import Celery, chain

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.core import RedisServer, Settings, free_port  # noqa: E402
from hub.history import RunStore  # noqa: E402
from hub.worker import (  # noqa: E402
    DEFAULT_QUEUE,
    INTERACTIVE_QUEUE,
    STEP_QUEUES,
    create_celery,
    ring_for,
)
from hub.workflow import (  # noqa: E402
    Workflow,
    WorkflowStore,
    compile_run,
    load_workflow,
    new_context,
)
from tests.support.processes import HubProcesses, quota_env, wait_for  # noqa: E402
from tests.support.signing import crm_delivery  # noqa: E402

#: httptools (a dependency of the ingress's uvicorn) has no type hints
_httptools: Any = importlib.import_module("httptools")

#: Redis databases: the hub's, the bare app's, and where each side's backlog is queued
#: before it is moved in front of its worker at once
HUB_DB, BARE_DB, HUB_STAGING_DB, BARE_STAGING_DB = 0, 1, 2, 3
BARE_DONE = "bare:done"
ECHO_CHAIN = """\
name: bench-echo-chain
trigger:
  webhook: { source: crm, event: bench.chain }
steps:
""" + "".join(
    f"  - id: s{n}\n    uses: core.echo\n    with: {{ n: {n}, email: '{{{{ event.email }}}}' }}\n"
    for n in range(1, 6)
)
ECHO_ONE = """\
name: bench-echo
trigger:
  webhook: { source: crm, event: bench.echo }
steps:
  - id: echo
    uses: core.echo
    with: { email: "{{ event.email }}" }
"""

#: the settings the bare app shares with the hub's (everything but transport and routes)
SAME_SETTINGS = (
    "task_serializer",
    "accept_content",
    "result_serializer",
    "task_ignore_result",
    "task_acks_late",
    "task_reject_on_worker_lost",
    "worker_prefetch_multiplier",
    "task_default_queue",
    "broker_transport_options",
    "broker_connection_retry_on_startup",
    "worker_send_task_events",
    "task_send_sent_event",
    "task_track_started",
    "worker_hijack_root_logger",
    "enable_utc",
)


# --- the bare app (its worker and ingress run in child processes) ----------------------------


def with_db(url: str, db: int) -> str:
    return url.rsplit("/", 1)[0] + f"/{db}"


def bare_celery(url: str) -> Celery:
    """A Celery app on ``url`` with the hub's worker settings and kombu's Redis transport."""
    hub = create_celery(Settings(hub_redis_url=url)).conf
    app = Celery("bare", broker=url)
    app.conf.update({name: hub[name] for name in SAME_SETTINGS})
    state: dict[str, Any] = {}

    @app.task(name="bare.echo", shared=False)  # type: ignore[untyped-decorator]
    def echo(ctx: dict[str, Any], n: int) -> dict[str, Any]:
        ctx["steps"][f"s{n}"] = {"n": n, "email": ctx["event"]["email"]}
        return ctx

    @app.task(name="bare.finish", shared=False)  # type: ignore[untyped-decorator]
    def finish(ctx: dict[str, Any], key: str) -> None:
        if "redis" not in state:
            state["redis"] = redis.Redis.from_url(url)
        state["redis"].lpush(BARE_DONE, json.dumps([key, time.time()]))

    @app.task(name="bare.noop", shared=False)  # type: ignore[untyped-decorator]
    def noop(ctx: dict[str, Any]) -> None:
        return None

    @app.task(name="bare.create", shared=False)  # type: ignore[untyped-decorator]
    def create(data: dict[str, Any]) -> None:
        person = {
            "name": {"first": data["first_name"], "last": data["last_name"]},
            "contactEmails": [{"address": data["email"].lower(), "type": "work"}],
        }
        if "plutio" not in state:
            state["plutio"] = plutio_client()
        answer = state["plutio"].post("/people", json=person)
        if answer.status_code == 401:  # the sandbox was reset: a new token
            state["plutio"] = plutio_client()
            answer = state["plutio"].post("/people", json=person)
        answer.raise_for_status()

    return app


def plutio_client() -> httpx.Client:
    """The sandbox's API with a token, as the bare task calls it (settings from the env)."""
    base = os.environ["PLUTIO_BASE_URL"]
    grant = {
        "grant_type": "client_credentials",
        "client_id": os.environ["PLUTIO_CLIENT_ID"],
        "client_secret": os.environ["PLUTIO_CLIENT_SECRET"],
    }
    token = httpx.post(f"{base}/oauth/token", data=grant).json()["accessToken"]
    headers = {"Authorization": f"Bearer {token}", "Business": os.environ["PLUTIO_BUSINESS"]}
    return httpx.Client(base_url=base, headers=headers)


def bare_worker(url: str, concurrency: int) -> None:
    """``celery worker`` for the bare app, on the hub's queues in the hub's order."""
    log_level = os.environ.get("HUB_LOG_LEVEL", "INFO")
    argv = ["worker", "-Q", ",".join(STEP_QUEUES), "-c", str(concurrency), "-n", "bare@%h"]
    bare_celery(url).worker_main([*argv, "--loglevel", log_level])


def bare_ingress(url: str, port: int) -> None:
    """A Starlette app that sends the bare task for each CRM contact POSTed to it."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    app = bare_celery(url)

    async def hook(request: Request) -> JSONResponse:
        event = json.loads(await request.body())
        app.send_task("bare.create", args=(event["data"],), queue=INTERACTIVE_QUEUE)
        return JSONResponse({"accepted": True}, status_code=202)

    routes = [Route("/hooks/crm", hook, methods=["POST"])]
    uvicorn.run(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning")


# --- the two sides ---------------------------------------------------------------------------


@dataclass
class Side:
    """What the figures need of the hub or of the bare app."""

    label: str
    url: str  # its Redis database
    staging_url: str
    hooks: str  # its ingress's CRM hook
    celery: Celery
    sandbox: str
    signed: bool
    client: redis.Redis = field(init=False)

    def __post_init__(self) -> None:
        self.client = redis.Redis.from_url(self.url)

    def contact(self, email: str) -> tuple[dict[str, str], bytes]:
        """The headers and body of one CRM contact's POST (signed for the hub)."""
        body = {
            "type": "contact.created",
            "data": {"first_name": "Ada", "last_name": "Lovelace", "email": email},
        }
        if self.signed:
            delivery = crm_delivery(body, email, **{"X-Event-Type": "contact.created"})
            return delivery["headers"], delivery["content"]
        return {"Content-Type": "application/json"}, json.dumps(body).encode()

    def send_chain(self, key: str) -> None:
        raise NotImplementedError

    def chain_ended(self, key: str, timeout: float) -> float:
        """When chain ``key`` ended (epoch seconds)."""
        raise NotImplementedError

    def stage(self, count: int, tag: str) -> None:
        """Queue ``count`` one-step runs in the staging database."""
        raise NotImplementedError

    def release(self) -> None:
        """Move the staged backlog in front of the worker, at once."""
        staging = redis.Redis.from_url(self.staging_url)
        db = int(self.url.rsplit("/", 1)[1])
        for queue in STEP_QUEUES:
            if staging.exists(queue):
                staging.move(queue, db)
                self.wake(queue)
        staging.close()

    def wake(self, queue: str) -> None:
        """Tell idle consumers of ``queue`` that messages came in behind the transport."""

    def drained(self) -> bool:
        pipe = self.client.pipeline(transaction=False)
        for queue in STEP_QUEUES:
            pipe.llen(queue)
        pipe.hlen("unacked")
        return not any(pipe.execute())


class HubSide(Side):
    workflows: dict[str, Workflow]

    def send_chain(self, key: str) -> None:
        self._send(self.celery, self.workflows["bench-echo-chain"], key)

    def chain_ended(self, key: str, timeout: float) -> float:
        runs = RunStore(self.client)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = runs.get(key)
            if run is not None and run.status == "succeeded" and run.finished_at is not None:
                return run.finished_at
            time.sleep(0.002)
        raise TimeoutError(f"run {key} did not end in {timeout} s")

    def stage(self, count: int, tag: str) -> None:
        staging = create_celery(Settings(hub_redis_url=self.staging_url))
        wf = self.workflows["bench-echo"]
        with staging.producer_or_acquire() as producer:
            for n in range(count):
                self._send(staging, wf, f"{tag}-{n}", producer=producer)
        staging.close()

    def wake(self, queue: str) -> None:
        ring_for(self.client, queue)

    def _send(self, celery: Celery, wf: Workflow, key: str, **options: Any) -> None:
        ctx = new_context(
            event={"email": f"{key}@bench.example"},
            event_id=key,
            source="crm",
            event_type="bench",
            run_id=key,
        )
        compile_run(celery, wf, ctx, event_id=key, run_id=key).apply_async(**options)


class BareSide(Side):
    def send_chain(self, key: str) -> None:
        ctx = {"event": {"email": f"{key}@bench.example"}, "steps": {}}
        tasks = [self.celery.signature("bare.echo", kwargs={"n": n}) for n in range(2, 6)]
        first = self.celery.signature("bare.echo", args=(ctx,), kwargs={"n": 1})
        end = self.celery.signature("bare.finish", kwargs={"key": key})
        chain(first, *tasks, end).apply_async(queue=DEFAULT_QUEUE)

    def chain_ended(self, key: str, timeout: float) -> float:
        while True:
            popped = self.client.blpop([BARE_DONE], timeout=timeout)
            if popped is None:
                raise TimeoutError(f"chain {key} did not end in {timeout} s")
            done, ended = json.loads(popped[1])
            if done == key:
                return float(ended)

    def stage(self, count: int, tag: str) -> None:
        staging = bare_celery(self.staging_url)
        ctx = {"event": {"email": f"{tag}@bench.example"}, "steps": {}}
        with staging.producer_or_acquire() as producer:
            for _ in range(count):
                staging.send_task("bare.noop", args=(ctx,), queue=DEFAULT_QUEUE, producer=producer)
        staging.close()


# --- the figures -----------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def created_at(side: Side, emails: set[str]) -> dict[str, float]:
    """Epoch seconds each person with one of ``emails`` was created."""
    people = httpx.get(f"{side.sandbox}/_sandbox/state/people", timeout=30).json()
    out = {}
    for person in people:
        email = person["contactEmails"][0]["address"]
        if email in emails:
            stamp = person.get("createdAt") or person.get("created_at")
            out[email] = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return out


class CreatesSince:
    """People the sandbox created since call ``seq`` (its call log, not its records).

    Each look asks only for the calls from a little before the newest one seen (a call
    is logged when answered, so one sent earlier may be logged after it), counting each
    call once: the log of a long run is no load on the sandbox, which is also answering
    the side being measured."""

    #: calls that may still be unanswered behind the newest one logged
    IN_FLIGHT = 256

    def __init__(self, side: Side, seq: int) -> None:
        self.side, self.since, self.seen = side, seq, set[int]()
        self.count = 0

    def __call__(self) -> int:
        url = f"{self.side.sandbox}/_sandbox/calls"
        calls = httpx.get(url, params={"since": self.since}, timeout=30).json()["calls"]
        for call in calls:
            if call["seq"] in self.seen:
                continue
            self.seen.add(call["seq"])
            if call["method"] == "POST" and call["path"] == "/people" and call["status"] == 200:
                self.count += 1
        if calls:
            self.since = max(self.since, calls[-1]["seq"] - self.IN_FLIGHT)
        return self.count


def last_call(side: Side) -> int:
    log = httpx.get(f"{side.sandbox}/_sandbox/calls", params={"since": 1 << 62}).json()
    seq: int = log["last_seq"]
    return seq


class _Answer:
    """httptools' callbacks for one answer: its body, and whether it has all come."""

    def __init__(self) -> None:
        self.body = b""
        self.complete = False

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


class HookSender:
    """POSTs prepared requests to one hook over at most ``connections`` kept-alive
    connections. It stands in for the systems that send webhooks, which run on machines
    of their own in production; here it shares the two cores with what it measures, so
    it is as light as it can be: HTTP/1.1 written on asyncio streams, each answer read by
    httptools (the C parser uvicorn uses). An answer other than 2xx is raised."""

    def __init__(self, url: str, connections: int = 16) -> None:
        hook = httpx.URL(url)
        self.host, self.port, self.path = hook.host, hook.port or 80, hook.raw_path.decode()
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    def request(self, headers: dict[str, str], body: bytes) -> bytes:
        """The bytes of one POST of ``body`` with ``headers``."""
        head = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    async def post(self, request: bytes, sent: Callable[[], None]) -> None:
        """Send ``request`` (``sent`` is called once it has a connection's turn) and read
        its answer."""
        async with self._slots:
            sent()
            reused = self._kept()
            if reused is not None and await self._exchange(*reused, request):
                return
            # a kept connection the server closed as it went idle (uvicorn's keep-alive
            # is 5 s) before it read the request: the request goes on a new one
            fresh = await asyncio.open_connection(self.host, self.port)
            if not await self._exchange(*fresh, request):
                raise ConnectionError(f"{self.host}:{self.port} closed the connection")

    def _kept(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        while self._idle:
            reader, writer = self._idle.pop()
            if not (reader.at_eof() or writer.is_closing()):
                return reader, writer
            writer.close()
        return None

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> bool:
        """Send ``request`` and read its answer; False when the connection closed before
        any of the answer came."""
        writer.write(request)
        answer = _Answer()
        parser = _httptools.HttpResponseParser(answer)
        received = False
        while not answer.complete:
            data = await reader.read(65_536)
            if not data:
                writer.close()
                if received:
                    raise ConnectionError(f"{self.host}:{self.port} closed mid-answer")
                return False
            received = True
            parser.feed_data(data)
        status = parser.get_status_code()
        if not 200 <= status < 300:
            raise RuntimeError(f"POST {self.path} answered {status}: {answer.body[:200]!r}")
        self._idle.append((reader, writer))
        return True

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle = []


async def post_all(side: Side, emails: list[str], gaps: list[float]) -> dict[str, float]:
    """POST a contact for each email, waiting ``gaps`` between sends (0: at once, up to
    16 in flight); when each was sent. Every request is made (and signed) before the
    first is sent: well within the signature's five minutes."""
    sent: dict[str, float] = {}
    sender = HookSender(side.hooks)
    requests = {email: sender.request(*side.contact(email)) for email in emails}

    async def post(email: str) -> None:
        await sender.post(requests[email], lambda: sent.__setitem__(email, time.time()))

    try:
        tasks, due = [], time.monotonic()
        for email, gap in zip(emails, gaps, strict=True):
            due += gap
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            tasks.append(asyncio.create_task(post(email)))
        await asyncio.gather(*tasks)
    finally:
        await sender.close()
    return sent


def contacts_created(side: Side, emails: list[str], gaps: list[float]) -> list[float]:
    """Send the contacts, wait until each person exists; seconds from send to create."""
    sent, created = sent_and_created(side, emails, gaps)
    return [created[email] - sent[email] for email in emails]


def sent_and_created(
    side: Side, emails: list[str], gaps: list[float]
) -> tuple[dict[str, float], dict[str, float]]:
    """Send the contacts, wait until each person exists; when each was sent and created."""
    creates = CreatesSince(side, last_call(side))
    sent = asyncio.run(post_all(side, emails, gaps))
    # the call log, not the records, while it runs: reading every record is no light load
    done = lambda: creates() >= len(emails)  # noqa: E731
    wait_for(done, 60 + len(emails) / 10, f"{side.label}'s people", interval=0.1)
    return sent, created_at(side, set(emails))


def fresh_sandbox(sides: tuple[Side, ...], tag: str) -> None:
    """An empty sandbox, and one contact through each side (not counted) to fetch its
    token again. The sandbox's find looks through every record, which a real upstream's
    index would not: a figure measured over the records of the ones before would grow
    with the run (by 2-3 ms a find at a few hundred people), and only on the hub's side,
    which finds before it creates."""
    between_phases()
    httpx.post(f"{sides[0].sandbox}/_sandbox/reset", timeout=30).raise_for_status()
    for side in sides:
        contacts_created(side, [f"{tag}w-{side.label}@bench.example"], [0.0])


@dataclass
class E2E:
    peak: float  # this side's own peak rate (contacts a second)
    rate: float  # the rate it was sent at: half the hub's peak
    latencies: list[float]


def peak(side: Side, args: argparse.Namespace, tag: str) -> float:
    """Contacts a second through ``side`` in a burst: sent at once (16 in flight), from
    the first send to the last person created."""
    burst = [f"{tag}p{n}-{side.label}@bench.example" for n in range(args.burst)]
    sent, created = sent_and_created(side, burst, [0.0] * len(burst))
    return len(burst) / (max(created.values()) - min(sent.values()))


def at_rate(side: Side, rate: float, args: argparse.Namespace, tag: str) -> list[float]:
    """Seconds from POST to created, for contacts sent at ``rate`` by independent
    senders (exponential gaps) for ``--seconds``."""
    count = max(5, int(rate * args.seconds))
    emails = [f"{tag}h{n}-{side.label}@bench.example" for n in range(count)]
    gaps = [random.expovariate(rate) for _ in emails]
    return contacts_created(side, emails, gaps)


def chains(side: Side, count: int, tag: str) -> list[float]:
    """Seconds from send to end of ``count`` chains, each sent to an idle worker."""
    out = []
    for n in range(count):
        time.sleep(random.uniform(0.02, 0.08))  # the worker waits idle for it
        key = f"{tag}-{side.label}-{n}"
        sent = time.time()
        side.send_chain(key)
        out.append(side.chain_ended(key, 30) - sent)
    return out


def drain(side: Side, count: int, tag: str) -> float:
    """Runs a second through ``count`` queued at once, until all are acknowledged."""
    side.stage(count, f"{tag}-{side.label}")
    started = time.monotonic()
    side.release()
    wait_for(side.drained, 60 + count / 10, f"{side.label} to drain", interval=0.02)
    return count / (time.monotonic() - started)


# --- orchestration ---------------------------------------------------------------------------


def bench_workflows(folder: Path) -> dict[str, Workflow]:
    """The repository's workflows and the two echo workflows in ``folder``."""
    shutil.copytree(ROOT / "workflows", folder)
    (folder / "bench-echo-chain.yaml").write_text(ECHO_CHAIN)
    (folder / "bench-echo.yaml").write_text(ECHO_ONE)
    loaded = [load_workflow(folder / f"{name}.yaml") for name in ("bench-echo-chain", "bench-echo")]
    return {wf.name: wf for wf in loaded}


@contextmanager
def started(args: argparse.Namespace, tmp: Path) -> Iterator[tuple[HubSide, BareSide]]:
    """Redis, the sandbox, the hub (ingress, worker) and the bare app, until the end."""
    server = RedisServer(tmp / "redis", appendfsync=args.appendfsync).start()
    workflows = bench_workflows(tmp / "workflows")
    env = {"HUB_LOG_LEVEL": args.log_level, **quota_env(10**7, 60)}
    procs = HubProcesses(server.url, tmp, workflows=tmp / "workflows", extra_env=env)
    children: list[subprocess.Popen[bytes]] = []
    try:
        procs.start_sandbox()
        procs.start_ingress()
        procs.start_worker(concurrency=args.concurrency)
        bare_url = with_db(server.url, BARE_DB)
        port = free_port()
        for name, extra in (("bare-worker", str(args.concurrency)), ("bare-ingress", str(port))):
            log = (tmp / f"{name}.log").open("ab")
            command = [sys.executable, __file__, name, bare_url, extra]
            children.append(
                subprocess.Popen(command, env=procs.env(), stdout=log, stderr=subprocess.STDOUT)
            )
        worker_log = tmp / "bare-worker.log"
        wait_for(lambda: b"ready." in worker_log.read_bytes(), 60, "the bare worker")
        wait_for(lambda: _answers(port), 30, "the bare ingress")
        hub = HubSide(
            "hub",
            server.url,
            with_db(server.url, HUB_STAGING_DB),
            f"{procs.ingress_url}/hooks/crm",
            create_celery(Settings(hub_redis_url=server.url)),
            procs.sandbox_url,
            signed=True,
        )
        hub.workflows = workflows
        WorkflowStore(hub.client).publish(list(workflows.values()))
        bare = BareSide(
            "bare",
            bare_url,
            with_db(server.url, BARE_STAGING_DB),
            f"http://127.0.0.1:{port}/hooks/crm",
            bare_celery(bare_url),
            procs.sandbox_url,
            signed=False,
        )
        yield hub, bare
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(15)
        procs.stop()
        server.stop()


def _answers(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
        return True
    except httpx.HTTPError:
        return False


def ms(seconds: float) -> str:
    return f"{seconds * 1000:6.1f} ms"


def turns(sides: tuple[Side, ...], rounds: int) -> Iterator[tuple[int, Side]]:
    """Each side once a round, in mirrored order (A B, B A, ...)."""
    for n in range(rounds):
        for side in sides if n % 2 == 0 else tuple(reversed(sides)):
            yield n, side


def between_phases() -> None:
    """The bench's own garbage collection, while nothing is timed: it is off while the
    bench sends and waits (:func:`measure`), since a pause of the sender (a full
    collection takes about 30 ms) would be counted as the side's latency."""
    gc.collect()


def measure(sides: tuple[HubSide, BareSide], args: argparse.Namespace) -> dict[str, Any]:
    gc.disable()  # see between_phases
    try:
        return _measure(sides, args)
    finally:
        gc.enable()


def _measure(sides: tuple[HubSide, BareSide], args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {
        side.label: {"e2e": [], "steady": [], "chain": [], "drain": []} for side in sides
    }
    # the peaks first, a burst each round: both sides then run at half the hub's median
    # peak (one burst of about a second can read a fifth high or low)
    peaks: dict[str, list[float]] = {side.label: [] for side in sides}
    for n, side in turns(sides, args.rounds):
        fresh_sandbox((side,), f"p{n}")  # each figure from an empty sandbox: see there
        peaks[side.label].append(peak(side, args, f"r{n}"))
    rate = statistics.median(peaks["hub"]) / 2
    for n in range(args.rounds):
        for side in sides if n % 2 == 0 else tuple(reversed(sides)):
            fresh_sandbox((side,), f"h{n}")
            latencies = at_rate(side, rate, args, f"r{n}")
            figures[side.label]["e2e"].append(E2E(peaks[side.label][n], rate, latencies))
            fresh_sandbox((side,), f"s{n}")
            figures[side.label]["steady"] += at_rate(side, args.rate, args, f"s{n}")
    for n, side in turns(sides, args.rounds):
        between_phases()
        figures[side.label]["chain"] += chains(side, args.chains, f"c{n}")
    for n, side in turns(sides, args.rounds):
        between_phases()
        figures[side.label]["drain"].append(drain(side, args.drain, f"d{n}"))
    return figures


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    for label, got in figures.items():
        runs: list[E2E] = got["e2e"]
        latencies = [x for run in runs for x in run.latencies]
        peaks = ", ".join(f"{run.peak:.0f}" for run in runs)
        rate = runs[0].rate
        print(
            f"{label:<5} e2e at {rate:.0f} contacts/s (half the hub's median peak; own peaks "
            f"{peaks}): "
            f"p50 {ms(percentile(latencies, 0.5))}  p99 {ms(percentile(latencies, 0.99))}"
            f"  ({len(latencies)} contacts)"
        )
        steady = got["steady"]
        print(
            f"{label:<5} e2e at {args.rate:g} contacts/s: p50 {ms(percentile(steady, 0.5))}  "
            f"p99 {ms(percentile(steady, 0.99))}  ({len(steady)} contacts)"
        )
        chain_times = got["chain"]
        print(
            f"{label:<5} 5-step chain, idle worker: p50 {ms(percentile(chain_times, 0.5))}"
            f"  p99 {ms(percentile(chain_times, 0.99))}  ({len(chain_times)} chains)"
        )
        rates = ", ".join(f"{rate:.0f}" for rate in got["drain"])
        print(f"{label:<5} drain: {statistics.median(got['drain']):6.0f} runs/s ({rates})")
    hub, bare = figures["hub"], figures["bare"]
    ratio = statistics.median(hub["drain"]) / statistics.median(bare["drain"])
    hub_e2e = [x for run in hub["e2e"] for x in run.latencies]
    print(
        f"hub: e2e p50 {ms(percentile(hub_e2e, 0.5)).strip()}, p99 "
        f"{ms(percentile(hub_e2e, 0.99)).strip()} (goals <= 15 ms, <= 60 ms); chain p50 "
        f"{ms(percentile(hub['chain'], 0.5)).strip()} (goal <= 40 ms); drain {ratio:.2f}x "
        "the bare app's (goal >= 0.8x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes a side")
    parser.add_argument("--rounds", type=int, default=3, help="turns of each side per figure")
    parser.add_argument("--burst", type=int, default=200, help="contacts sent for the peak")
    parser.add_argument("--seconds", type=float, default=10.0, help="at each rate, per round")
    parser.add_argument(
        "--rate", type=float, default=5.0, help="a steady rate too (the issue's: 5 a second)"
    )
    parser.add_argument("--chains", type=int, default=40, help="5-step chains per round")
    parser.add_argument("--drain", type=int, default=1000, help="runs queued per round")
    parser.add_argument("--appendfsync", choices=["always", "everysec"], default="always")
    parser.add_argument("--log-level", default="INFO", help="of every process (as deployed)")
    parser.add_argument("--quick", action="store_true", help="tiny counts: that it works")
    parser.add_argument("--keep", action="store_true", help="keep the logs")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.burst, args.seconds, args.chains, args.drain = 1, 10, 1.0, 3, 50
    print(
        f"worker concurrency {args.concurrency}, {args.rounds} round(s), Redis appendfsync "
        f"{args.appendfsync}, log level {args.log_level}; {os.cpu_count()} CPUs, load "
        f"average {os.getloadavg()[0]:.1f} at start",
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="hub-latency-"))
    with started(args, tmp) as sides:
        figures = measure(sides, args)
    report(figures, args)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    if args.keep:
        print(f"logs: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "bare-worker":
        bare_worker(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "bare-ingress":
        bare_ingress(sys.argv[2], int(sys.argv[3]))
    else:
        main()
