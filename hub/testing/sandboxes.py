"""Which sandbox plays which connector's upstream in ``hub test``, and serving them.

Each sandbox runs under uvicorn in a thread on loopback, on the runner's fake clock, and
the connector is pointed at it through its settings (base URL and the sandbox's
credentials), so the connector's own code (auth, quota, retries classification) runs as
in production. A connector without an upstream (``core``) needs no sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from hub.sandbox.clock import FakeClock
from hub.sandbox.core import SandboxCore
from hub.sandbox.serve import serve_in_thread

__all__ = ["NO_UPSTREAM", "SANDBOXES", "RunningSandboxes", "SandboxKind"]


@dataclass(frozen=True)
class SandboxKind:
    """How to build a connector's sandbox and point the connector's settings at it."""

    create_app: Callable[[FakeClock, int], Starlette]  # clock, random seed
    settings: Callable[[str], dict[str, Any]]
    resources: frozenset[str]


def _plutio_app(clock: FakeClock, seed: int) -> Starlette:
    from connectors.plutio.sandbox import PlutioSandboxConfig, create_app

    return create_app(PlutioSandboxConfig(random_seed=seed), clock=clock)


def _plutio_settings(base_url: str) -> dict[str, Any]:
    from hub.embedded import SANDBOX_CREDENTIALS

    return {
        "plutio_base_url": base_url,
        **{name.lower(): value for name, value in SANDBOX_CREDENTIALS.items()},
    }


def _plutio_resources() -> frozenset[str]:
    from connectors.plutio.sandbox import RESOURCES

    return frozenset(RESOURCES)


#: connector name -> its sandbox
SANDBOXES: dict[str, SandboxKind] = {
    "plutio": SandboxKind(_plutio_app, _plutio_settings, _plutio_resources()),
}
#: connectors that call no upstream
NO_UPSTREAM = frozenset({"core"})


class RunningSandboxes:
    """Sandboxes started on first use, served until :meth:`close`."""

    def __init__(
        self,
        clock: FakeClock,
        *,
        seed: int = 0,
        kinds: Mapping[str, SandboxKind] = SANDBOXES,
    ) -> None:
        self.clock = clock
        self._seed = seed
        self._kinds = dict(kinds)
        self._stack = ExitStack()
        self._cores: dict[str, SandboxCore] = {}
        self._settings: dict[str, dict[str, Any]] = {}

    def resources(self) -> dict[str, frozenset[str]]:
        return {name: kind.resources for name, kind in self._kinds.items()}

    def core(self, connector: str) -> SandboxCore:
        """The running sandbox of ``connector`` (started now if it was not)."""
        if connector not in self._cores:
            kind = self._kinds[connector]
            app = kind.create_app(self.clock, self._seed)
            base_url = self._stack.enter_context(serve_in_thread(app))
            self._cores[connector] = app.state.sandbox
            self._settings[connector] = kind.settings(base_url)
        return self._cores[connector]

    def settings(self, connectors: Iterator[str] | list[str]) -> dict[str, Any]:
        """Settings fields pointing ``connectors`` at their sandboxes."""
        fields: dict[str, Any] = {}
        for name in connectors:
            self.core(name)
            fields.update(self._settings[name])
        return fields

    def close(self) -> None:
        self._stack.close()
        self._cores.clear()
