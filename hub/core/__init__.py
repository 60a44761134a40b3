"""The kernel every stage uses: settings, the error tree, logging, cluster locks and
concurrency keys, fast ids, the local Redis server process, which processes are up,
operator pauses and the hook told of control transitions, and lazy package surfaces. It
imports no other stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.core.lazy import lazy_exports

if TYPE_CHECKING:
    from hub.core.batch import (
        AtSend,
        RedisBatch,
        Reply,
        flush_trailing,
        trailing_writes,
        writes_behind,
    )
    from hub.core.control_events import (
        BreakerChanged,
        BreakerState,
        ControlEvent,
        ControlEvents,
        PauseChanged,
        emit_control_event,
        no_control_events,
        set_control_events,
    )
    from hub.core.env_settings import env_name, isolated
    from hub.core.errors import (
        BreakerOpen,
        ConfigError,
        Deferred,
        FatalError,
        HubError,
        LockBusy,
        NotFound,
        Paused,
        QuotaWait,
        RetryableError,
        TemplateError,
        Throttled,
        UpstreamError,
        error_label,
    )
    from hub.core.ids import new_hex, new_uuid
    from hub.core.key_slots import KeySlots, SlotEntry, key_id
    from hub.core.locks import (
        find_or_create,
        keyed_lock,
        lock_key,
        release_lock,
        release_lock_in,
        try_lock,
        try_lock_in,
    )
    from hub.core.logs import configure_logging, lean_log_records
    from hub.core.pauses import (
        HELD_RUNS_KEY,
        PAUSE_KINDS,
        PAUSED_KEY,
        Pause,
        PauseKind,
        PauseStore,
    )
    from hub.core.presence import Presence, Seen, seen
    from hub.core.redis_connect import (
        SentinelAddress,
        async_redis_client,
        broker_ssl,
        broker_transport_options,
        broker_url,
        redis_client,
        sentinel_address,
        tls_options,
    )
    from hub.core.redis_server import RedisServer, free_port
    from hub.core.settings import ConnectorSettings, Settings, get_settings
    from hub.core.settings_doc import settings_table
    from hub.core.startup_heap import freeze_startup_heap

__all__ = [
    "HELD_RUNS_KEY",
    "PAUSED_KEY",
    "PAUSE_KINDS",
    "AtSend",
    "BreakerChanged",
    "BreakerOpen",
    "BreakerState",
    "ConfigError",
    "ConnectorSettings",
    "ControlEvent",
    "ControlEvents",
    "Deferred",
    "FatalError",
    "HubError",
    "KeySlots",
    "LockBusy",
    "NotFound",
    "Pause",
    "PauseChanged",
    "PauseKind",
    "PauseStore",
    "Paused",
    "Presence",
    "QuotaWait",
    "RedisBatch",
    "RedisServer",
    "Reply",
    "RetryableError",
    "Seen",
    "SentinelAddress",
    "Settings",
    "SlotEntry",
    "TemplateError",
    "Throttled",
    "UpstreamError",
    "async_redis_client",
    "broker_ssl",
    "broker_transport_options",
    "broker_url",
    "configure_logging",
    "emit_control_event",
    "env_name",
    "error_label",
    "find_or_create",
    "flush_trailing",
    "free_port",
    "freeze_startup_heap",
    "get_settings",
    "isolated",
    "key_id",
    "keyed_lock",
    "lazy_exports",
    "lean_log_records",
    "lock_key",
    "new_hex",
    "new_uuid",
    "no_control_events",
    "redis_client",
    "release_lock",
    "release_lock_in",
    "seen",
    "sentinel_address",
    "set_control_events",
    "settings_table",
    "tls_options",
    "trailing_writes",
    "try_lock",
    "try_lock_in",
    "writes_behind",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "batch": (
            "AtSend",
            "RedisBatch",
            "Reply",
            "flush_trailing",
            "trailing_writes",
            "writes_behind",
        ),
        "control_events": (
            "BreakerChanged",
            "BreakerState",
            "ControlEvent",
            "ControlEvents",
            "PauseChanged",
            "emit_control_event",
            "no_control_events",
            "set_control_events",
        ),
        "env_settings": (
            "env_name",
            "isolated",
        ),
        "errors": (
            "BreakerOpen",
            "ConfigError",
            "Deferred",
            "FatalError",
            "HubError",
            "LockBusy",
            "NotFound",
            "Paused",
            "QuotaWait",
            "RetryableError",
            "TemplateError",
            "Throttled",
            "UpstreamError",
            "error_label",
        ),
        "ids": (
            "new_hex",
            "new_uuid",
        ),
        "key_slots": (
            "KeySlots",
            "SlotEntry",
            "key_id",
        ),
        "locks": (
            "find_or_create",
            "keyed_lock",
            "lock_key",
            "release_lock",
            "release_lock_in",
            "try_lock",
            "try_lock_in",
        ),
        "logs": ("configure_logging", "lean_log_records"),
        "pauses": (
            "HELD_RUNS_KEY",
            "PAUSED_KEY",
            "PAUSE_KINDS",
            "Pause",
            "PauseKind",
            "PauseStore",
        ),
        "startup_heap": ("freeze_startup_heap",),
        "presence": (
            "Presence",
            "Seen",
            "seen",
        ),
        "redis_connect": (
            "SentinelAddress",
            "async_redis_client",
            "broker_ssl",
            "broker_transport_options",
            "broker_url",
            "redis_client",
            "sentinel_address",
            "tls_options",
        ),
        "redis_server": (
            "RedisServer",
            "free_port",
        ),
        "settings": (
            "ConnectorSettings",
            "Settings",
            "get_settings",
        ),
        "settings_doc": ("settings_table",),
    },
)
