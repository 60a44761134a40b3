"""Fault injection: error rates, latency, 429 storms, dropped connections, scripts.

A :class:`FaultConfig` says what to inject; a :class:`FaultInjector` holds it with its
running state (script answers left, storm calls left) and decides, per call, what
happens. Decisions use the injected :class:`random.Random`, drawing only for the rates
that are non-zero, so a seed reproduces a run. Precedence per call: a matching script
answer, then a storm, then the drop rate, then the error rate.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.sandbox.clock import Clock

__all__ = [
    "FaultConfig",
    "FaultDecision",
    "FaultInjector",
    "ScriptRule",
    "ScriptedAnswer",
    "StormConfig",
]

_SERVER_ERRORS = [500, 502, 503, 504]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScriptedAnswer(_Model):
    """One scripted answer; ``status=None`` (and no drop) passes the call through.

    ``body`` is answered as it is; without one, the answer is the sandbox's own error
    shape carrying ``message`` (its reason phrase when none).
    """

    status: int | None = Field(default=None, ge=100, le=599)
    retry_after: float | None = Field(default=None, ge=0)
    body: Any = None
    message: str | None = None
    drop: bool = False
    delay_ms: float = Field(default=0, ge=0)


class ScriptRule(_Model):
    """The next calls matching ``method`` and ``path`` (glob patterns) take ``answers``.

    ``{"method": "POST", "path": "/people", "answers": [500, 500]}``: the next two
    ``POST /people`` answer 500, later ones pass through. An answer is a status, ``null``
    (pass this one through) or a :class:`ScriptedAnswer` object. ``query`` is a glob on
    the raw query string (``*refused.example*``: calls about those records only); with
    ``repeat`` the answers start over when used up, so the rule holds until replaced.
    """

    method: str = "*"
    path: str = "*"
    query: str = "*"
    repeat: bool = False
    answers: list[ScriptedAnswer] = Field(min_length=1)

    @field_validator("answers", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [
            {"status": a} if a is None or (isinstance(a, int) and not isinstance(a, bool)) else a
            for a in value
        ]

    def matches(self, method: str, path: str, query: str = "") -> bool:
        """Whether a call is one this rule is about."""
        return (
            fnmatch.fnmatchcase(method.upper(), self.method.upper())
            and fnmatch.fnmatchcase(path, self.path)
            and fnmatch.fnmatchcase(query, self.query)
        )


class StormConfig(_Model):
    """Answer 429 to the next ``count`` calls and/or for the next ``seconds``, with
    ``Retry-After`` (``None``: without one, a bare 429)."""

    count: int | None = Field(default=None, ge=1)
    seconds: float | None = Field(default=None, gt=0)
    retry_after: float | None = Field(default=1, ge=0)
    status: int = Field(default=429, ge=100, le=599)

    @model_validator(mode="after")
    def _bounded(self) -> StormConfig:
        if self.count is None and self.seconds is None:
            raise ValueError("a storm needs count or seconds")
        return self


class FaultConfig(_Model):
    """What to inject. Rates are probabilities per call, between 0 and 1."""

    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_statuses: list[int] = Field(default_factory=lambda: list(_SERVER_ERRORS), min_length=1)
    latency_ms: float = Field(default=0.0, ge=0)
    #: when set, latency is uniform between ``latency_ms`` and this
    latency_max_ms: float | None = Field(default=None, ge=0)
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    storm: StormConfig | None = None
    scripts: list[ScriptRule] = Field(default_factory=list)


@dataclass(frozen=True)
class FaultDecision:
    """What to do instead of (or before) answering normally."""

    kind: str
    status: int | None = None
    retry_after: float | None = None
    body: Any = None
    drop: bool = False
    delay: float = 0.0
    #: the message of an error answer in the sandbox's own shape (``None``: the reason)
    message: str | None = None


@dataclass
class _LiveScript:
    rule: ScriptRule
    left: deque[ScriptedAnswer]


class FaultInjector:
    """Holds the fault configuration and its running state; decides per call."""

    def __init__(
        self, clock: Clock, rng: random.Random, initial: FaultConfig | None = None
    ) -> None:
        self._clock = clock
        self._rng = rng
        self._initial = initial or FaultConfig()
        self._lock = threading.Lock()
        self._config = FaultConfig()
        self._scripts: list[_LiveScript] = []
        self._storm_left: int | None = None
        self._storm_until: float | None = None
        self._apply(self._initial)

    def _apply(self, config: FaultConfig) -> None:
        self._config = config
        self._scripts = [_LiveScript(r, deque(r.answers)) for r in config.scripts]
        storm = config.storm
        self._storm_left = storm.count if storm else None
        self._storm_until = (
            self._clock.monotonic() + storm.seconds if storm and storm.seconds else None
        )

    def set(self, update: dict[str, Any]) -> dict[str, Any]:
        """Replace the fields given in ``update`` (others keep their values); answer the state.

        Setting ``storm`` or ``scripts`` restarts them; other running state carries on.
        """
        with self._lock:
            merged = {**self._config.model_dump(), **update}
            config = FaultConfig.model_validate(merged)
            scripts, storm = self._scripts, (self._storm_left, self._storm_until)
            self._apply(config)
            if "scripts" not in update:
                self._scripts = scripts
            if "storm" not in update:
                self._storm_left, self._storm_until = storm
            return self._snapshot()

    def reset(self) -> None:
        """Back to the initial configuration (the one given at construction)."""
        with self._lock:
            self._apply(self._initial)

    def clear(self) -> None:
        """No faults at all."""
        with self._lock:
            self._apply(FaultConfig())

    def snapshot(self) -> dict[str, Any]:
        """The configuration with running state: script answers and storm calls left."""
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        data = self._config.model_dump()
        data["scripts"] = [
            {**live.rule.model_dump(), "answers": [a.model_dump() for a in live.left]}
            for live in self._scripts
        ]
        now = self._clock.monotonic()
        data["storm_active"] = self._storm_active(now)
        data["storm_calls_left"] = self._storm_left
        data["storm_seconds_left"] = (
            max(0.0, self._storm_until - now) if self._storm_until is not None else None
        )
        return data

    def latency(self) -> float:
        """Seconds of latency to add to this call."""
        with self._lock:
            low = self._config.latency_ms
            high = self._config.latency_max_ms
            if high is not None and high > low:
                return self._rng.uniform(low, high) / 1000.0
            return low / 1000.0

    def _storm_active(self, now: float) -> bool:
        if self._config.storm is None:
            return False
        if self._storm_left is not None and self._storm_left <= 0:
            return False
        return self._storm_until is None or now < self._storm_until

    def decide(self, method: str, path: str, query: str = "") -> FaultDecision | None:
        """The fault for this call, or ``None`` to answer normally."""
        with self._lock:
            for live in self._scripts:
                if live.left and live.rule.matches(method, path, query):
                    answer = live.left.popleft()
                    if live.rule.repeat and not live.left:
                        live.left.extend(live.rule.answers)
                    if answer.status is None and not answer.drop:
                        return (
                            FaultDecision("script", delay=answer.delay_ms / 1000.0)
                            if answer.delay_ms
                            else None
                        )
                    return FaultDecision(
                        "script",
                        status=answer.status,
                        retry_after=answer.retry_after,
                        body=answer.body,
                        drop=answer.drop,
                        delay=answer.delay_ms / 1000.0,
                        message=answer.message,
                    )
            storm = self._config.storm
            if storm is not None and self._storm_active(self._clock.monotonic()):
                if self._storm_left is not None:
                    self._storm_left -= 1
                return FaultDecision("storm", status=storm.status, retry_after=storm.retry_after)
            cfg = self._config
            if cfg.drop_rate and self._rng.random() < cfg.drop_rate:
                return FaultDecision("drop", drop=True)
            if cfg.error_rate and self._rng.random() < cfg.error_rate:
                return FaultDecision("error_rate", status=self._rng.choice(cfg.error_statuses))
            return None
