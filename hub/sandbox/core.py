"""The state one sandbox app holds, built from injected clock and random source."""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.sandbox.calllog import CallLog
from hub.sandbox.clock import Clock
from hub.sandbox.documents import MemoryStore
from hub.sandbox.faults import FaultConfig, FaultInjector
from hub.sandbox.quota import RollingWindowLimiter
from hub.sandbox.tokens import TokenStore

__all__ = ["SandboxCore", "UnknownResource"]


class UnknownResource(KeyError):
    """A resource name the sandbox does not serve."""


@dataclass
class SandboxCore:
    """Data, call log, quota, faults and tokens of one sandbox, with a way back to the start.

    ``limits`` are further limiters a sandbox keeps beside ``quota`` (an upstream's daily
    limit beside its burst), by name; :meth:`reset` clears them too.
    """

    clock: Clock
    rng: random.Random
    store: MemoryStore
    calls: CallLog
    quota: RollingWindowLimiter
    faults: FaultInjector
    tokens: TokenStore
    resources: frozenset[str]
    default_namespace: str
    seed: int | None = None
    initial_data: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    limits: dict[str, RollingWindowLimiter] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        clock: Clock,
        rng: random.Random,
        resources: Collection[str],
        default_namespace: str,
        quota_limit: int,
        quota_window_seconds: float,
        quota_counts_refused: bool = False,
        token_ttl_seconds: float = 3600.0,
        faults: FaultConfig | None = None,
        seed: int | None = None,
        initial_data: Mapping[str, list[dict[str, Any]]] | None = None,
    ) -> SandboxCore:
        """A core with empty state, then ``initial_data`` seeded into the default namespace."""
        core = cls(
            clock=clock,
            rng=rng,
            store=MemoryStore(clock, rng),
            calls=CallLog(),
            quota=RollingWindowLimiter(
                quota_limit, quota_window_seconds, clock, count_refused=quota_counts_refused
            ),
            faults=FaultInjector(clock, rng, faults),
            tokens=TokenStore(clock, rng, token_ttl_seconds),
            resources=frozenset(resources),
            default_namespace=default_namespace,
            seed=seed,
            initial_data=dict(initial_data or {}),
        )
        core.seed_records(core.initial_data)
        return core

    def check_resource(self, resource: str) -> None:
        """:class:`UnknownResource` unless the sandbox serves ``resource``."""
        if resource not in self.resources:
            raise UnknownResource(resource)

    def seed_records(
        self,
        data: Mapping[str, Iterable[Mapping[str, Any]]],
        namespace: str | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """Insert records as given (ids and timestamps kept when present); answer them."""
        for resource in data:
            self.check_resource(resource)
        ns = namespace or self.default_namespace
        return {
            resource: [self.store.insert(ns, resource, r, keep_id=True) for r in records]
            for resource, records in data.items()
        }

    def reset(self) -> None:
        """Back to the start: initial data, configured faults, no calls, tokens or quota use."""
        if self.seed is not None:
            self.rng.seed(self.seed)
        self.store.clear()
        self.calls.clear()
        self.quota.reset()
        for limiter in self.limits.values():
            limiter.reset()
        self.faults.reset()
        self.tokens.clear()
        self.seed_records(self.initial_data)
