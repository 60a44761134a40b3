"""Running one step: condition, templates, input validation, the connector call.

Pure of Celery: :func:`execute_step` takes a workflow, a step id, the run context and a
:class:`Runtime` (connector APIs, secrets), so it is tested without a broker. A step with
``foreach`` runs once per item: :func:`foreach_items` gives the items and
:func:`execute_item` runs one (the worker fans them out, see :mod:`hub.worker.flow`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from hub.connector import Connector, SettingsFor, from_environment, get_connector, get_operation
from hub.core import (
    ConfigError,
    FatalError,
    Paused,
    PauseStore,
    RedisBatch,
    Settings,
    TemplateError,
)
from hub.http import RetryPolicy, current_claim
from hub.workflow import OperationLookup, RetryOverride, Step, Workflow, evaluate, render, truthy

__all__ = [
    "MAX_FOREACH_ITEMS",
    "Item",
    "Runtime",
    "execute_item",
    "execute_step",
    "find_step",
    "foreach_items",
    "retry_policy",
    "template_context",
]

#: The most items one ``foreach`` may run over (each item is a task).
MAX_FOREACH_ITEMS = 10_000


class Runtime:
    """Per-process connector APIs (built once) and secrets for templates.

    ``lookup`` resolves ``uses`` (the registry by default); ``apis`` pre-sets the API
    object of some connectors; ``rng`` is the random source of retry jitter;
    ``transport`` gives a connector's HTTP transport by connector name (the default,
    ``None``: httpx's own, one per client); ``now`` is the wall clock the connectors read
    (epoch seconds); ``connector_settings`` gives each connector its settings (default:
    from the environment); ``pauses`` says which connectors an operator paused (default:
    those in ``redis``; ``None`` checks none).
    """

    def __init__(
        self,
        settings: Settings,
        redis: Any,
        *,
        lookup: OperationLookup = get_operation,
        apis: Mapping[str, Any] | None = None,
        rng: Callable[[], float] = random.random,
        transport: Callable[[str], httpx.BaseTransport | None] = lambda connector: None,
        now: Callable[[], float] = time.time,
        connector_settings: SettingsFor = from_environment,
        pauses: PauseStore | Literal["redis"] | None = "redis",
    ) -> None:
        self.settings = settings
        self._pauses = pauses
        self.connector_settings = connector_settings
        self.redis = redis
        self.lookup = lookup
        self.rng = rng
        self.transport = transport
        self.now = now
        self._apis: dict[str, Any] = dict(apis or {})

    def api(self, connector: Connector[Any] | str) -> Any:
        """The runtime API object of ``connector`` (built on first use)."""
        if isinstance(connector, str):
            connector = get_connector(connector)
        if connector.name not in self._apis:
            transport = self.transport(connector.name)
            self._apis[connector.name] = connector.build(
                self.connector_settings(connector),
                self.settings,
                self.redis,
                transport=transport,
                now=self.now,
            )
        return self._apis[connector.name]

    def _pause_store(self) -> PauseStore | None:
        if self._pauses == "redis":
            self._pauses = PauseStore(self.redis)
        return self._pauses

    def paused_in(self, batch: RedisBatch, step: Step) -> Callable[[], bool] | None:
        """Whether an operator paused the connector ``step`` uses, asked with ``batch``
        (its answer once the batch is sent); ``None`` when there is nothing to ask (no
        pauses checked, or an operation :func:`execute_step` will refuse)."""
        store = self._pause_store()
        if store is None:
            return None
        try:
            connector, _ = self.lookup(step.uses)
        except ConfigError:
            return None
        return store.is_paused_in(batch, "connector", connector.name)

    def check_paused(
        self, connector: str, waiting: str, *, known: Callable[[], bool] | None = None
    ) -> None:
        """Raise :class:`Paused` (a wait, not an attempt) when an operator paused
        ``connector``; ``waiting`` names the step held, to count it. ``known`` is the
        answer :meth:`paused_in` asked for, when it did."""
        store = self._pause_store()
        if store is None:
            return
        if not (known() if known is not None else store.is_paused("connector", connector)):
            return
        wait = self.settings.hub_pause_recheck_seconds
        store.hold_step(connector, waiting, wait)
        raise Paused(f"connector {connector}", wait)

    def secrets(self) -> Mapping[str, Any]:
        return self.settings.hub_secrets

    def retry_policy(self, step: Step) -> RetryPolicy:
        """The retry policy of ``step``: its ``retry`` overrides, else the settings."""
        return retry_policy(self.settings, step, rng=self.rng)


@dataclass(frozen=True)
class Item:
    """One item of a ``foreach``: its position and value."""

    index: int
    value: Any


def retry_policy(
    settings: Settings, step: Step, *, rng: Callable[[], float] = random.random
) -> RetryPolicy:
    """Attempts and backoff for ``step``: the step's ``retry`` fields, else the settings."""
    override = step.retry or RetryOverride()
    policy = RetryPolicy(
        settings.hub_step_max_attempts,
        settings.hub_retry_base_seconds,
        settings.hub_retry_cap_seconds,
        rng=rng,
    )
    return policy.with_overrides(
        max_attempts=override.max_attempts,
        base_seconds=override.backoff_base_seconds,
        cap_seconds=override.backoff_cap_seconds,
    )


