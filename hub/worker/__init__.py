"""Celery-bound execution only: the app, the broker transport, the step task, the flow
around a step, queues, dispatch, idempotency, concurrency keys and their sweeper, and beat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.core import lazy_exports

if TYPE_CHECKING:
    from hub.worker.announce import announce_worker
    from hub.worker.beat import run_beat
    from hub.worker.broker import BELL_TOKENS, bell_key, ring_for
    from hub.worker.celery_app import MAX_COUNTDOWN_SECONDS, app, create_celery
    from hub.worker.dispatch import StepCall, StepDispatch
    from hub.worker.flow import Flow
    from hub.worker.key_sweeper import sweep_keys_in_worker
    from hub.worker.queues import DEFAULT_QUEUE, INTERACTIVE_QUEUE, STEP_QUEUES, parse_queues
    from hub.worker.quota_waker import wake_quota_waiters_in_worker
    from hub.worker.runtime import Runtime, find_step
    from hub.worker.startup_heap import freeze_startup_heap_in_worker

__all__ = [
    "BELL_TOKENS",
    "DEFAULT_QUEUE",
    "INTERACTIVE_QUEUE",
    "MAX_COUNTDOWN_SECONDS",
    "STEP_QUEUES",
    "Flow",
    "Runtime",
    "StepCall",
    "StepDispatch",
    "announce_worker",
    "app",
    "bell_key",
    "create_celery",
    "find_step",
    "freeze_startup_heap_in_worker",
    "parse_queues",
    "ring_for",
    "run_beat",
    "sweep_keys_in_worker",
    "wake_quota_waiters_in_worker",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "announce": ("announce_worker",),
        "beat": ("run_beat",),
        "broker": (
            "BELL_TOKENS",
            "bell_key",
            "ring_for",
        ),
        "startup_heap": ("freeze_startup_heap_in_worker",),
        "celery_app": (
            "MAX_COUNTDOWN_SECONDS",
            "app",
            "create_celery",
        ),
        "dispatch": (
            "StepCall",
            "StepDispatch",
        ),
        "flow": ("Flow",),
        "key_sweeper": ("sweep_keys_in_worker",),
        "queues": (
            "DEFAULT_QUEUE",
            "INTERACTIVE_QUEUE",
            "STEP_QUEUES",
            "parse_queues",
        ),
        "quota_waker": ("wake_quota_waiters_in_worker",),
        "runtime": (
            "Runtime",
            "find_step",
        ),
    },
)
