"""Running one step: condition, templates, input validation, the connector call.

Pure of Celery: :func:`execute_step` takes a workflow, a step id, the run context and a
:class:`Runtime` (connector APIs, secrets), so it is tested without a broker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from hub.errors import FatalError
from hub.registry import get_connector, get_operation
from hub.settings import Settings
from hub.workflow.model import Step, Workflow
from hub.workflow.templates import render, truthy

__all__ = ["Runtime", "execute_step", "new_context", "template_context"]


class Runtime:
    """Per-process connector APIs (built once) and secrets for templates."""

    def __init__(self, settings: Settings, redis: Any) -> None:
        self.settings = settings
        self.redis = redis
        self._apis: dict[str, Any] = {}

    def api(self, connector_name: str) -> Any:
        if connector_name not in self._apis:
            connector = get_connector(connector_name)
            self._apis[connector_name] = connector.build(self.settings, self.redis)
        return self._apis[connector_name]

    def secrets(self) -> Mapping[str, Any]:
        return self.settings.hub_secrets


def new_context(
    *, event: Any, event_id: str, source: str, event_type: str, run_id: str
) -> dict[str, Any]:
    """The context a run starts with; each step adds its output under ``steps``."""
    return {
        "event": event,
        "event_id": event_id,
        "source": source,
        "event_type": event_type,
        "run_id": run_id,
        "steps": {},
        "skipped": [],
    }


def template_context(
    wf: Workflow, ctx: Mapping[str, Any], secrets: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "event": ctx["event"],
        "steps": ctx["steps"],
        "workflow": {"name": wf.name, "revision": wf.revision},
        "run": {"id": ctx["run_id"], "event_id": ctx["event_id"], "source": ctx["source"]},
        "secrets": secrets,
    }


def _find_step(wf: Workflow, step_id: str) -> Step:
    for step in [*wf.steps, *wf.on_failure]:
        if step.id == step_id:
            return step
    raise FatalError(f"workflow '{wf.name}' revision {wf.revision} has no step '{step_id}'")


def execute_step(
    wf: Workflow, step_id: str, ctx: dict[str, Any], runtime: Runtime
) -> dict[str, Any]:
    """Run one step and return the context with its output recorded."""
    step = _find_step(wf, step_id)
    where = f"workflow '{wf.name}' step '{step.id}'"
    tctx = template_context(wf, ctx, runtime.secrets())
    if step.if_ is not None and not truthy(step.if_, tctx, where=f"{where} field 'if'"):
        ctx["steps"][step.id] = None
        ctx["skipped"].append(step.id)
        return ctx
    args = render(step.with_, tctx, where=f"{where} field 'with'")
    connector, op = get_operation(step.uses)
    try:
        validated = op.input.model_validate(args)
    except ValidationError as exc:
        problems = "; ".join(
            f"with.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise FatalError(f"{where}: arguments for {step.uses} are invalid: {problems}") from exc
    ctx["steps"][step.id] = op.call(runtime.api(connector.name), validated)
    return ctx
