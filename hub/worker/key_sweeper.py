"""Each worker sweeps the concurrency keys whose holders' leases ran out.

A holder killed with its worker never gives its place back; its lease runs out and the
key is then due a sweep (:meth:`hub.core.KeySlots.due`). Every ``hub worker`` process
looks for such keys in a thread of its own, from when it is ready until it stops, and
sweeps them (the sweep is atomic, so workers sweeping the same key at once do no harm);
the waiters whose turn came are sent. Each look says when the next key is due, and the
sweeper sleeps until then, :data:`SWEEP_INTERVAL_SECONDS` at most: an idle worker looks
once in that interval, and a key that gets waiters while it sleeps is swept at most that
much later than its lease allows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from celery.signals import worker_ready, worker_shutdown

__all__ = ["SWEEP_INTERVAL_SECONDS", "KeySweeper", "sweep_keys_in_worker"]

if TYPE_CHECKING:
    from hub.worker.concurrency import Swept

log = logging.getLogger("hub.worker")

#: the longest a worker sleeps between two looks for keys due a sweep
SWEEP_INTERVAL_SECONDS = 5.0
#: the shortest: a key due in less is swept after this
_SOONEST_SECONDS = 0.01


class KeySweeper:
    """Calls ``sweep`` in a thread until stopped: again when the next key is due, after
    ``interval`` seconds at most."""

    def __init__(self, sweep: Callable[[], Swept], interval: float = SWEEP_INTERVAL_SECONDS):
        self._sweep = sweep
        self._interval = interval
        self._stop = threading.Event()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name="key-sweeper", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        wait = 0.0  # a first look at once: keys may be due from before this worker
        while not self._stop.wait(wait):
            wait = self._interval
            try:
                result = self._sweep()
            except Exception as exc:  # Redis away for a while: look again later
                log.warning("concurrency keys not swept: %s", type(exc).__name__)
                continue
            if result.swept:
                log.info("swept %d concurrency key(s) whose holder's lease ran out", result.swept)
            if result.next_in is not None:
                wait = min(self._interval, max(result.next_in, _SOONEST_SECONDS))


def sweep_keys_in_worker() -> None:
    """Once this process's worker is ready, sweep the keys due until it shuts down."""
    running: list[KeySweeper] = []

    def ready(**_: Any) -> None:
        from hub.worker.tasks import concurrency_gate

        sweeper = KeySweeper(concurrency_gate().sweep)
        sweeper.start()
        running.append(sweeper)

    def shutdown(**_: Any) -> None:
        for sweeper in running:
            sweeper.stop()

    worker_ready.connect(ready, weak=False)
    worker_shutdown.connect(shutdown, weak=False)