def template_context(
    wf: Workflow,
    ctx: Mapping[str, Any],
    secrets: Mapping[str, Any],
    item: Item | None = None,
) -> dict[str, Any]:
    """What templates see: event, steps, workflow, run, secrets; item and index in a
    ``foreach``; error in ``on_failure`` steps."""
    names = {
        "event": ctx["event"],
        "steps": ctx["steps"],
        "workflow": {"name": wf.name, "revision": wf.revision},
        "run": {"id": ctx["run_id"], "event_id": ctx["event_id"], "source": ctx["source"]},
        "secrets": secrets,
    }
    if "error" in ctx:
        names["error"] = ctx["error"]
    if item is not None:
        names["item"] = item.value
        names["index"] = item.index
    return names


def find_step(wf: Workflow, step_id: str) -> Step:
    """The step called ``step_id``, ``on_failure`` steps at any depth included."""
    for _, step in wf.all_steps():
        if step.id == step_id:
            return step
    raise FatalError(f"workflow '{wf.name}' revision {wf.revision} has no step '{step_id}'")


def _where(wf: Workflow, step: Step, item: Item | None = None) -> str:
    suffix = f" item {item.index}" if item is not None else ""
    return f"workflow '{wf.name}' step '{step.id}'{suffix}"


def _call(
    wf: Workflow,
    step: Step,
    tctx: dict[str, Any],
    runtime: Runtime,
    where: str,
    paused: Callable[[], bool] | None = None,
) -> Any:
    args = render(step.with_, tctx, where=f"{where} field 'with'")
    connector, op = runtime.lookup(step.uses)
    try:
        validated = op.input.model_validate(args)
    except ValidationError as exc:
        problems = "; ".join(
            f"with.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise FatalError(f"{where}: arguments for {step.uses} are invalid: {problems}") from exc
    runtime.check_paused(connector.name, f"{tctx['run']['id']} {where}", known=paused)
    current_claim().expect(op.calls_for(validated))  # their quota slots taken together
    return op.call(runtime.api(connector), validated)


def execute_step(
    wf: Workflow,
    step_id: str,
    ctx: dict[str, Any],
    runtime: Runtime,
    *,
    paused: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Run one step and return the context with its output recorded.

    A step whose ``if`` is false records ``None`` and is listed in ``ctx["skipped"]``.
    ``paused`` answers whether its connector is paused (:meth:`Runtime.paused_in`);
    without it, Redis is asked.
    """
    step = find_step(wf, step_id)
    if step.foreach is not None:
        raise ConfigError(f"{_where(wf, step)} has 'foreach': run it with execute_item per item")
    where = _where(wf, step)
    tctx = template_context(wf, ctx, runtime.secrets())
    if step.if_ is not None and not truthy(step.if_, tctx, where=f"{where} field 'if'"):
        ctx["steps"][step.id] = None
        ctx["skipped"].append(step.id)
        return ctx
    ctx["steps"][step.id] = _call(wf, step, tctx, runtime, where, paused)
    return ctx


def foreach_items(
    wf: Workflow, step_id: str, ctx: Mapping[str, Any], runtime: Runtime
) -> list[Any]:
    """The list a ``foreach`` step runs over; :class:`TemplateError` if it is not a list."""
    step = find_step(wf, step_id)
    if step.foreach is None:
        raise ConfigError(f"{_where(wf, step)} has no 'foreach'")
    where = f"{_where(wf, step)} field 'foreach'"
    items = evaluate(step.foreach, template_context(wf, ctx, runtime.secrets()), where=where)
    if not isinstance(items, list):
        raise TemplateError(f"{where}: gives {type(items).__name__}, not a list")
    if len(items) > MAX_FOREACH_ITEMS:
        raise TemplateError(f"{where}: {len(items)} items, over the limit of {MAX_FOREACH_ITEMS}")
    return items


def execute_item(
    wf: Workflow, step_id: str, ctx: Mapping[str, Any], runtime: Runtime, item: Item
) -> tuple[bool, Any]:
    """Run one item of a ``foreach`` step: ``(ran, output)``; ``(False, None)`` when its
    ``if`` is false for this item."""
    step = find_step(wf, step_id)
    where = _where(wf, step, item)
    tctx = template_context(wf, ctx, runtime.secrets(), item)
    if step.if_ is not None and not truthy(step.if_, tctx, where=f"{where} field 'if'"):
        return False, None
    return True, _call(wf, step, tctx, runtime, where)
