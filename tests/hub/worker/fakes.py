"""A scriptable test connector ``t`` and a local hub (queue, worker, flow) around it."""

from __future__ import annotations

import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from textwrap import dedent
from typing import Any

import redis
from pydantic import BaseModel, ConfigDict

from hub.connector.declaration import AnyOperation, Connector, Operation
from hub.connector.registry import get_operation
from hub.core.errors import ConfigError
from hub.core.settings import ConnectorSettings, Settings
from hub.history.runs import RunRecord, RunStore
from hub.sandbox.clock import FakeClock
from hub.testing.broker import LocalQueue, LocalWorker
from hub.worker.celery_app import create_celery
from hub.worker.flow import Flow
from hub.worker.runtime import Runtime
from hub.workflow.compiler import compile_run
from hub.workflow.context import new_context
from hub.workflow.loader import load_workflow_text
from hub.workflow.model import Workflow


class Do(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    value: Any = None


class FakeApi:
    """Records calls; ``script[key]`` lists what the next calls for ``key`` do: an
    exception to raise, or None to answer normally."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.script: dict[str, deque[BaseException | None]] = defaultdict(deque)

    def do(self, args: Do) -> dict[str, Any]:
        self.calls.append((args.key, args.value))
        outcomes = self.script.get(args.key)
        if outcomes:
            outcome = outcomes.popleft()
            if outcome is not None:
                raise outcome
        return {"key": args.key, "value": args.value}

    def keys(self) -> list[str]:
        return [key for key, _ in self.calls]


T = Connector(
    name="t",
    operations={"do": Operation("do", Do, lambda api, args: api.do(args))},
    settings=ConnectorSettings,
    build=lambda settings, hub, redis, transport=None, now=None: None,
)


def lookup(uses: str) -> tuple[Connector[Any], AnyOperation]:
    """``t.*`` here, everything else (``core.*``) from the registry."""
    if uses.startswith("t."):
        op = T.operations.get(uses[2:])
        if op is None:
            raise ConfigError(f"unknown operation '{uses}'")
        return T, op
    return get_operation(uses)


@dataclass
class LocalHub:
    """Workflows run through the real Flow on an in-memory queue and a real Redis."""

    redis: redis.Redis
    settings: Settings = field(default_factory=lambda: Settings(hub_step_max_attempts=3))
    api: FakeApi = field(default_factory=FakeApi)
    clock: FakeClock = field(default_factory=FakeClock)
    finished: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.app = create_celery(self.settings)
        self.runtime = Runtime(
            self.settings, self.redis, lookup=lookup, apis={"t": self.api}, rng=lambda: 0.5
        )
        self.runs = RunStore(self.redis, clock=lambda: self.clock.now().timestamp())
        self.flow = Flow(self.runtime, self.runs, on_finished=self._finished)
        self.queue = LocalQueue(self.clock)
        self.worker = LocalWorker(self.flow, self.queue, self.app, {})

    def _finished(self, run_id: str, status: str, ctx: dict[str, Any]) -> None:
        self.finished[run_id] = (status, ctx)

    def load(self, text: str) -> Workflow:
        wf = load_workflow_text(dedent(text), "wf.yaml", lookup=lookup)
        self.worker.workflows[wf.revision] = wf
        return wf

    def start(self, wf: Workflow, event: Any) -> str:
        run_id = uuid.uuid4().hex
        ctx = new_context(event=event, event_id="e1", source="src", event_type="x", run_id=run_id)
        self.queue.send(compile_run(self.app, wf, ctx, event_id="e1", run_id=run_id))
        return run_id

    def run(self, wf: Workflow, event: Any = None) -> tuple[str, RunRecord]:
        run_id = self.start(wf, event if event is not None else {})
        self.worker.drain()
        record = self.runs.get(run_id)
        assert record is not None
        return run_id, record

    def ctx(self, run_id: str) -> dict[str, Any]:
        return self.finished[run_id][1]
