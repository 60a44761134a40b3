"""Logging for every hub process: readable text locally, one JSON object a line in production.

Lines carry ids, never event data: Celery's task lines (received, succeeded, failed) lose
the task's arguments and return value on the way out (:class:`TaskDataFilter`), in both
formats, since a step's arguments and result are its run context with the event in it.
An upstream's refusal is named by its class and HTTP status, not its text, which may quote
the record refused; the text stays in the run record.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from hub.core.errors import UpstreamError, error_label, upstream_error_names

__all__ = [
    "TASK_DATA_FIELDS",
    "JsonFormatter",
    "PeriodicFlushHandler",
    "TaskDataFilter",
    "TextFormatter",
    "configure_logging",
    "lean_log_records",
]

#: attributes a LogRecord always has; anything else was passed as ``extra=`` and is kept
#: (but for uvicorn's ``color_message``, the message again with terminal colours)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}

#: what Celery's task lines pass along that holds a task's data, not its ids
TASK_DATA_FIELDS = frozenset({"args", "kwargs", "return_value"})
#: Celery's success line, without the ``: <return value>`` it ends with
_TASK_SUCCEEDED = "Task %(name)s[%(id)s] succeeded in %(runtime)ss"


def _upstream_repr() -> re.Pattern[str]:
    """An upstream error's repr in Celery's failure and retry lines, ``FatalError('...')``,
    for every subclass defined so far (a connector may define its own)."""
    names = "|".join(sorted(upstream_error_names()))
    return re.compile(rf"\b({names})\(.*\)", re.DOTALL)


def _without_upstream_text(record: logging.LogRecord, context: dict[str, Any]) -> None:
    """Celery's failure and retry lines name an upstream error by class, without its text
    (and without the traceback, whose last line repeats it: a refusal is no bug)."""
    exc = context.get("exc")
    if not isinstance(exc, str):
        return
    raised = record.exc_info[1] if record.exc_info else None
    if isinstance(raised, UpstreamError):
        context["exc"] = error_label(raised)
    elif (pattern := _upstream_repr()).search(exc):
        context["exc"] = pattern.sub(r"\1", exc)
    else:
        return
    context.pop("traceback", None)
    record.exc_info = None
    record.exc_text = None


class TaskDataFilter(logging.Filter):
    """Takes the task's arguments and return value out of Celery's task log lines.

    Celery logs ``Task <name>[<id>] succeeded in <s>s: <return value>``, and passes the
    arguments and the return value along as the record's ``data`` (which a JSON line
    would write out). A step's arguments and return value are its run context: the event,
    with whatever personal data it holds. This filter leaves the line its ids, time and
    error: the success line ends after the time, and an upstream error is named by its
    class and status only.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("celery") or not isinstance(record.args, dict):
            return True
        context = record.args
        if not (TASK_DATA_FIELDS | {"exc"}) & context.keys():
            return True
        if "return_value" in context:
            record.msg = _TASK_SUCCEEDED
        kept = {k: v for k, v in context.items() if k not in TASK_DATA_FIELDS}
        _without_upstream_text(record, kept)
        record.args = kept
        if isinstance(getattr(record, "data", None), dict):
            record.data = kept
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any ``extra=`` fields (event_id, run_id, ...)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger>: <message>``; the time's date and clock part is
    formatted once a second, not for every line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second, stamp = self._second
        if int(record.created) != second:
            stamp = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = (int(record.created), stamp)
        return f"{stamp},{int(record.msecs):03d}"


class PeriodicFlushHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes log lines to a buffer that is flushed every ``interval`` seconds.

    A line per delivery at thousands of deliveries a second made a ``write`` system call
    per line the largest cost of the ingress; here one call carries every line of an
    interval. Records at ``flush_level`` (WARNING) or above are flushed at once, and
    :func:`logging.shutdown` flushes the rest on exit; a process killed outright loses
    at most the last interval's INFO lines (accepted events are recorded in Redis).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interval: float = 0.2,
        flush_level: int = logging.WARNING,
    ) -> None:
        target = stream if stream is not None else sys.stderr
        try:
            fd = target.fileno()
        except (AttributeError, OSError, ValueError):  # no file behind it (a capture)
            super().__init__(target)
        else:
            raw = open(fd, "wb", buffering=1 << 16, closefd=False)  # noqa: SIM115
            super().__init__(io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace"))
        self.flush_level = flush_level
        self._stop = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_every, args=(interval,), name="log-flush", daemon=True
        )
        self._flusher.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= self.flush_level:
                self.stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _flush_every(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()
        super().close()


def configure_logging(
    fmt: str = "text", level: str = "INFO", *, flush_seconds: float | None = None
) -> None:
    """Set up the root logger once per process; quiet libraries that log request URLs.

    With ``flush_seconds``, lines are written in batches that often (see
    :class:`PeriodicFlushHandler`), for a process that logs a line per request.
    """
    handler: logging.Handler
    if flush_seconds:
        handler = PeriodicFlushHandler(interval=flush_seconds)
    else:
        handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    handler.addFilter(TaskDataFilter())
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # request URLs carry query filters (emails, names): keep them out of INFO logs
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def lean_log_records() -> None:
    """Stop log records from gathering what no hub log format shows, in a process that
    logs a line per delivery or per step (the ingress, a worker).

    By default every record also walks the stack for its caller's file and line and
    looks up the thread and process names, which cost as much as the rest of the line
    (the logging HOWTO's "Optimization" flags). Neither :class:`TextFormatter` nor
    :class:`JsonFormatter` shows them.
    """
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
