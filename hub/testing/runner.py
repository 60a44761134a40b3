"""Running workflow test cases offline: sandboxes, a fake clock, the real step flow.

Each case starts clean (Redis flushed, sandboxes reset, then ``given`` applied), sends
its events one after the other, runs every task they lead to with
:class:`~hub.testing.broker.LocalWorker` (the worker's own :class:`~hub.worker.flow.Flow`
and :func:`~hub.worker.runtime.execute_step`; retries and quota waits move the fake
clock instead of sleeping), then checks ``expect``. Nothing leaves the machine: the
connectors talk to their sandboxes on loopback, and read wall time (token expiry,
rate-limit resets, export dates) on the same fake clock the sandboxes answer on.
"""

from __future__ import annotations

import random
import re
import ssl
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import httpx
import redis

from hub.connector.configure import from_values
from hub.connector.declaration import Connector
from hub.connector.registry import get_connector
from hub.core.env_settings import isolated
from hub.core.errors import TemplateError
from hub.core.settings import Settings
from hub.history.runs import RunStore
from hub.http.client import ApiClient
from hub.http.quota import Unlimited
from hub.intake.routing import json_path
from hub.sandbox.clock import FakeClock
from hub.sandbox.declaration import Sandbox
from hub.testing.broker import LocalQueue, LocalWorker, StuckRun
from hub.testing.expect import Outcome, check
from hub.testing.sandboxes import RunningSandboxes
from hub.testing.spec import Case, EventSpec, LoadedSpec
from hub.worker.celery_app import create_celery
from hub.worker.flow import Flow
from hub.worker.runtime import Runtime, new_context
from hub.workflow.compiler import compile_run
from hub.workflow.model import Workflow
from hub.workflow.templates import truthy

__all__ = ["CaseResult", "WorkflowTester", "upstreams"]

_GLOB = re.compile(r"[*?\[]")


class OfflineRuntime(Runtime):
    """The worker's runtime with the hub's own quota left out.

    The quota runs on the Redis server's clock, which the tests' fake clock cannot move;
    upstream 429s and their ``Retry-After`` are still answered and honoured as backoff.
    """

    def api(self, connector: Connector[Any] | str) -> Any:
        api = super().api(connector)
        client = getattr(api, "client", None)
        if isinstance(client, ApiClient):
            client.quota = Unlimited()
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
    connector's upstream (default: each installed connector's own). Settings, the hub's
    and the connectors', come from the test file and the sandboxes alone: the
    environment and ``.env`` are not read, so a test gives the same result on every
    machine.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        seed: int = 0,
        transport: Callable[[], httpx.BaseTransport] | None = None,
        sandboxes: Mapping[str, Sandbox[Any]] | None = None,
    ) -> None:
        self.redis = redis_client
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
        for index, case in enumerate(loaded.spec.cases):
            try:
                failures = self._run_case(loaded, case)
            except StuckRun as exc:
                failures = [f"the run did not finish: {exc}"]
            yield CaseResult(loaded.path, case.name, loaded.case_line(index), failures)

    def _run_case(self, loaded: LoadedSpec, case: Case) -> list[str]:
        wf, spec = loaded.workflow, loaded.spec
        self.redis.flushdb()
        connectors = upstreams(wf) | set(case.given.sandboxes())
        for name in sorted(connectors):
            self.sandboxes.core(name).reset()
        for name, given in case.given.sandboxes().items():
            self.sandboxes.seed(name, given.records())
            if given.faults is not None:
                self.sandboxes.core(name).faults.set(given.faults.model_dump(exclude_unset=True))
        settings = isolated(
            Settings,
            {
                **spec.settings,
                **case.given.settings,
                "HUB_SECRETS": {**spec.secrets, **case.given.secrets},
            },
        )
        connector_settings = from_values(self.sandboxes.env(sorted(connectors)))
        with ExitStack() as transports:
            runtime = OfflineRuntime(
                settings,
                self.redis,
                rng=random.Random(self.seed).random,
                transport=lambda connector: transports.enter_context(self._new_transport()),
                now=self._wall_time,
                connector_settings=connector_settings,
            )
            outcome, failures = self._send_all(wf, case, runtime)
        for name in sorted(connectors):
            outcome.state[name] = self.sandboxes.state(name)
            outcome.calls[name] = self.sandboxes.core(name).calls.records()
        return failures + check(case.expect, outcome)

    def _send_all(self, wf: Workflow, case: Case, runtime: Runtime) -> tuple[Outcome, list[str]]:
        """Send the case's events in turn: the last one's outcome, and the problems."""
        settings = runtime.settings
        runs = RunStore(self.redis, clock=self._wall_time)
        finished: dict[str, dict[str, Any]] = {}

        def on_finished(run_id: str, status: str, ctx: dict[str, Any]) -> None:
            finished[run_id] = ctx

        flow = Flow(runtime, runs, on_finished=on_finished)
        worker = LocalWorker(flow, LocalQueue(self.clock), self.app, {wf.revision: wf})
        failures: list[str] = []
        outcome = Outcome(status="skipped")
        for number, event in enumerate(case.all_events(), start=1):
            outcome, problem = self._send(wf, event, number, settings, worker, runs, finished)
            if problem:
                failures.append(problem)
        return outcome, failures

    def _send(
        self,
        wf: Workflow,
        event: EventSpec,
        number: int,
        settings: Settings,
        worker: LocalWorker,
        runs: RunStore,
        finished: dict[str, dict[str, Any]],
    ) -> tuple[Outcome, str | None]:
        headers = {k.lower(): v for k, v in event.headers.items()}
        hook = wf.webhook
        source = event.source or (hook.source if hook else "test")
        event_type = (
            event.type
            or headers.get("x-event-type")
            or json_path(event.body, settings.hub_event_type_path)
            or (hook.event if hook and not _GLOB.search(hook.event) else None)
        )
        if not isinstance(event_type, str) or not event_type:
            why = f"event {number}: give its type ('type', an X-Event-Type header or a body field)"
            return Outcome(status="skipped", reason=why), why
        event_id = str(
            event.id
            or headers.get("x-event-id")
            or headers.get("webhook-id")
            or json_path(event.body, settings.hub_event_id_path)
            or f"test-event-{number}"
        )
        if hook is not None and not wf.matches(source, event_type):
            mismatch = f"the trigger does not match {source}/{event_type}"
            return Outcome(status="skipped", reason=mismatch), None
        run_id = uuid.uuid4().hex
        reason = _filtered_out(wf, event.body)
        if reason is not None:
            runs.skipped(
                run_id, workflow=wf.name, revision=wf.revision, event_id=event_id, reason=reason
            )
            return Outcome(status="skipped", record=runs.get(run_id), reason=reason), None
        ctx = new_context(
            event=event.body,
            event_id=event_id,
            source=source,
            event_type=event_type,
            run_id=run_id,
        )
        worker.queue.send(compile_run(self.app, wf, ctx, event_id=event_id, run_id=run_id))
        worker.drain()
        return _outcome(run_id, worker, runs, finished), None


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


def _filtered_out(wf: Workflow, body: Any) -> str | None:
    """Why the workflow's ``if`` keeps this event out (as the ingress decides), or None."""
    if wf.if_ is None:
        return None
    where = f"workflow '{wf.name}' field 'if'"
    try:
        return None if truthy(wf.if_, {"event": body}, where=where) else "if: false"
    except TemplateError as exc:
        return f"if: {exc}"
