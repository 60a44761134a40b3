"""What a connector declares, once, in its own package: operations, settings, client, sandbox.

A connector package exposes a :class:`Connector` and registers it under the
``hub.connectors`` entry-point group (see :mod:`hub.connector.registry`). Each
:class:`Operation` names a pydantic input model (checked when a workflow is validated,
before anything runs) and a ``call`` that takes the connector's runtime API object and the
validated input and returns JSON-able data. ``settings`` is the connector's own
:class:`~hub.core.settings.ConnectorSettings` class; ``build`` makes the runtime API
object from those settings and the hub's (its client declared as a
:class:`~hub.http.client_spec.ClientSpec`); ``sandbox`` says how its upstream is played
offline. An operation is typed over its API and arguments: ``Operation[ShopApi,
OrderArgs]`` is called with a ``ShopApi`` and an ``OrderArgs``. Resources with the usual
record actions get theirs from :mod:`hub.connector.crud`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from hub.core import ConnectorSettings, Settings

if TYPE_CHECKING:
    import httpx

    from hub.sandbox import Sandbox

__all__ = ["AnyOperation", "ApiT", "ArgsT", "Build", "Connector", "Operation", "operation_table"]

#: the runtime API object an operation is called with (what its connector's ``build`` makes)
ApiT = TypeVar("ApiT")
#: the pydantic model an operation's arguments are validated into
ArgsT = TypeVar("ArgsT", bound=BaseModel)

S = TypeVar("S", bound=ConnectorSettings)
S_contra = TypeVar("S_contra", bound=ConnectorSettings, contravariant=True)


@dataclass(frozen=True)
class Operation(Generic[ApiT, ArgsT]):
    """One operation a workflow step can ``use``, e.g. ``people.create``.

    A step's ``with`` is validated into ``input``; ``call(api, arguments)`` then runs
    it against the connector's runtime API object. ``calls`` is how many upstream calls
    one run makes at most, a token request aside (a number, or one from the arguments):
    the step takes their quota slots together, so it never makes a call, finds no slot
    for the next one, and makes the first again when it comes back.
    """

    name: str
    input: type[ArgsT]
    call: Callable[[ApiT, ArgsT], Any]
    summary: str = ""
    writes: bool = False
    calls: int | Callable[[ArgsT], int] = 1

    def calls_for(self, args: ArgsT) -> int:
        """The upstream calls a run with ``args`` makes at most (at least one)."""
        calls = self.calls(args) if callable(self.calls) else self.calls
        return max(1, calls)


#: an operation of any connector, as the registry, the validator and the worker see it
AnyOperation = Operation[Any, Any]


def operation_table(*operations: Operation[ApiT, Any]) -> dict[str, Operation[ApiT, Any]]:
    """``operations`` by name, in the order given; a name given twice is a ``ValueError``."""
    table: dict[str, Operation[ApiT, Any]] = {}
    for operation in operations:
        if operation.name in table:
            raise ValueError(f"operation '{operation.name}' is declared twice")
        table[operation.name] = operation
    return table


class Build(Protocol[S_contra]):
    """A connector's ``build``: its runtime API object, from its settings, the hub's
    settings and Redis.

    ``transport`` carries the connector's HTTP requests (``None``: httpx's own); the
    caller that gives one owns it and closes it. ``now`` is the wall clock (epoch
    seconds) the connector reads wherever it needs the time: token expiry, epoch
    rate-limit resets, timestamps it writes. ``hub test`` gives its fake clock.
    """

    def __call__(
        self,
        settings: S_contra,
        hub: Settings,
        redis: Any,
        *,
        transport: httpx.BaseTransport | None = None,
        now: Callable[[], float] = time.time,
    ) -> Any: ...


@dataclass(frozen=True)
class Connector(Generic[S]):
    """A connector: its name, operations, settings class, how its runtime API object is
    built, and its sandbox.

    ``upstream`` is false for a connector that calls no upstream (it needs no sandbox in
    ``hub test``); ``sandbox`` is ``None`` for a connector without one.
    ``webhook_presets`` are source-file presets for the webhooks the upstream sends
    (``preset: <name>`` in a source file; see :mod:`hub.intake.presets`): name -> the
    source-file fields, as a file would write them.
    """

    name: str
    operations: Mapping[str, AnyOperation]
    settings: type[S]
    build: Build[S]
    sandbox: Sandbox[S] | None = None
    upstream: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)
    webhook_presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def read_settings(self) -> S:
        """The connector's settings as the environment (and ``.env``) give them."""
        return self.settings()
