"""Which lines of a hub process's output are warnings and errors to show an operator.

``hub up`` writes every line its processes print to their log files and shows only
:class:`Notice` s in the terminal: log records at WARNING and above (in the text or the
JSON format), Python warnings, ``error:``/``warning:`` lines of a command that refused
to start, and the last line of a traceback that no log record owns (a crash). Records
about one run (its transitions, Celery's task outcome, the worker's "failed for good")
are left out: the run's own line in the terminal says how it ended.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

__all__ = ["LineReader", "Notice"]

_TEXT_RECORD = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) (?P<logger>\S+): (?P<message>.*)$"
)
_PYTHON_WARNING = re.compile(r"^\S.*:\d+: (?P<category>\w*Warning): (?P<message>.*)$")
_COMMAND_REFUSAL = re.compile(r"^(?P<level>error|warning): (?P<message>.*)$")
_RUN_ID = re.compile(r"\brun [0-9a-f]{32}\b")
#: loggers whose every line is about one run
_RUN_LOGGERS = frozenset({"hub.transitions", "celery.app.trace"})
_SHOWN_LEVELS = {"WARNING": "warning", "ERROR": "error", "CRITICAL": "error"}
_TRACEBACK = "Traceback (most recent call last):"
#: the exception lines of a process told to stop (Ctrl-C, a clean exit), not errors
_STOPPING = frozenset({"KeyboardInterrupt", "SystemExit", "SystemExit: 0"})
#: lines between the tracebacks of chained exceptions
_CHAINED = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)


@dataclass(frozen=True)
class Notice:
    """A warning or an error an operator should see."""

    level: str  # "warning" or "error"
    logger: str
    message: str


def _continues_warning(line: str) -> bool:
    """Whether ``line`` goes on with a Python warning's message: a warning ends at a blank
    line, its source line (indented) or a line that starts something else."""
    if not line.strip() or line[0].isspace() or line == _TRACEBACK:
        return False
    return not (_TEXT_RECORD.match(line) or line.startswith("{") or _PYTHON_WARNING.match(line))


def _about_a_run(logger: str, message: str) -> bool:
    return logger in _RUN_LOGGERS or _RUN_ID.search(message) is not None


def _record(level: str, logger: str, message: str) -> Notice | None:
    shown = _SHOWN_LEVELS.get(level.upper())
    if shown is None or _about_a_run(logger, message):
        return None
    return Notice(shown, logger, message)


def _json_record(line: str) -> tuple[bool, Notice | None]:
    """(whether ``line`` is a JSON log record, its notice)."""
    try:
        data = json.loads(line)
    except ValueError:
        return False, None
    if not isinstance(data, dict) or "level" not in data or "msg" not in data:
        return False, None
    if "run_id" in data:
        return True, None
    return True, _record(str(data["level"]), str(data.get("logger", "")), str(data["msg"]))


class LineReader:
    """Reads one process's lines in order and picks its notices."""

    def __init__(self) -> None:
        self._in_traceback = False
        self._traceback_owned = False
        self._after_record = False
        #: a Python warning whose message goes on over the next lines, until a blank one
        self._warning: Notice | None = None

    def read(self, line: str) -> list[Notice]:
        """The notices ``line`` (without its newline) completes: mostly none or one."""
        if self._warning is not None and _continues_warning(line):
            self._warning = replace(self._warning, message=f"{self._warning.message} {line}")
            return []
        finished = [self._warning] if self._warning is not None else []
        self._warning = None
        notice = self._read(line)
        return [*finished, notice] if notice is not None else finished

    def _read(self, line: str) -> Notice | None:
        after_record, self._after_record = self._after_record, False
        if line == _TRACEBACK:
            if not self._in_traceback:
                self._traceback_owned = after_record
            self._in_traceback = True
            return None
        if self._in_traceback:
            return self._traceback_line(line)
        if after_record and (not line or line in _CHAINED):
            self._after_record = True  # a chained traceback still belongs to the record
            return None
        text = _TEXT_RECORD.match(line)
        if text is not None:
            self._after_record = True
            return _record(text["level"], text["logger"], text["message"])
        if line.startswith("{"):
            is_record, notice = _json_record(line)
            if is_record:
                return notice
        warning = _PYTHON_WARNING.match(line)
        if warning is not None:
            self._warning = Notice("warning", warning["category"], warning["message"])
            return None
        refusal = _COMMAND_REFUSAL.match(line)
        if refusal is not None:
            return Notice(refusal["level"], "", refusal["message"])
        return None

    def close(self) -> list[Notice]:
        """The output ended: the notice still being read, if any."""
        warning, self._warning = self._warning, None
        return [warning] if warning is not None else []

    def _traceback_line(self, line: str) -> Notice | None:
        """Inside a traceback: its frames, then the exception's line, which ends it."""
        if not line or line[0].isspace():
            return None
        self._in_traceback = False
        if self._traceback_owned:
            self._after_record = True  # what chains to it is the record's too
            return None
        if line in _STOPPING:
            return None
        return Notice("error", "", line)
