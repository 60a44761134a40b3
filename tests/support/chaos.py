"""The chaos run: events through the ingress while the hub is being broken, then a count.

Real processes on loopback: Redis (AOF on), the Plutio sandbox, the ingress and Celery
workers, running the sample ``crm-contact-to-plutio-person`` workflow. While events are
sent (through the ingress, retried on 503, 409 and connection errors as a sender does):

- a worker is SIGKILLed (main process and pool) every ``kill_every`` seconds and started
  again;
- Redis is stopped (SIGTERM, which flushes the AOF) once and started again on the same
  port and data folder;
- the sandbox answers ``error_rate`` of all calls with 500, bursts of 429 with
  ``Retry-After``, and slow answers (latency spread over ``latency_ms``);
- every ``refused_every``-th event has an email the sandbox refuses with 400: those are
  designed to fail and must end as dead letters.

Then, per event, the sandbox must hold exactly one person with its email, or the event
must be in the dead-letter store; nothing else. With ``replay``, the refusal is lifted
(the fault fixed), ``hub dlq replay --all`` is run, and each refused event must then be
upstream exactly once too.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from hub.core.redis_server import RedisServer
from hub.history.dead_letters import DeadLetterFilter, DeadLetterStore
from hub.worker.queues import STEP_QUEUES
from tests.support.processes import ROOT, HubProcesses
from tests.support.signing import crm_delivery

__all__ = ["ChaosConfig", "ChaosReport", "run_chaos"]

WORKFLOW = ROOT / "workflows" / "crm-contact-to-plutio-person.yaml"
REFUSED_DOMAIN = "refused.example"


@dataclass
class ChaosConfig:
    """What the run does; the defaults are the short run CI makes."""

    events: int = 300
    refused_every: int = 20
    send_rate: float = 25.0
    senders: int = 24  # each waits for Redis to fsync its event (up to a second)
    workers: int = 2
    concurrency: int = 4
    kill_every: float = 3.0
    redis_restart_at: float = 0.5  # a fraction of the sending time
    redis_down_seconds: float = 2.0
    error_rate: float = 0.3
    latency_ms: tuple[float, float] = (2.0, 150.0)
    storm_every: float = 10.0
    storm_calls: int = 30
    settle_seconds: float = 240.0
    replay: bool = True
    seed: int = 7
    #: more settings for every hub process (secrets and credentials, say)
    extra_env: dict[str, str] = field(default_factory=dict)
    #: also run Flower, with this login (user:password)
    flower_login: str | None = None


@dataclass
class ChaosReport:
    """What happened, and the count per event."""

    events: int = 0
    accepted: int = 0
    not_accepted: int = 0
    once: int = 0
    lost: int = 0
    duplicated: int = 0
    dead_lettered: int = 0
    designed_to_fail: int = 0
    dead_not_designed: int = 0
    designed_not_dead: int = 0
    dead_and_upstream: int = 0
    kills: int = 0
    redis_restarts: int = 0
    storms: int = 0
    ingress_retries: int = 0
    send_seconds: float = 0.0
    settle_seconds: float = 0.0
    settled: bool = False
    replayed: int = 0
    replay_once: int = 0
    replay_missing: int = 0
    replay_duplicated: int = 0
    replay_seconds: float = 0.0
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing twice, only the designed events dead, replays once."""
        clean = (
            self.settled
            and self.accepted == self.events
            and self.lost == self.duplicated == self.dead_and_upstream == 0
            and self.dead_not_designed == self.designed_not_dead == 0
            and self.dead_lettered == self.designed_to_fail
        )
        replay = self.replay_missing == self.replay_duplicated == 0
        return clean and replay

    def lines(self) -> list[str]:
        return [
            f"events {self.events}: accepted {self.accepted} (ingress retries "
            f"{self.ingress_retries}), not accepted {self.not_accepted}",
            f"faults: {self.kills} worker kills, {self.redis_restarts} Redis restart(s), "
            f"{self.storms} 429 bursts",
            f"upstream once {self.once}, lost {self.lost}, duplicated {self.duplicated}, "
            f"dead-lettered {self.dead_lettered} (designed to fail {self.designed_to_fail}; "
            f"dead but not designed {self.dead_not_designed}, designed but not dead "
            f"{self.designed_not_dead}, dead and upstream {self.dead_and_upstream})",
            f"timing: sent in {self.send_seconds:.1f} s, settled "
            f"{'in' if self.settled else 'NOT within'} {self.settle_seconds:.1f} s more",
            f"replay after the fix: {self.replayed} replayed, upstream once "
            f"{self.replay_once}, missing {self.replay_missing}, duplicated "
            f"{self.replay_duplicated} ({self.replay_seconds:.1f} s)",
            "RESULT " + json.dumps({k: v for k, v in asdict(self).items() if k != "examples"}),
        ]


