"""A worker's startup objects kept out of the collector's scans (see
:mod:`hub.core.startup_heap`): in the main process before it forks its worker processes
and once it is ready, and in each worker process once it is set up."""

from __future__ import annotations

from typing import Any

from celery.signals import worker_init, worker_process_init, worker_ready

from hub.core import freeze_startup_heap

__all__ = ["freeze_startup_heap_in_worker"]


def freeze_startup_heap_in_worker() -> None:
    """Freeze the startup heap at each of a worker's start-up points."""

    def freeze(**_: Any) -> None:
        freeze_startup_heap()

    for signal in (worker_init, worker_process_init, worker_ready):
        signal.connect(freeze, weak=False)
