"""The sandbox kit: what every connector's sandbox (an ASGI app playing its upstream) shares.

- :mod:`~hub.sandbox.clock`: injectable clocks (:class:`FakeClock` for tests).
- :mod:`~hub.sandbox.quota`: the rolling-window limiter and rate-limit headers.
- :mod:`~hub.sandbox.faults`: error rates, latency, 429 storms, drops, scripted answers.
- :mod:`~hub.sandbox.calllog`: the log of every call; :func:`max_calls_in_window`,
  :func:`window_use`.
- :mod:`~hub.sandbox.mongo`: a MongoDB-style query matcher.
- :mod:`~hub.sandbox.documents`: namespaced in-memory collections.
- :mod:`~hub.sandbox.tokens`: bearer tokens with expiry.
- :mod:`~hub.sandbox.rest`: Mongo-style REST resources declared as data.
- :mod:`~hub.sandbox.gate`: identify, meter, inject, answer, log: every API call's path.
- :mod:`~hub.sandbox.control`: the ``/_sandbox/`` control routes.
- :mod:`~hub.sandbox.envconfig`, :mod:`~hub.sandbox.serve`: config from env; serving in a thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.core import lazy_exports

if TYPE_CHECKING:
    from hub.sandbox.app import METHODS, SandboxConfig, build_core, sandbox_app, strict_sandboxes
    from hub.sandbox.calllog import (
        CallLog,
        CallRecord,
        max_calls_in_window,
        window_counts,
        window_use,
    )
    from hub.sandbox.clock import Clock, FakeClock, SystemClock, iso_utc
    from hub.sandbox.control import control_mount, control_routes
    from hub.sandbox.core import SandboxCore, UnknownResource
    from hub.sandbox.declaration import Sandbox, record_line
    from hub.sandbox.documents import MemoryStore, new_object_id
    from hub.sandbox.envconfig import config_from_env
    from hub.sandbox.faults import (
        FaultConfig,
        FaultDecision,
        FaultInjector,
        ScriptedAnswer,
        ScriptRule,
        StormConfig,
    )
    from hub.sandbox.gate import Gate
    from hub.sandbox.inputs import BadInput, bearer_token, content_type, read_form, read_object
    from hub.sandbox.mongo import QueryError, compile_query, key_filter_query, matches
    from hub.sandbox.quota import QuotaDecision, RollingWindowLimiter, rate_limit_headers
    from hub.sandbox.records import Naming, RecordTable
    from hub.sandbox.responses import (
        DroppedConnection,
        DroppedResponse,
        json_error,
        quiet_dropped_connections,
        reason,
    )
    from hub.sandbox.rest import MongoRest, ResourceSpec, resource_table
    from hub.sandbox.serve import serve_in_thread
    from hub.sandbox.tokens import TokenStore

__all__ = [
    "METHODS",
    "BadInput",
    "CallLog",
    "CallRecord",
    "Clock",
    "DroppedConnection",
    "DroppedResponse",
    "FakeClock",
    "FaultConfig",
    "FaultDecision",
    "FaultInjector",
    "Gate",
    "MemoryStore",
    "MongoRest",
    "Naming",
    "QueryError",
    "QuotaDecision",
    "RecordTable",
    "ResourceSpec",
    "RollingWindowLimiter",
    "Sandbox",
    "SandboxConfig",
    "SandboxCore",
    "ScriptRule",
    "ScriptedAnswer",
    "StormConfig",
    "SystemClock",
    "TokenStore",
    "UnknownResource",
    "bearer_token",
    "build_core",
    "compile_query",
    "config_from_env",
    "content_type",
    "control_mount",
    "control_routes",
    "iso_utc",
    "json_error",
    "key_filter_query",
    "matches",
    "max_calls_in_window",
    "new_object_id",
    "quiet_dropped_connections",
    "rate_limit_headers",
    "read_form",
    "read_object",
    "reason",
    "record_line",
    "resource_table",
    "sandbox_app",
    "serve_in_thread",
    "strict_sandboxes",
    "window_counts",
    "window_use",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "app": (
            "METHODS",
            "SandboxConfig",
            "build_core",
            "sandbox_app",
            "strict_sandboxes",
        ),
        "calllog": (
            "CallLog",
            "CallRecord",
            "max_calls_in_window",
            "window_counts",
            "window_use",
        ),
        "clock": (
            "Clock",
            "FakeClock",
            "SystemClock",
            "iso_utc",
        ),
        "control": (
            "control_mount",
            "control_routes",
        ),
        "core": (
            "SandboxCore",
            "UnknownResource",
        ),
        "declaration": (
            "Sandbox",
            "record_line",
        ),
        "documents": (
            "MemoryStore",
            "new_object_id",
        ),
        "envconfig": ("config_from_env",),
        "faults": (
            "FaultConfig",
            "FaultDecision",
            "FaultInjector",
            "ScriptRule",
            "ScriptedAnswer",
            "StormConfig",
        ),
        "gate": ("Gate",),
        "inputs": (
            "BadInput",
            "bearer_token",
            "content_type",
            "read_form",
            "read_object",
        ),
        "mongo": (
            "QueryError",
            "compile_query",
            "key_filter_query",
            "matches",
        ),
        "quota": (
            "QuotaDecision",
            "RollingWindowLimiter",
            "rate_limit_headers",
        ),
        "records": (
            "Naming",
            "RecordTable",
        ),
        "responses": (
            "DroppedConnection",
            "DroppedResponse",
            "json_error",
            "quiet_dropped_connections",
            "reason",
        ),
        "rest": (
            "MongoRest",
            "ResourceSpec",
            "resource_table",
        ),
        "serve": ("serve_in_thread",),
        "tokens": ("TokenStore",),
    },
)
