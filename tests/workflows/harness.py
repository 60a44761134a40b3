"""Running sample workflows in-process, the worker's way, against connector sandboxes.

The fixture event goes through the intake, as ``hub test`` sends one; then each step
through :func:`hub.worker.runtime.execute_step` (what the ``hub.step`` task runs).
Sandboxes are served on loopback, so connectors make real HTTP calls and keep tokens,
quotas and locks in the real Redis of the test session.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import redis
from starlette.types import ASGIApp

from hub.connector.configure import from_values
from hub.connector.registry import get_connector
from hub.core.settings import Settings
from hub.intake.plan import Intake, Plan
from hub.testing.deliveries import CaseSources, signed_webhook
from hub.testing.spec import EventSpec
from hub.worker.runtime import Runtime, execute_step
from hub.workflow.loader import load_workflow
from hub.workflow.model import Workflow
from tests.support.sandboxes import Served, serve

__all__ = [
    "ROOT",
    "Configured",
    "Sandboxes",
    "begin",
    "event",
    "run",
    "sandbox_settings",
    "served",
    "workflow",
]

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "workflows" / "events"


def workflow(name: str) -> Workflow:
    """The sample workflow ``name``, loaded and validated as the hub loads it."""
    for folder in (ROOT / "workflows",):
        path = folder / f"{name}.yaml"
        if path.exists():
            return load_workflow(path)
    raise FileNotFoundError(name)


def event(workflow_name: str, file: str) -> dict[str, Any]:
    """A fixture event: ``{"source", "headers", "body"}``."""
    loaded: dict[str, Any] = json.loads((EVENTS / workflow_name / file).read_text())
    return loaded


@dataclass
class Sandboxes:
    """The sandboxes served for a test module, by connector name."""

    served: dict[str, Served]

    @property
    def urls(self) -> dict[str, str]:
        return {name: s.url for name, s in self.served.items()}

    def control(self, name: str, method: str, path: str, body: Any = None) -> Any:
        return self.served[name].control(method, path, body)

    def reset(self) -> None:
        for sandbox in self.served.values():
            sandbox.control("POST", "reset")


@contextmanager
def served(apps: Mapping[str, ASGIApp]) -> Iterator[Sandboxes]:
    """Serve each sandbox app on a free loopback port for the block."""
    with ExitStack() as stack:
        yield Sandboxes({name: stack.enter_context(serve(app)) for name, app in apps.items()})


@dataclass(frozen=True)
class Configured:
    """The hub's settings, and the connectors' by environment name."""

    hub: Settings
    env: Mapping[str, Any]

    def but(self, **env: Any) -> Configured:
        """These settings with ``env`` (environment names) changed."""
        return replace(self, env={**self.env, **env})

    def runtime(self, redis_client: redis.Redis) -> Runtime:
        """A fresh worker runtime on these settings."""
        return Runtime(self.hub, redis_client, connector_settings=from_values(self.env))


def sandbox_settings(sandboxes: Sandboxes, **env: Any) -> Configured:
    """Settings that point every served connector at its sandbox, with the sandbox's
    default credentials (as its connector declares them), and ``env`` on top."""
    values: dict[str, Any] = {}
    for name, url in sandboxes.urls.items():
        sandbox = get_connector(name).sandbox
        assert sandbox is not None, f"{name} declares no sandbox"
        values.update(sandbox.env(url, sandbox.config()))
    return Configured(Settings(), {**values, **env})


def begin(wf: Workflow, sample: Mapping[str, Any]) -> dict[str, Any] | None:
    """The context a run starts with, or ``None`` when the trigger or ``if`` leaves it out.

    The sample goes through the intake as ``hub test`` sends an event: signed as its
    source file says (``workflows/sources``), read, routed, its ``if`` evaluated.
    """
    sources = CaseSources.load(ROOT / "workflows" / "sources", [wf]).resolve(Settings(), {})
    spec = EventSpec(headers=sample.get("headers", {}), body=sample["body"])
    delivery = signed_webhook(sources[sample["source"]], spec, default_type=None, now=time.time())
    plan = Intake([wf]).plan(delivery)
    assert isinstance(plan, Plan), "the samples' sources take one event per delivery"
    return plan.runs[0].context if plan.runs else None


def run(
    wf: Workflow, sample: Mapping[str, Any], settings: Configured, redis_client: redis.Redis
) -> dict[str, Any] | None:
    """Run every step of ``wf`` for a fixture event, each in a fresh worker runtime."""
    ctx = begin(wf, sample)
    if ctx is None:
        return None
    for step in wf.steps:
        ctx = execute_step(wf, step.id, ctx, settings.runtime(redis_client))
    return ctx
