"""Which sandbox plays which connector's upstream in ``hub test``, and serving them.

:data:`SANDBOXES` has one entry per connector with an upstream: how to build its sandbox
app, the resources it serves, and how its records look through its API. Each sandbox
runs under uvicorn in a thread on loopback, on the runner's fake clock, and is started
the first time a test file's workflow (or a case's ``given``) needs it. The connector is
pointed at it through its settings (base URL and the sandbox's credentials, the ones
``hub up`` uses: :data:`hub.cli.up.SANDBOXES`), so the connector's own code (auth,
quota, retries classification) runs as in production. A connector without an upstream
(``core``) needs no sandbox. The accounting sandbox also shows the rows the file sink
wrote (``rows``, ``csv_rows``) in a folder of its own, emptied with each case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel
from starlette.applications import Starlette

import connectors.accounting.sandbox as accounting
import connectors.plane.sandbox as plane
import connectors.plutio.sandbox as plutio
import connectors.plutora.sandbox as plutora
from connectors.plane.sandbox_rules import KINDS as PLANE_RESOURCES
from connectors.plutora.sandbox_rules import ENTITIES as PLUTORA_RESOURCES
from hub.cli.up import SANDBOXES as LOCAL_SANDBOXES
from hub.sandbox.clock import Clock, FakeClock
from hub.sandbox.control import Present
from hub.sandbox.core import SandboxCore
from hub.sandbox.serve import serve_in_thread

__all__ = ["NO_UPSTREAM", "SANDBOXES", "RunningSandboxes", "SandboxKind"]

Records = dict[str, list[dict[str, Any]]]


class AppFactory(Protocol):
    """A sandbox module's ``create_app``."""

    def __call__(self, config: Any, *, clock: Clock | None = None) -> Starlette: ...


def _as_stored(resource: str, record: dict[str, Any]) -> dict[str, Any]:
    return record


@dataclass(frozen=True)
class SandboxKind:
    """How to build a connector's sandbox and point the connector's settings at it."""

    create_app: AppFactory
    #: the sandbox's config model (it takes ``random_seed``)
    config: Callable[..., BaseModel]
    resources: frozenset[str]
    #: base URL -> the settings (env names) that point the connector at the sandbox
    env: Callable[[str], Mapping[str, str]]
    #: a stored record as the API shows it, and back (``given`` and ``expect.upstream``
    #: are written as the API shows records)
    present: Present = _as_stored
    accept: Present = _as_stored

    def app(self, clock: FakeClock, seed: int) -> Starlette:
        return self.create_app(self.config(random_seed=seed), clock=clock)

    def settings(self, base_url: str) -> dict[str, Any]:
        """Settings fields (lower-case names) for a sandbox served at ``base_url``."""
        return {name.lower(): value for name, value in self.env(base_url).items()}


def _env(connector: str) -> Callable[[str], Mapping[str, str]]:
    for local in LOCAL_SANDBOXES:
        if local.name == connector:
            return local.env
    raise KeyError(f"hub.cli.up has no sandbox settings for '{connector}'")


#: connector name -> its sandbox
SANDBOXES: dict[str, SandboxKind] = {
    "plutio": SandboxKind(
        plutio.create_app,
        plutio.PlutioSandboxConfig,
        frozenset(plutio.RESOURCES),
        _env("plutio"),
    ),
    "plane": SandboxKind(
        plane.create_app,
        plane.PlaneSandboxConfig,
        frozenset(PLANE_RESOURCES),
        _env("plane"),
        present=plane.NAMING.show,
        accept=plane.NAMING.take,
    ),
    "plutora": SandboxKind(
        plutora.create_app,
        plutora.PlutoraSandboxConfig,
        frozenset(PLUTORA_RESOURCES),
        _env("plutora"),
        present=plutora.NAMING.show,
        accept=plutora.NAMING.take,
    ),
}


def _accounting_config(**fields: Any) -> BaseModel:
    return accounting.AccountingSandboxConfig(export_dir=accounting.test_export_dir(), **fields)


SANDBOXES["accounting"] = SandboxKind(
    accounting.create_app,
    _accounting_config,
    frozenset(accounting.RESOURCES),
    # the HTTP sink posts to the sandbox; the file sink writes into the folder it shows
    lambda url: {
        "ACCOUNTING_URL": url,
        "ACCOUNTING_EXPORT_DIR": str(accounting.test_export_dir()),
    },
)
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

    def started(self) -> list[str]:
        """The connectors whose sandboxes run, in start order."""
        return list(self._cores)

    def core(self, connector: str) -> SandboxCore:
        """The running sandbox of ``connector`` (started now if it was not)."""
        if connector not in self._cores:
            kind = self._kinds[connector]
            app = kind.app(self.clock, self._seed)
            base_url = self._stack.enter_context(serve_in_thread(app))
            self._cores[connector] = app.state.sandbox
            self._settings[connector] = kind.settings(base_url)
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

    def settings(self, connectors: Iterable[str]) -> dict[str, Any]:
        """Settings fields pointing ``connectors`` at their sandboxes."""
        fields: dict[str, Any] = {}
        for name in connectors:
            self.core(name)
            fields.update(self._settings[name])
        return fields

    def close(self) -> None:
        self._stack.close()
        self._cores.clear()
