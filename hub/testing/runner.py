"""Running workflow test cases offline: sandboxes, a fake clock, the real step flow.

Each case starts clean (Redis flushed, sandboxes reset, then ``given`` applied), sends
its events one after the other through the production intake (signed and read as the
source files say, deduped, routed: :mod:`hub.testing.deliveries`; a batch's events one
after the other), runs every task
they lead to with :class:`~hub.testing.broker.LocalWorker` (the worker's own
:class:`~hub.worker.flow.Flow` and :func:`~hub.worker.runtime.execute_step`; retries and
quota waits move the fake clock instead of sleeping), then checks ``expect``. Nothing
leaves the machine: the connectors talk to their sandboxes on loopback, and read wall
time (token expiry, rate-limit resets, export dates) on the same fake clock the
sandboxes answer on.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import redis

from hub.connector import Connector, from_values, get_connector
from hub.core import ConfigError, Settings, isolated
from hub.history import RunStore
from hub.http import ApiClient, NoBreaker, Unlimited
from hub.intake import Intake, PlannedRun, SourceError
from hub.sandbox import FakeClock, Sandbox
from hub.testing.broker import LocalQueue, LocalWorker, StuckRun
from hub.testing.deliveries import CaseIntake, CaseSources
from hub.testing.expect import Outcome, check
from hub.testing.sandboxes import RunningSandboxes
from hub.testing.spec import Case, LoadedSpec
from hub.worker import Flow, Runtime, create_celery
from hub.workflow import Workflow, compile_run

__all__ = ["CaseResult", "WorkflowTester", "upstreams"]


class OfflineRuntime(Runtime):
    """The worker's runtime with the hub's own quota left out.

    The quota (and the circuit breaker) run on the Redis server's clock, which the
    tests' fake clock cannot move; upstream 429s and their ``Retry-After`` are still
    answered and honoured as backoff.
    """

    def api(self, connector: Connector[Any] | str) -> Any:
        api = super().api(connector)
        client = getattr(api, "client", None)
        if isinstance(client, ApiClient):
            client.quota = Unlimited()
            client.breaker = NoBreaker()
        return api


@dataclass(frozen=True)
class CaseResult:
    """One case: where it is and what failed (nothing when it passed)."""

    file: str
    name: str
    line: int
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


class WorkflowTester:
    """Runs cases against one Redis (flushed per case) and the sandboxes.

    Each case builds its own connector clients (cookies, auth and connections are the
    case's alone) on transports from ``transport``, closed when the case ends; the
    default transports share the run's one TLS context, so the CA bundle is loaded once
    a run instead of once a client. ``sandboxes`` says which sandbox plays each
    connector's upstream (default: each installed connector's own). ``sources`` are the
    source files events are sent through (default: the ``sources`` folder next to each
    test file). Settings, the hub's and the connectors', come from the test file and the
    sandboxes alone: the environment and ``.env`` are not read, so a test gives the same
    result on every machine.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        seed: int = 0,
        transport: Callable[[], httpx.BaseTransport] | None = None,
        sandboxes: Mapping[str, Sandbox[Any]] | None = None,
        sources: CaseSources | None = None,
    ) -> None:
        self.redis = redis_client
        self.sources = sources
        self.seed = seed
        self.clock = FakeClock()
        self.sandboxes = RunningSandboxes(self.clock, seed=seed, kinds=sandboxes)
        self.app = create_celery(isolated(Settings, {}))  # builds signatures; never connects
        self._new_transport = transport or self._tls_transport

    @cached_property
    def _tls(self) -> ssl.SSLContext:
        return httpx.create_ssl_context()

    def _tls_transport(self) -> httpx.BaseTransport:
        return httpx.HTTPTransport(verify=self._tls)

    def _wall_time(self) -> float:
        """The fake clock's wall time in epoch seconds: what runs and connectors read."""
        return self.clock.now().timestamp()

    def close(self) -> None:
        self.sandboxes.close()

    def run_spec(self, loaded: LoadedSpec) -> Iterator[CaseResult]:
        sources = self.sources
        for index, case in enumerate(loaded.spec.cases):
            try:
                if sources is None:
                    folder = Path(loaded.path).parent / "sources"
                    sources = CaseSources.load(folder, [loaded.workflow])
                failures = self._run_case(loaded, case, sources)
            except SourceError as exc:
                failures = [f"the source files are invalid:\n{exc}"]
            except StuckRun as exc:
                failures = [f"the run did not finish: {exc}"]
            yield CaseResult(loaded.path, case.name, loaded.case_line(index), failures)

    def _run_case(self, loaded: LoadedSpec, case: Case, sources: CaseSources) -> list[str]:
        wf, spec = loaded.workflow, loaded.spec
        self.redis.flushdb()
        connectors = upstreams(wf) | set(case.given.sandboxes())
        for name in sorted(connectors):
            self.sandboxes.core(name).reset()
        for name, given in case.given.sandboxes().items():
            self.sandboxes.seed(name, given.records())
            if given.faults is not None:
                self.sandboxes.core(name).faults.set(given.faults.model_dump(exclude_unset=True))
        secrets = {**spec.secrets, **case.given.secrets}
        settings = isolated(
            Settings, {**spec.settings, **case.given.settings, "HUB_SECRETS": secrets}
        )
        connector_settings = from_values(self.sandboxes.env(sorted(connectors)))
        try:
            resolved = sources.resolve(settings, secrets)
        except ConfigError as exc:
            return [f"the sources cannot take this case's deliveries: {exc}"]
        with ExitStack() as transports:
            runtime = OfflineRuntime(
                settings,
                self.redis,
                rng=random.Random(self.seed).random,
                transport=lambda connector: transports.enter_context(self._new_transport()),
                now=self._wall_time,
                connector_settings=connector_settings,
            )
            sender = CaseIntake(wf, resolved, Intake([wf], new_id=self._ids()))
            outcome, failures = self._send_all(sender, case, runtime)
        for name in sorted(connectors):
            outcome.state[name] = self.sandboxes.state(name)
            outcome.calls[name] = self.sandboxes.core(name).calls.records()
        return failures + check(case.expect, outcome)

    def _ids(self) -> Callable[[], str]:
        """Run ids, and ids of events sent without one: the same in every run."""
        ids = random.Random(self.seed)
        return lambda: f"{ids.getrandbits(128):032x}"

    def _send_all(
        self, sender: CaseIntake, case: Case, runtime: Runtime
    ) -> tuple[Outcome, list[str]]:
        """Send the case's events in turn: the last one's outcome, and the problems."""
        runs = RunStore(self.redis, clock=self._wall_time)
        finished: dict[str, dict[str, Any]] = {}

        def on_finished(run_id: str, status: str, ctx: dict[str, Any]) -> None:
            finished[run_id] = ctx

        flow = Flow(runtime, runs, on_finished=on_finished)
        wf = sender.wf
        worker = LocalWorker(flow, LocalQueue(self.clock), self.app, {wf.revision: wf})
        failures: list[str] = []
        outcome = Outcome(status="skipped")
        started = 0
        for number, event in enumerate(case.all_events(), start=1):
            planned, problem = sender.plan(event, number, self._wall_time())
            if problem:
                failures.append(problem)
            for item in planned:  # a batch's events in turn
                if isinstance(item, Outcome):
                    outcome = item
                    continue
                outcome = self._run(item.runs[0], worker, runs, finished)
                started += 1
        outcome.started = started
        return outcome, failures

    def _run(
        self,
        run: PlannedRun,
        worker: LocalWorker,
        runs: RunStore,
        finished: dict[str, dict[str, Any]],
    ) -> Outcome:
        """Run one planned run to its end: what it did."""
        run_id, event_id = run.run_id, run.context["event_id"]
        chain = compile_run(self.app, run.workflow, run.context, event_id=event_id, run_id=run_id)
        worker.queue.send(chain)
        worker.drain()
        return _outcome(run_id, worker, runs, finished)


def _outcome(
    run_id: str, worker: LocalWorker, runs: RunStore, finished: Mapping[str, dict[str, Any]]
) -> Outcome:
    """What run ``run_id`` did, once ``worker`` has run every task: its record, its steps'
    results and the countdowns each step was re-scheduled with (retries, quota waits)."""
    record = runs.get(run_id)
    final = finished.get(run_id, {})
    delays = {
        step: list(values) for (rid, step), values in worker.log.delays.items() if rid == run_id
    }
    return Outcome(
        status=record.status if record else "running",
        record=record,
        steps=dict(final.get("steps", {})),
        error=record.error if record else None,
        delays=delays,
    )


def upstreams(wf: Workflow) -> set[str]:
    """Connectors ``wf`` uses that call an upstream (and so need a sandbox)."""
    names = {step.uses.split(".", 1)[0] for _, step in wf.all_steps()}
    return {name for name in names if get_connector(name).upstream}
