"""Connectors registered for one test, found through the registry's entry-point loading."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from hub.connector import registry
from hub.connector.declaration import Connector

__all__ = ["registered"]


@contextmanager
def registered(
    monkeypatch: pytest.MonkeyPatch, connectors: Mapping[str, Connector[Any]]
) -> Iterator[None]:
    """The registry finds exactly ``connectors``, each as an entry point of the
    ``hub.connectors`` group naming a module (made for the test) that holds it."""
    points = {}
    for name, connector in connectors.items():
        module = types.ModuleType(f"hub_test_connector_{name}")
        module.CONNECTOR = connector  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, module.__name__, module)
        points[name] = EntryPoint(name, f"{module.__name__}:CONNECTOR", registry.GROUP)
    monkeypatch.setattr(registry, "discovered", lambda: dict(sorted(points.items())))
    registry.get_connector.cache_clear()
    try:
        yield
    finally:
        registry.get_connector.cache_clear()
