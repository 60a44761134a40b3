"""Each worker runs a releaser that sends steps parked for quota at their turn.

From when a ``hub worker`` is ready until it stops, a thread of its own loops: it asks
:meth:`hub.http.QuotaWaker.wake_due` for the parked steps whose slots just freed (the
grant is atomic, so releasers on several workers never send one step twice), sends each
again, then sleeps until the next budget is due or a bell rings (a slot given back, a
step parked). Redis away for a while: it looks again shortly.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from celery.signals import worker_ready, worker_shutdown

from hub.http import QuotaWaker

__all__ = ["QuotaReleaser", "wake_quota_waiters_in_worker"]

log = logging.getLogger("hub.worker")

#: the longest the releaser sleeps without looking (a step that parks, a slot given back
#: and a turn come sooner ring its bell; a budget due sooner is looked at when due); under
#: the Redis client's socket timeout (redis-py's default: 5 s), which a wait must not reach
LONGEST_SLEEP_SECONDS = 4.0


class QuotaReleaser:
    """Sends the steps ``waker`` hands back (through ``send``) in a thread until stopped."""

    def __init__(self, waker: QuotaWaker, send: Callable[[Mapping[str, Any]], None]) -> None:
        self._waker = waker
        self._send = send
        self._stop = threading.Event()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name="quota-releaser", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> int:
        """Send the steps due now; how many."""
        woken = self._waker.wake_due()
        for payload in woken:
            self._send(json.loads(payload))
        return len(woken)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
                self._waker.wait(LONGEST_SLEEP_SECONDS)
            except Exception as exc:  # Redis away for a while: look again shortly
                log.warning("steps waiting for quota not woken: %s", type(exc).__name__)
                self._stop.wait(0.5)


def wake_quota_waiters_in_worker() -> None:
    """Once this process's worker is ready, wake steps parked for quota until it stops."""
    running: list[QuotaReleaser] = []

    def ready(**_: Any) -> None:
        from hub.worker.tasks import quota_releaser

        releaser = quota_releaser()
        releaser.start()
        running.append(releaser)

    def shutdown(**_: Any) -> None:
        for releaser in running:
            releaser.stop()

    worker_ready.connect(ready, weak=False)
    worker_shutdown.connect(shutdown, weak=False)
