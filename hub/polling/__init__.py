"""Poll triggers: the poller that pages records after a stored cursor, the cursors, and the
``hub.poll`` task beat fires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.core import lazy_exports

if TYPE_CHECKING:
    from hub.polling.cursor_view import cursor_lines, reset_cursor
    from hub.polling.cursors import CursorStore
    from hub.polling.poll_task import POLL_TASK, check_poll_operation

__all__ = ["POLL_TASK", "CursorStore", "check_poll_operation", "cursor_lines", "reset_cursor"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "cursor_view": (
            "cursor_lines",
            "reset_cursor",
        ),
        "cursors": ("CursorStore",),
        "poll_task": (
            "POLL_TASK",
            "check_poll_operation",
        ),
    },
)
