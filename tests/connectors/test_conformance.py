"""Every connector with an upstream passes the conformance suite against its sandbox.

The checks are :mod:`hub.testing.conformance`'s; each connector declares what they need
in ``connectors/<name>/conformance.py``. Sandboxes are served on loopback, one per
connector for the module, and reset before each check; each check has an empty Redis.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
import redis

from hub.connector.registry import discovered, get_connector
from hub.testing.conformance import Conformance, SandboxControl, checks_for, run_check, served


def _package(name: str) -> str:
    """The package an installed connector's entry point names (``pkg.module:ATTR``)."""
    return discovered()[name].value.partition(":")[0]


def _declarations() -> dict[str, Conformance]:
    found: dict[str, Conformance] = {}
    for name in discovered():
        if importlib.util.find_spec(f"{_package(name)}.conformance") is not None:
            found[name] = importlib.import_module(f"{_package(name)}.conformance").CONFORMANCE
    return found


DECLARATIONS = _declarations()
CASES = [(name, check) for name, c in DECLARATIONS.items() for check in checks_for(c)]


@pytest.fixture(scope="module")
def sandbox_for(sandbox_mode: str) -> Iterator[Callable[[str], SandboxControl]]:
    """A connector's sandbox, served the first time a check asks for it."""
    running: dict[str, SandboxControl] = {}
    with ExitStack() as stack:

        def get(name: str) -> SandboxControl:
            if name not in running:
                running[name] = stack.enter_context(served(DECLARATIONS[name]))
            return running[name]

        yield get


def test_every_connector_with_a_sandbox_declares_conformance() -> None:
    with_sandbox = {name for name in discovered() if get_connector(name).sandbox is not None}
    assert (
        with_sandbox
        == set(DECLARATIONS)
        == {
            "accounting",
            "http",
            "hubspot",
            "plane",
            "plutio",
            "plutora",
        }
    )


def test_every_record_connector_runs_every_check() -> None:
    for name in ("plane", "plutio", "plutora"):
        assert "paging" in checks_for(DECLARATIONS[name])
        assert "round trip" in checks_for(DECLARATIONS[name])
    assert "token" in checks_for(DECLARATIONS["plutio"])
    assert "token" not in checks_for(DECLARATIONS["plane"])


@pytest.mark.parametrize(("connector", "check"), CASES, ids=[f"{c}-{k}" for c, k in CASES])
def test_conformance(
    connector: str,
    check: str,
    sandbox_for: Callable[[str], SandboxControl],
    redis_client: redis.Redis,
) -> None:
    run_check(check, DECLARATIONS[connector], sandbox_for(connector), redis_client)
