"""What a connector declares: its operations, as data.

A connector package (``connectors/<name>``) exposes ``CONNECTOR``, a :class:`Connector`.
Each :class:`Operation` names a pydantic input model (checked when a workflow is
validated, before anything runs) and a ``call`` that takes the connector's runtime API
object and the validated input and returns JSON-able data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

if TYPE_CHECKING:
    import httpx
    from redis import Redis

    from hub.core.settings import Settings

__all__ = ["Build", "Connector", "Operation"]


@dataclass(frozen=True)
class Operation:
    """One operation a workflow step can ``use``, e.g. ``people.create``."""

    name: str
    input: type[BaseModel]
    call: Callable[[Any, Any], Any]
    summary: str = ""
    writes: bool = False


class Build(Protocol):
    """A connector's ``build``: its runtime API object, from settings and Redis.

    ``transport`` carries the connector's HTTP requests (``None``: httpx's own); the
    caller that gives one owns it and closes it. ``now`` is the wall clock (epoch
    seconds) the connector reads wherever it needs the time: token expiry, epoch
    rate-limit resets, timestamps it writes. ``hub test`` gives its fake clock.
    """

    def __call__(
        self,
        settings: Settings,
        redis: Redis,
        *,
        transport: httpx.BaseTransport | None = None,
        now: Callable[[], float] = time.time,
    ) -> Any: ...


@dataclass(frozen=True)
class Connector:
    """A connector: a name, its operations, and how to build its runtime API object."""

    name: str
    operations: Mapping[str, Operation]
    build: Build
    settings_prefix: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
