"""What every sandbox app shares: its base config, its core, and the app around them.

A sandbox's config model extends :class:`SandboxConfig` (quota, faults, seed, initial
data, strictness; overriding defaults to its upstream's), builds its :class:`SandboxCore`
with :func:`build_core`, and wraps its routes with :func:`sandbox_app`, which puts the
core at ``app.state.sandbox`` and the config at ``app.state.config``.

A sandbox written next to its connector shares the connector's assumptions. In
**strict** mode (``strict=True``, ``<PREFIX>STRICT=true``) it answers only as its
upstream's reference documents and treats the rest as the reference implies (an unknown
query parameter as a filter, say), so a connector relying on anything undocumented fails
against it. :func:`strict_sandboxes` makes strict the default for configs built inside it
(tests run a whole suite once in each mode).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from hub.sandbox.clock import Clock, SystemClock
from hub.sandbox.control import Present
from hub.sandbox.core import SandboxCore
from hub.sandbox.faults import FaultConfig
from hub.sandbox.responses import quiet_dropped_connections

__all__ = ["METHODS", "SandboxConfig", "build_core", "sandbox_app", "strict_sandboxes"]

#: every method an API route takes, so the sandbox, not the router, answers a wrong one
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


_STRICT_DEFAULT: ContextVar[bool] = ContextVar("hub_sandbox_strict", default=False)


def _strict_default() -> bool:
    return _STRICT_DEFAULT.get()


@contextmanager
def strict_sandboxes(on: bool = True) -> Iterator[None]:
    """Inside the block, sandbox configs that do not say otherwise are strict (``on``)."""
    token = _STRICT_DEFAULT.set(on)
    try:
        yield
    finally:
        _STRICT_DEFAULT.reset(token)


def _as_given(resource: str, record: dict[str, Any]) -> dict[str, Any]:
    return record


class SandboxConfig(BaseModel):
    """Settings every sandbox takes; env names are ``<PREFIX><FIELD>``."""

    model_config = ConfigDict(extra="forbid")

    quota_limit: int = Field(default=1000, ge=1)
    quota_window_seconds: float = Field(default=3600, gt=0)
    #: whether quota-refused calls take up the window too
    quota_counts_refused: bool = False
    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_statuses: list[int] = Field(default_factory=lambda: [500, 502, 503, 504])
    latency_ms: float = Field(default=0.0, ge=0)
    latency_max_ms: float | None = Field(default=None, ge=0)
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    random_seed: int | None = None
    #: records seeded into the default namespace at start and on reset
    initial_data: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    #: answer only as the upstream's reference documents (see the module's docstring)
    strict: bool = Field(default_factory=_strict_default)

    def fault_config(self) -> FaultConfig:
        """The faults injected from the start."""
        return FaultConfig(
            error_rate=self.error_rate,
            error_statuses=self.error_statuses,
            latency_ms=self.latency_ms,
            latency_max_ms=self.latency_max_ms,
            drop_rate=self.drop_rate,
        )


def build_core(
    config: SandboxConfig,
    *,
    resources: Collection[str],
    default_namespace: str,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    token_ttl_seconds: float = 3600.0,
    accept: Present = _as_given,
) -> SandboxCore:
    """The core for ``config``; ``accept`` turns initial records into stored ones."""
    return SandboxCore.build(
        clock=clock or SystemClock(),
        rng=rng or random.Random(config.random_seed),
        resources=resources,
        default_namespace=default_namespace,
        quota_limit=config.quota_limit,
        quota_window_seconds=config.quota_window_seconds,
        quota_counts_refused=config.quota_counts_refused,
        token_ttl_seconds=token_ttl_seconds,
        faults=config.fault_config(),
        seed=config.random_seed,
        initial_data={
            name: [accept(name, r) for r in records]
            for name, records in config.initial_data.items()
        },
    )


def sandbox_app(core: SandboxCore, config: BaseModel, routes: Sequence[BaseRoute]) -> Starlette:
    """The ASGI app serving ``routes``, with ``core`` and ``config`` on ``app.state``."""
    app = Starlette(routes=list(routes))
    app.state.sandbox = core
    app.state.config = config
    quiet_dropped_connections()
    return app
