"""The Celery application: broker, delivery guarantees and event settings.

Delivery is at-least-once: a task is acknowledged only after it finished
(``acks_late``), and requeued when its worker dies (``task_reject_on_worker_lost``).
Each worker reserves one task at a time (``prefetch_multiplier=1``) so long waits never
strand queued work behind a busy process. With the Redis broker, a message not
acknowledged within ``visibility_timeout`` is delivered again; every countdown the hub
schedules stays below :data:`MAX_COUNTDOWN_SECONDS`, far under that timeout.

Steps are routed to a queue by their workflow's priority (:mod:`hub.worker.queues`);
workers consume their queues in the order given, highest priority first.

A worker killed outright (SIGKILL, OOM, a lost node) cannot requeue what it held: its
tasks stay in the broker's ``unacked`` set and any live worker delivers them again once
they are ``visibility_timeout`` old (``HUB_VISIBILITY_TIMEOUT_SECONDS``). The hub's
transport (:mod:`hub.worker.broker`) records a message there in the same step that takes
it from its queue, so none is lost in between. The redelivered step finds its own record
(:mod:`hub.worker.idempotency`) and is not applied twice. A task that loses Redis itself
is requeued rather than failed (:class:`hub.worker.delivery.RequeueOnRedisLoss`). The
restore sweep's mutex expires after :data:`RESTORE_MUTEX_SECONDS`, so a worker killed
while it swept does not hold redelivery back for kombu's default five minutes.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

from hub.core import (
    Settings,
    broker_ssl,
    broker_transport_options,
    broker_url,
    get_settings,
)
from hub.worker.queues import DEFAULT_QUEUE, route_step
from hub.worker.task_data import IdsOnlyAMQP

__all__ = [
    "MAX_COUNTDOWN_SECONDS",
    "QUEUE",
    "RESTORE_MUTEX_SECONDS",
    "SENTINEL_TRANSPORT",
    "TASK_MODULES",
    "TRANSPORT",
    "VISIBILITY_TIMEOUT_SECONDS",
    "app",
    "create_celery",
    "transport_options",
]

#: the longest single countdown (quota wait or backoff) the hub ever schedules
MAX_COUNTDOWN_SECONDS = 300
#: Redis broker redelivery horizon: 12x the longest countdown (HUB_VISIBILITY_TIMEOUT_SECONDS)
VISIBILITY_TIMEOUT_SECONDS = 3600
#: the default step queue (``hub.interactive`` and ``hub.bulk`` beside it)
QUEUE = DEFAULT_QUEUE
#: modules whose tasks every worker registers
TASK_MODULES = ["hub.worker.tasks", "hub.polling.poll_task", "hub.worker.beat"]
#: expiry of the lock a worker holds while it sweeps the broker for tasks to redeliver
RESTORE_MUTEX_SECONDS = 15
#: kombu's Redis transport, taking messages without a window to lose them
TRANSPORT = "hub.worker.broker:Transport"
#: the same on the primary that Redis Sentinel names (``redis+sentinel://`` HUB_REDIS_URL)
SENTINEL_TRANSPORT = "hub.worker.broker:SentinelTransport"
# A sentinel broker URL is one ``sentinel://`` URL per sentinel; when a connection fails,
# kombu moves on to the next URL and takes its transport from the URL's scheme. In the
# hub's processes that scheme names the hub's transport, never kombu's own (whose take
# can lose a message), and Flower, reading the same scheme, finds the broker it knows.
TRANSPORT_ALIASES["sentinel"] = SENTINEL_TRANSPORT


def transport_options(visibility_timeout: int) -> dict[str, Any]:
    """Redis transport options: a dead worker's tasks come back ``visibility_timeout``
    seconds after it took them, found by a sweep every tenth of that (10 s at most), each
    sweep a real scan (kombu's default scans on every tenth sweep only). Queues are
    consumed in the order a worker lists them: highest priority first."""
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": max(1, min(10, visibility_timeout // 10)),
        "unacked_restore_throttle": 1,
        "unacked_mutex_expire": RESTORE_MUTEX_SECONDS,
        "queue_order_strategy": "priority",
    }


def create_celery(settings: Settings) -> Celery:
    """A configured Celery app for ``settings`` (the broker is ``HUB_REDIS_URL``)."""
    broker = broker_url(settings)
    sentinel = "master_name" in broker_transport_options(settings)
    # messages show ids only in their argsrepr/kwargsrepr (events, Flower, worker logs)
    celery = Celery("hub", broker=broker, include=TASK_MODULES, amqp=IdsOnlyAMQP)
    celery.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        task_routes=(route_step,),
        broker_transport="sentinel" if sentinel else TRANSPORT,
        broker_use_ssl=broker_ssl(settings),
        broker_transport_options={
            **transport_options(settings.hub_visibility_timeout_seconds),
            **broker_transport_options(settings),
        },
        broker_connection_retry_on_startup=True,
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_track_started=True,
        worker_hijack_root_logger=False,
        enable_utc=True,
    )
    return celery


app = create_celery(get_settings())
