"""Broker options: a dead worker's tasks come back after the visibility timeout."""

from __future__ import annotations

from hub.core.settings import Settings
from hub.worker.celery_app import (
    MAX_COUNTDOWN_SECONDS,
    RESTORE_MUTEX_SECONDS,
    VISIBILITY_TIMEOUT_SECONDS,
    create_celery,
    transport_options,
)


def test_the_default_timeout_is_the_documented_one_and_sweeps_every_10s() -> None:
    settings = Settings()
    assert settings.hub_visibility_timeout_seconds == VISIBILITY_TIMEOUT_SECONDS
    assert VISIBILITY_TIMEOUT_SECONDS >= 10 * MAX_COUNTDOWN_SECONDS
    assert transport_options(3600) == {
        "visibility_timeout": 3600,
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
        "unacked_mutex_expire": RESTORE_MUTEX_SECONDS,
        "queue_order_strategy": "priority",
    }


def test_a_short_timeout_is_swept_for_more_often() -> None:
    celery = create_celery(Settings(hub_visibility_timeout_seconds=20))
    options = celery.conf.broker_transport_options
    assert options["visibility_timeout"] == 20 and options["unacked_restore_interval"] == 2
