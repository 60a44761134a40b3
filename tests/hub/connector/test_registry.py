from __future__ import annotations

import pytest

from hub.connector.registry import all_operations, get_operation
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
