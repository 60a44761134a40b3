from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint

import pytest

from hub.connector import registry
from hub.connector.registry import (
    GROUP,
    all_operations,
    connector_names,
    discovered,
    get_connector,
    get_operation,
)
from hub.core.errors import ConfigError


def test_real_connector_operations_resolve() -> None:
    connector, op = get_operation("plutio.task_boards.copy")
    assert connector.name == "plutio" and op.name == "task_boards.copy"
    assert "plutio.people.upsert" in all_operations()


def test_unknown_action_lists_that_resource_only() -> None:
    with pytest.raises(ConfigError) as info:
        get_operation("plutio.people.craete")
    message = str(info.value)
    assert "did you mean 'plutio.people.create'?" in message
    assert "plutio.people offers: people.create, people.delete" in message
    assert "invoices" not in message


def test_unknown_resource_lists_resources() -> None:
    with pytest.raises(ConfigError) as info:
        get_operation("plutio.task-boards.list")
    message = str(info.value)
    assert "did you mean 'plutio.task_boards.list'?" in message
    assert "plutio offers operations on: block_groups, blocks" in message
    assert "`hub operations`" in message


def test_the_installed_connectors_are_found_through_their_entry_points() -> None:
    assert {"core", "plutio", "plane", "plutora", "accounting"} <= set(connector_names())
    points = discovered()
    assert points["plutio"].value == "connectors.plutio:CONNECTOR"
    assert points["plutio"].group == GROUP == "hub.connectors"


def _point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name, value, GROUP)


@pytest.fixture
def plugged(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Make the registry find the given entry points (and only those)."""

    def plug(*points: EntryPoint) -> None:
        monkeypatch.setattr(registry, "entry_points", lambda group: list(points))
        registry.discovered.cache_clear()
        registry.get_connector.cache_clear()

    yield plug
    registry.discovered.cache_clear()
    registry.get_connector.cache_clear()


def test_a_plugin_that_does_not_load_is_a_clear_config_error(
    plugged: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = types.ModuleType("hub_test_not_a_connector")
    module.CONNECTOR = "a string"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    plugged(
        _point("gone", "hub_test_no_such_module:CONNECTOR"),
        _point("odd", "hub_test_not_a_connector:CONNECTOR"),
    )
    with pytest.raises(ConfigError) as gone:
        get_connector("gone")
    assert str(gone.value).startswith(
        "connector 'gone' (hub.connectors: hub_test_no_such_module:CONNECTOR) does not load: "
        "ModuleNotFoundError"
    )
    with pytest.raises(ConfigError, match=r"'odd' .* is a str, not a Connector"):
        get_connector("odd")
    with pytest.raises(ConfigError) as unknown:
        get_connector("nope")
    assert str(unknown.value) == "unknown connector 'nope' (known connectors: gone, odd)"


def test_a_plugin_must_carry_its_entry_points_name(plugged: Callable[..., None]) -> None:
    plugged(_point("other", "connectors.core:CONNECTOR"))
    with pytest.raises(ConfigError, match="declares the name 'core'"):
        get_connector("other")


def test_two_plugins_under_one_name_are_refused(plugged: Callable[..., None]) -> None:
    plugged(_point("x", "a:CONNECTOR"), _point("x", "a:CONNECTOR"))
    assert list(discovered()) == ["x"]  # the same one found twice is one
    plugged(_point("x", "a:CONNECTOR"), _point("x", "b:CONNECTOR"))
    with pytest.raises(ConfigError, match="two connectors are registered as 'x'"):
        discovered()
