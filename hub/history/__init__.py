"""What happened: run records, dead letters and their replay, searches over runs, the
cluster's metrics, the transition log, and their rendering for the command line; the
hub's own events (``run.failed``, ...) into its built-in source ``hub``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.core import lazy_exports

if TYPE_CHECKING:
    from hub.history.control_alerts import ControlAlerts, install_control_alerts
    from hub.history.dead_letters import DeadLetterFilter, DeadLetterStore
    from hub.history.events_log import log_event
    from hub.history.hub_events import (
        HUB_EVENT_TYPES,
        AlertGroups,
        HubEvents,
        HubEventSink,
        budget_backlog,
        emit_hub_event,
        from_hub_event,
    )
    from hub.history.metrics import CONTENT_TYPE, dead_letter_counts, exposition
    from hub.history.render import (
        as_json,
        dead_letter_detail,
        dead_letter_table,
        parse_since,
        run_detail,
        run_table,
    )
    from hub.history.replay import Replayer, ReplayError, replay_summary
    from hub.history.runs import (
        EVENT_RUNS,
        RUN_KEY,
        RUNS_INDEX,
        RunRecord,
        RunStatus,
        RunStore,
        WaitReason,
    )
    from hub.history.search import RunFilter, find_runs

__all__ = [
    "CONTENT_TYPE",
    "EVENT_RUNS",
    "HUB_EVENT_TYPES",
    "RUNS_INDEX",
    "RUN_KEY",
    "AlertGroups",
    "ControlAlerts",
    "DeadLetterFilter",
    "DeadLetterStore",
    "HubEventSink",
    "HubEvents",
    "ReplayError",
    "Replayer",
    "RunFilter",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "WaitReason",
    "as_json",
    "budget_backlog",
    "dead_letter_counts",
    "dead_letter_detail",
    "dead_letter_table",
    "emit_hub_event",
    "exposition",
    "find_runs",
    "from_hub_event",
    "install_control_alerts",
    "log_event",
    "parse_since",
    "replay_summary",
    "run_detail",
    "run_table",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "control_alerts": (
            "ControlAlerts",
            "install_control_alerts",
        ),
        "dead_letters": (
            "DeadLetterFilter",
            "DeadLetterStore",
        ),
        "events_log": ("log_event",),
        "hub_events": (
            "HUB_EVENT_TYPES",
            "AlertGroups",
            "HubEventSink",
            "HubEvents",
            "budget_backlog",
            "emit_hub_event",
            "from_hub_event",
        ),
        "metrics": (
            "CONTENT_TYPE",
            "dead_letter_counts",
            "exposition",
        ),
        "render": (
            "as_json",
            "dead_letter_detail",
            "dead_letter_table",
            "parse_since",
            "run_detail",
            "run_table",
        ),
        "replay": (
            "ReplayError",
            "Replayer",
            "replay_summary",
        ),
        "runs": (
            "EVENT_RUNS",
            "RUNS_INDEX",
            "RUN_KEY",
            "RunRecord",
            "RunStatus",
            "RunStore",
            "WaitReason",
        ),
        "search": (
            "RunFilter",
            "find_runs",
        ),
    },
)