def _email(config: ChaosConfig, n: int) -> str:
    refused = config.refused_every and n % config.refused_every == 0
    return f"c{n}@{REFUSED_DOMAIN}" if refused else f"c{n}@example.com"


def _in_flight(client: redis.Redis) -> int:
    """Messages queued or taken and not acknowledged yet."""
    return sum(client.llen(q) for q in STEP_QUEUES) + client.hlen("unacked")


class _Hub:
    """The processes, the fault driver and the sender of one run."""

    def __init__(self, config: ChaosConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.rng = random.Random(config.seed)
        self.redis_server = RedisServer(workdir / "redis", appendonly=True)
        folder = workdir / "workflows"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(WORKFLOW, folder / WORKFLOW.name)
        shutil.copytree(ROOT / "workflows" / "sources", folder / "sources", dirs_exist_ok=True)
        (workdir / "logs").mkdir(exist_ok=True)
        self.procs: HubProcesses | None = None
        self.lock = threading.Lock()
        self.stop_faults = threading.Event()
        self.finished = threading.Event()
        self.report = ChaosReport(events=config.events)
        self.accepted: dict[str, str] = {}  # event id -> email

    # --- processes ------------------------------------------------------------------

    def start(self) -> HubProcesses:
        self.redis_server.start()
        env = {
            "HUB_VISIBILITY_TIMEOUT_SECONDS": "10",
            "HUB_RETRY_BASE_SECONDS": "0.05",
            "HUB_RETRY_CAP_SECONDS": "1",
            "HUB_STEP_MAX_ATTEMPTS": "25",
            "HUB_LOG_LEVEL": "WARNING",
            "HUB_INGRESS_FSYNC": "always",  # 202 only once the event is in the AOF on disk
            # a killed task's place in a quota waiting room is given up after this
            "HUB_QUOTA_TICKET_GRACE_SECONDS": "1",
            # well above what the run needs, yet small: after a 429 the quota fills its log
            # with one placeholder per call of the limit (hub.http.quota_scripts SETTLE)
            "PLUTIO_QUOTA_LIMIT": "3000",
            "PLUTIO_QUOTA_WINDOW_SECONDS": "10",
            "PLUTIO_TIMEOUT_SECONDS": "3",
            "PLUTIO_SANDBOX_QUOTA_LIMIT": "1000000",
            "PLUTIO_SANDBOX_RANDOM_SEED": str(self.config.seed),
            **self.config.extra_env,
        }
        if self.config.flower_login:
            env["HUB_FLOWER_BASIC_AUTH"] = self.config.flower_login
        procs = HubProcesses(
            redis_url=self.redis_server.url,
            log_dir=self.workdir / "logs",
            workflows=self.workdir / "workflows",
            extra_env=env,
        )
        self.procs = procs
        procs.start_sandbox()
        procs.start_ingress()
        if self.config.flower_login:
            procs.start_flower()
        for n in range(self.config.workers):
            procs.start_worker(f"worker{n}", self.config.concurrency, wait=False)
        low, high = self.config.latency_ms
        faults = {
            "error_rate": self.config.error_rate,
            "error_statuses": [500],
            "latency_ms": low,
            "latency_max_ms": high,
            "scripts": [self._refusal()],
        }
        httpx.post(f"{procs.sandbox_url}/_sandbox/faults", json=faults).raise_for_status()
        return procs

    @staticmethod
    def _refusal() -> dict[str, Any]:
        """Every lookup of a refused email answers 400, until the rule is lifted."""
        body = {"code": 400, "message": "contactEmails.address: this domain is refused"}
        return {
            "method": "GET",
            "path": "/people",
            "query": f"*{REFUSED_DOMAIN}*",
            "repeat": True,
            "answers": [{"status": 400, "body": body}],
        }

    def stop(self) -> None:
        with self.lock:
            self.finished.set()
            if self.procs is not None:
                self.procs.stop()
        self.redis_server.stop()

    # --- faults ---------------------------------------------------------------------

    def supervise(self) -> None:
        """Start again every worker that is not running (killed, or exited while Redis
        was down), until the run ends."""
        assert self.procs is not None
        while not self.finished.wait(0.3):
            with self.lock:
                if self.finished.is_set():
                    return
                for n in range(self.config.workers):
                    name = f"worker{n}"
                    if self.procs.procs[name].poll() is not None:
                        self.procs.start_worker(name, self.config.concurrency, wait=False)

    def break_things(self, send_estimate: float) -> None:
        assert self.procs is not None
        started = time.monotonic()
        next_kill = started + self.config.kill_every
        next_storm = started + self.config.storm_every / 2
        restart_at = started + send_estimate * self.config.redis_restart_at
        victim = 0
        while not self.stop_faults.wait(0.1):
            now = time.monotonic()
            if now >= next_kill:
                with self.lock:
                    self.procs.kill(f"worker{victim % self.config.workers}")
                victim += 1
                self.report.kills += 1
                next_kill = now + self.config.kill_every
            if now >= next_storm:
                storm = {"storm": {"count": self.config.storm_calls, "retry_after": 1}}
                try:
                    httpx.post(f"{self.procs.sandbox_url}/_sandbox/faults", json=storm)
                    self.report.storms += 1
                except httpx.HTTPError:
                    pass
                next_storm = now + self.config.storm_every
            if self.report.redis_restarts == 0 and now >= restart_at:
                self.redis_server.stop()
                time.sleep(self.config.redis_down_seconds)
                self.redis_server.start(timeout=30)
                self.report.redis_restarts += 1

    # --- sending --------------------------------------------------------------------

    def send(self, n: int, client: httpx.Client, deadline: float) -> None:
        assert self.procs is not None
        event_id, email = f"chaos-{n}", _email(self.config, n)
        body = {
            "id": event_id,
            "type": "contact.created",
            "data": {"first_name": "Chaos", "last_name": str(n), "email": email},
        }
        while time.monotonic() < deadline:
            try:
                answer = client.post(  # signed again on every try, as a sender does
                    f"{self.procs.ingress_url}/hooks/crm",
                    **crm_delivery(body, event_id, **{"X-Event-Type": "contact.created"}),
                )
                if answer.status_code in (200, 202):
                    with self.lock:
                        self.accepted[event_id] = email
                    return
                if answer.status_code not in (409, 429) and answer.status_code < 500:
                    self.report.examples.setdefault("refused by ingress", []).append(
                        f"{event_id}: {answer.status_code} {answer.text[:200]}"
                    )
                    return
            except httpx.HTTPError:
                pass
            with self.lock:
                self.report.ingress_retries += 1
            time.sleep(0.2 + self.rng.random() * 0.6)

    def send_all(self) -> None:
        config = self.config
        start = time.monotonic()
        deadline = start + config.events / config.send_rate + 120

        def one(n: int) -> None:
            due = start + n / config.send_rate
            time.sleep(max(0.0, due - time.monotonic()))
            with httpx.Client(timeout=10) as client:
                self.send(n, client, deadline)

        with ThreadPoolExecutor(config.senders) as pool:
            list(pool.map(one, range(1, config.events + 1)))
        self.report.send_seconds = time.monotonic() - start
        self.report.accepted = len(self.accepted)
        self.report.not_accepted = config.events - len(self.accepted)

    # --- counting -------------------------------------------------------------------

    def people(self) -> Counter[str]:
        assert self.procs is not None
        records = httpx.get(f"{self.procs.sandbox_url}/_sandbox/state/people", timeout=30).json()
        return Counter(
            e["address"] for p in records for e in p.get("contactEmails", []) if "address" in e
        )

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_server.url)

    def dead(self, client: redis.Redis, status: Any = None) -> dict[str, dict[str, Any]]:
        letters = DeadLetterStore(client).find(DeadLetterFilter(status=status))
        return {d.event_id: d.error for d in letters}

    def settle(self) -> None:
        """Wait until every accepted event is upstream or dead and nothing is in flight."""
        client = self.client()
        start = time.monotonic()
        quiet = 0
        while time.monotonic() - start < self.config.settle_seconds:
            people, dead = self.people(), self.dead(client)
            resolved = all(people[e] >= 1 or i in dead for i, e in self.accepted.items())
            in_flight = _in_flight(client)
            quiet = quiet + 1 if resolved and in_flight == 0 else 0
            if quiet >= 2:
                self.report.settled = True
                break
            time.sleep(2)
        self.report.settle_seconds = time.monotonic() - start
        self.count(self.people(), self.dead(client))

    def count(self, people: Counter[str], dead: dict[str, dict[str, Any]]) -> None:
        r = self.report
        for event_id, email in sorted(self.accepted.items()):
            designed = email.endswith(REFUSED_DOMAIN)
            r.designed_to_fail += designed
            upstream, is_dead = people[email], event_id in dead
            if upstream > 1:
                r.duplicated += 1
                r.examples.setdefault("duplicated", []).append(f"{event_id}: {upstream}")
            if is_dead and upstream:
                r.dead_and_upstream += 1
            if upstream == 1 and not is_dead:
                r.once += 1
            if is_dead:
                r.dead_lettered += 1
                if not designed:
                    r.dead_not_designed += 1
                    r.examples.setdefault("dead, not designed", []).append(
                        f"{event_id}: {dead[event_id].get('message', '')[:160]}"
                    )
                elif dead[event_id].get("status") != 400:
                    r.examples.setdefault("designed, other error", []).append(event_id)
            elif designed:
                r.designed_not_dead += 1
            if not upstream and not is_dead:
                r.lost += 1
                r.examples.setdefault("lost", []).append(event_id)
        r.examples = {k: v[:10] for k, v in r.examples.items()}

    def replay(self) -> None:
        """Lift the refusal (the fault is fixed), replay every dead letter, count again."""
        assert self.procs is not None
        r = self.report
        start = time.monotonic()
        lifted: dict[str, list[str]] = {"scripts": []}
        httpx.post(f"{self.procs.sandbox_url}/_sandbox/faults", json=lifted).raise_for_status()
        result = subprocess.run(
            [sys.executable, "-m", "hub", "dlq", "replay", "--all"],
            cwd=ROOT,
            env={**os.environ, **self.procs.env()},
            capture_output=True,
            text=True,
            timeout=300,
        )
        summary = re.search(r"(\d+) replayed, (\d+) not replayed", result.stdout)
        r.replayed = int(summary[1]) if summary else 0
        if result.returncode != 0 or not summary:
            r.examples["replay command"] = [result.stdout[-500:], result.stderr[-500:]]
        refused = {i: e for i, e in self.accepted.items() if e.endswith(REFUSED_DOMAIN)}
        client = self.client()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            people = self.people()
            pending = self.dead(client, status="dead")
            resolved = all(people[e] >= 1 or i in pending for i, e in refused.items())
            if resolved and _in_flight(client) == 0:
                break
            time.sleep(1)
        people = self.people()
        r.replay_once = sum(1 for e in refused.values() if people[e] == 1)
        r.replay_missing = sum(1 for e in refused.values() if people[e] == 0)
        r.replay_duplicated = sum(1 for e in refused.values() if people[e] > 1)
        r.replay_seconds = time.monotonic() - start


def run_chaos(
    config: ChaosConfig,
    workdir: Path,
    before_stop: Callable[[HubProcesses], None] | None = None,
) -> ChaosReport:
    """Run the chaos scenario in ``workdir`` (logs under ``workdir/logs``); the report.

    ``before_stop`` is called with the hub's processes once the run has settled (and
    replayed), while they still run."""
    hub = _Hub(config, workdir)
    try:
        hub.start()
        threads = [
            threading.Thread(target=hub.supervise, daemon=True),
            threading.Thread(
                target=hub.break_things, args=(config.events / config.send_rate,), daemon=True
            ),
        ]
        for thread in threads:
            thread.start()
        hub.send_all()
        hub.stop_faults.set()  # the workers killed last are started again by supervise
        threads[1].join(60)
        hub.settle()
        if config.replay and hub.report.settled:
            hub.replay()
        if before_stop is not None and hub.procs is not None:
            before_stop(hub.procs)
        return hub.report
    finally:
        hub.stop_faults.set()
        hub.stop()
