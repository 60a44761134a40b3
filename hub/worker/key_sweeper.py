"""Each worker sweeps the concurrency keys whose holders' leases ran out.

A holder killed with its worker never gives its place back; its lease runs out and the
key is then due a sweep (:meth:`hub.core.KeySlots.due`). Every ``hub worker`` process
looks for such keys every :data:`SWEEP_INTERVAL_SECONDS` in a thread of its own, from
when it is ready until it stops, and sweeps them (the sweep is atomic, so workers
sweeping the same key at once do no harm); the waiters whose turn came are sent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from celery.signals import worker_ready, worker_shutdown

__all__ = ["SWEEP_INTERVAL_SECONDS", "KeySweeper", "sweep_keys_in_worker"]

log = logging.getLogger("hub.worker")

#: how often a worker looks for keys due a sweep
SWEEP_INTERVAL_SECONDS = 1.0


class KeySweeper:
    """Calls ``sweep_due`` every ``interval`` seconds in a thread until stopped."""

    def __init__(self, sweep_due: Callable[[], int], interval: float = SWEEP_INTERVAL_SECONDS):
        self._sweep_due = sweep_due
        self._interval = interval
        self._stop = threading.Event()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name="key-sweeper", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                swept = self._sweep_due()
            except Exception as exc:  # Redis away for a while: look again later
                log.warning("concurrency keys not swept: %s", type(exc).__name__)
                continue
            if swept:
                log.info("swept %d concurrency key(s) whose holder's lease ran out", swept)


def sweep_keys_in_worker() -> None:
    """Once this process's worker is ready, sweep the keys due until it shuts down."""
    running: list[KeySweeper] = []

    def ready(**_: Any) -> None:
        from hub.worker.tasks import concurrency_gate

        sweeper = KeySweeper(concurrency_gate().sweep_due)
        sweeper.start()
        running.append(sweeper)

    def shutdown(**_: Any) -> None:
        for sweeper in running:
            sweeper.stop()

    worker_ready.connect(ready, weak=False)
    worker_shutdown.connect(shutdown, weak=False)
