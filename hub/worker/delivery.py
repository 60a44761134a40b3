"""A step task that loses Redis is put back, never failed and acknowledged.

With ``acks_late``, a task that raises is acknowledged as failed: its message is gone.
That is right for a step that failed for good (its dead letter is stored), but not for a
task that could not reach Redis (restart, failover, network): the step, its run record,
its retry or its dead letter could not be written, so acknowledging it would lose the
event. :class:`RequeueOnRedisLoss` turns those errors into a ``Reject(requeue=True)``:
the worker puts the message back at the head of the queue once Redis answers again, and
if it cannot (Redis still gone), the message stays in the broker's ``unacked`` set and is
delivered again after the visibility timeout. The step's own records
(:mod:`hub.worker.idempotency`) keep the second delivery from applying it twice.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Task
from celery.exceptions import Reject
from kombu.exceptions import OperationalError

__all__ = ["REDIS_LOSS", "RequeueOnRedisLoss"]

log = logging.getLogger("hub.worker")

#: errors that mean "Redis is not answering", not "the step failed"
REDIS_LOSS: tuple[type[BaseException], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    OperationalError,
)


class RequeueOnRedisLoss(Task):  # type: ignore[misc]
    """Task base: Redis errors out of the task requeue its message instead of failing it."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except REDIS_LOSS as exc:
            log.warning(
                "%s: Redis is not answering (%s); the task goes back to the queue",
                self.request.shadow or self.name,
                type(exc).__name__,
            )
            raise Reject(f"Redis unavailable: {type(exc).__name__}", requeue=True) from exc
