"""The sandbox kit: what every connector's sandbox (an ASGI app playing its upstream) shares.

- :mod:`~hub.sandbox.clock`: injectable clocks (:class:`FakeClock` for tests).
- :mod:`~hub.sandbox.quota`: the rolling-window limiter and rate-limit headers.
- :mod:`~hub.sandbox.faults`: error rates, latency, 429 storms, drops, scripted answers.
- :mod:`~hub.sandbox.calllog`: the log of every call; :func:`max_calls_in_window`.
- :mod:`~hub.sandbox.mongo`: a MongoDB-style query matcher.
- :mod:`~hub.sandbox.documents`: namespaced in-memory collections.
- :mod:`~hub.sandbox.tokens`: bearer tokens with expiry.
- :mod:`~hub.sandbox.rest`: Mongo-style REST resources declared as data.
- :mod:`~hub.sandbox.gate`: identify, meter, inject, answer, log: every API call's path.
- :mod:`~hub.sandbox.control`: the ``/_sandbox/`` control routes.
- :mod:`~hub.sandbox.envconfig`, :mod:`~hub.sandbox.serve`: config from env; serving in a thread.
"""

from hub.sandbox.calllog import CallLog, CallRecord, max_calls_in_window, window_counts
from hub.sandbox.clock import Clock, FakeClock, SystemClock, iso_utc
from hub.sandbox.control import control_mount, control_routes
from hub.sandbox.core import SandboxCore, UnknownResource
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
from hub.sandbox.mongo import QueryError, compile_query, key_filter_query, matches
from hub.sandbox.quota import QuotaDecision, RollingWindowLimiter, rate_limit_headers
from hub.sandbox.responses import (
    DroppedConnection,
    DroppedResponse,
    json_error,
    quiet_dropped_connections,
)
from hub.sandbox.rest import MongoRest, ResourceSpec, resource_table
from hub.sandbox.serve import serve_in_thread
from hub.sandbox.tokens import TokenStore

__all__ = [
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
    "QueryError",
    "QuotaDecision",
    "ResourceSpec",
    "RollingWindowLimiter",
    "SandboxCore",
    "ScriptRule",
    "ScriptedAnswer",
    "StormConfig",
    "SystemClock",
    "TokenStore",
    "UnknownResource",
    "compile_query",
    "config_from_env",
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
    "resource_table",
    "serve_in_thread",
    "window_counts",
]
