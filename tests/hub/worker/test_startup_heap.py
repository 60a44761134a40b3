"""A worker freezes its startup heap before it forks, in each worker process, and when
ready."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from celery.signals import worker_init, worker_process_init, worker_ready

from hub.worker.startup_heap import freeze_startup_heap_in_worker


@pytest.fixture
def connected() -> Iterator[None]:
    gc.unfreeze()
    receivers = {
        s: list(s.receivers or []) for s in (worker_init, worker_process_init, worker_ready)
    }
    freeze_startup_heap_in_worker()
    yield
    for signal, kept in receivers.items():
        signal.receivers = kept
        signal.sender_receivers_cache.clear()
    gc.unfreeze()


@pytest.mark.parametrize("signal", [worker_init, worker_process_init, worker_ready])
def test_each_start_up_point_freezes_the_heap(connected: None, signal: object) -> None:
    assert gc.get_freeze_count() == 0
    signal.send(sender=None)  # type: ignore[attr-defined]
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
