"""A worker says it is up (:mod:`hub.core.presence`) from when it is ready until it stops."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import redis
from celery.signals import worker_ready, worker_shutdown

from hub.core import Presence, get_settings, redis_client

__all__ = ["announce_worker"]


def announce_worker(redis_url: str, detail: Mapping[str, Any]) -> None:
    """Once this process's worker is ready, announce it under its node name with
    ``detail`` (concurrency, queues); withdraw it as it shuts down."""
    announced: list[Presence] = []

    def ready(sender: Any, **_: Any) -> None:
        client = redis_client(get_settings(), redis_url)
        presence = Presence(client, "worker", str(sender.hostname), detail=detail)
        presence.keep_up()
        announced.append(presence)

    def shutdown(**_: Any) -> None:
        for presence in announced:
            with contextlib.suppress(redis.RedisError):  # else it goes stale on its own
                presence.withdraw()

    worker_ready.connect(ready, weak=False)
    worker_shutdown.connect(shutdown, weak=False)
