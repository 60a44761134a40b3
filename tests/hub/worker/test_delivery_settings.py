"""The delivery settings the reliability contract rests on, and the Redis-loss requeue."""

from __future__ import annotations

import pytest
import redis
from celery.exceptions import Reject

from hub.core.settings import Settings
from hub.worker.celery_app import (
    MAX_COUNTDOWN_SECONDS,
    RESTORE_MUTEX_SECONDS,
    VISIBILITY_TIMEOUT_SECONDS,
    create_celery,
)
from hub.worker.delivery import RequeueOnRedisLoss


def test_at_least_once_delivery_is_configured() -> None:
    conf = create_celery(Settings()).conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    options = conf.broker_transport_options
    assert options["visibility_timeout"] == VISIBILITY_TIMEOUT_SECONDS == 3600
    assert VISIBILITY_TIMEOUT_SECONDS >= 12 * MAX_COUNTDOWN_SECONDS
    # a dead worker's tasks are swept back every 10 s once due, each sweep a real scan
    assert (options["unacked_restore_interval"], options["unacked_restore_throttle"]) == (10, 1)
    assert options["unacked_mutex_expire"] == RESTORE_MUTEX_SECONDS
    assert options["queue_order_strategy"] == "priority"
    assert conf.broker_transport == "hub.worker.broker:Transport"


def test_a_short_visibility_timeout_sweeps_more_often() -> None:
    options = create_celery(Settings(hub_visibility_timeout_seconds=10)).conf
    assert options.broker_transport_options["visibility_timeout"] == 10
    assert options.broker_transport_options["unacked_restore_interval"] == 1


def test_the_step_task_has_no_celery_retry_limit() -> None:
    from hub.worker.tasks import run_step

    # the retry policy and the quota decide; Celery's default (3) would drop a step's
    # fourth wait as an error, with no failure handling and no dead letter
    assert run_step.max_retries is None


@pytest.mark.parametrize(
    "error",
    [redis.ConnectionError("refused"), redis.TimeoutError("slow"), redis.BusyLoadingError("AOF")],
)
def test_a_task_that_loses_redis_is_requeued_not_failed(error: Exception) -> None:
    app = create_celery(Settings())

    name = f"probe-{type(error).__name__}"

    @app.task(bind=True, base=RequeueOnRedisLoss, name=name)  # type: ignore[untyped-decorator]
    def probe(self: RequeueOnRedisLoss) -> None:
        raise error

    with pytest.raises(Reject) as rejected:
        probe()
    assert rejected.value.requeue is True
    assert type(error).__name__ in str(rejected.value.reason)


def test_other_errors_go_through() -> None:
    app = create_celery(Settings())

    @app.task(bind=True, base=RequeueOnRedisLoss, name="probe2")  # type: ignore[untyped-decorator]
    def probe(self: RequeueOnRedisLoss) -> None:
        raise ValueError("a step's own failure")

    with pytest.raises(ValueError, match="own failure"):
        probe()
