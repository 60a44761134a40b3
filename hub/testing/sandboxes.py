"""The sandboxes that play each connector's upstream in ``hub test``, served on need.

Each connector declares its sandbox (:class:`~hub.sandbox.declaration.Sandbox`): how to
build its app, the resources it serves, how its records look through its API, and the
settings that point the connector at it. Each runs under uvicorn in a thread on loopback,
on the runner's fake clock, and is started the first time a test file's workflow (or a
case's ``given``) needs it. The connector is pointed at it through its settings (base URL
and the sandbox's credentials, as ``hub up`` does), so the connector's own code (auth,
quota, retries classification) runs as in production. A connector without an upstream
needs no sandbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from typing import Any

from hub.connector import sandboxes
from hub.sandbox import FakeClock, Sandbox, SandboxCore, serve_in_thread

__all__ = ["RunningSandboxes"]

Records = dict[str, list[dict[str, Any]]]


class RunningSandboxes:
    """Sandboxes started on first use, served until :meth:`close`.

    ``kinds`` says which sandbox plays each connector's upstream (default: each
    installed connector's own).
    """

    def __init__(
        self,
        clock: FakeClock,
        *,
        seed: int = 0,
        kinds: Mapping[str, Sandbox[Any]] | None = None,
    ) -> None:
        self.clock = clock
        self._seed = seed
        self._kinds = dict(sandboxes() if kinds is None else kinds)
        self._stack = ExitStack()
        self._cores: dict[str, SandboxCore] = {}
        self._env: dict[str, Mapping[str, str]] = {}

    def resources(self) -> dict[str, frozenset[str]]:
        return {name: kind.resources for name, kind in self._kinds.items()}

    def started(self) -> list[str]:
        """The connectors whose sandboxes run, in start order."""
        return list(self._cores)

    def core(self, connector: str) -> SandboxCore:
        """The running sandbox of ``connector`` (started now if it was not)."""
        if connector not in self._cores:
            kind = self._kinds[connector]
            app = kind.test_app(self.clock, self._seed)
            base_url = self._stack.enter_context(serve_in_thread(app))
            self._cores[connector] = app.state.sandbox
            self._env[connector] = kind.env(base_url, app.state.config)
        return self._cores[connector]

    def seed(self, connector: str, records: Mapping[str, list[dict[str, Any]]]) -> None:
        """Add ``records`` (as the API shows them) to ``connector``'s sandbox."""
        accept = self._kinds[connector].accept
        self.core(connector).seed_records(
            {name: [accept(name, dict(r)) for r in rows] for name, rows in records.items()}
        )

    def state(self, connector: str) -> Records:
        """Every record of ``connector``'s sandbox, as its API shows them."""
        core = self.core(connector)
        present = self._kinds[connector].present
        dump = core.store.dump(core.default_namespace)
        return {name: [present(name, r) for r in rows] for name, rows in dump.items()}

    def env(self, connectors: Iterable[str]) -> dict[str, str]:
        """The settings (environment names) pointing ``connectors`` at their sandboxes."""
        values: dict[str, str] = {}
        for name in connectors:
            self.core(name)
            values.update(self._env[name])
        return values

    def close(self) -> None:
        self._stack.close()
        self._cores.clear()
