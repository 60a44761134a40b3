"""Startup objects frozen out of the collector's scans."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hub.core.startup_heap import freeze_startup_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process goes on collecting as before


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def test_objects_alive_at_startup_are_frozen_and_later_ones_still_collected(
    unfrozen: None,
) -> None:
    startup = [{"n": n} for n in range(10_000)]
    frozen = freeze_startup_heap()
    assert frozen == gc.get_freeze_count() and frozen >= len(startup)
    gc.collect()
    assert gc.get_freeze_count() == frozen  # a full collection leaves them where they are
    before = len(gc.get_objects())
    garbage = [_Node() for _ in range(1_000)]
    del garbage
    assert gc.collect() >= 1_000  # what came after startup is scanned and freed
    assert len(gc.get_objects()) <= before + 10
