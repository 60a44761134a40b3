"""One log line per event, run and step transition, with its ids, secrets redacted.

Every line goes to the ``hub.transitions`` logger with ``extra=`` fields (``event_id``,
``run_id``, ``workflow``, ``revision``, ``step``, ``status``, ...) that
:class:`hub.core.logs.JsonFormatter` writes as JSON keys; the text format shows the same
facts in the message. Every value, message included, passes through
:func:`hub.workflow.templates.redact` with the configured secrets before it is logged,
so a secret cannot reach a log line through these functions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import SecretStr

from hub.workflow import redactor

__all__ = ["TransitionLog", "configured_secrets", "log_event", "log_run", "log_step"]

Secrets = Mapping[str, SecretStr | str]


def configured_secrets() -> Secrets:
    """``HUB_SECRETS`` of this process (none when the settings cannot be read)."""
    from hub.core import get_settings

    try:
        return get_settings().hub_secrets
    except Exception:  # settings invalid or absent: nothing configured to redact
        return {}


class TransitionLog:
    """Writes transition lines; ``secrets`` (read once, on first use) are redacted."""

    def __init__(
        self,
        secrets: Secrets | Callable[[], Secrets] = configured_secrets,
        logger: logging.Logger | None = None,
    ) -> None:
        self._source = secrets
        self._redact: Callable[[Any], Any] | None = None
        self._log = logger or logging.getLogger("hub.transitions")

    def _emit(self, message: str, fields: dict[str, Any], level: int = logging.INFO) -> None:
        if not self._log.isEnabledFor(level):
            return
        if self._redact is None:
            source = self._source
            self._redact = redactor(source() if callable(source) else source)
        clean = self._redact({k: v for k, v in fields.items() if v is not None})
        self._log.log(level, self._redact(message), extra=clean)

    def event(self, source: str, event_id: str, status: str, **fields: Any) -> None:
        """An event was ``accepted``, a ``duplicate``, or ``refused``."""
        self._emit(
            f"event {source}/{event_id} {status}",
            {"source": source, "event_id": event_id, "status": status, **fields},
        )

    def run(
        self,
        run_id: str,
        status: str,
        *,
        workflow: str,
        revision: str,
        event_id: str,
        **fields: Any,
    ) -> None:
        """A run started or ended as ``status``."""
        level = logging.WARNING if status == "failed" else logging.INFO
        self._emit(
            f"run {run_id} {workflow}@{revision} {status}",
            {
                "run_id": run_id,
                "workflow": workflow,
                "revision": revision,
                "event_id": event_id,
                "status": status,
                **fields,
            },
            level,
        )

    def step(
        self,
        run_id: str,
        step: str,
        status: str,
        *,
        workflow: str | None = None,
        revision: str | None = None,
        event_id: str | None = None,
        **fields: Any,
    ) -> None:
        """A step of a run started or ended as ``status``."""
        self._emit(
            f"step {run_id} {step} {status}",
            {
                "run_id": run_id,
                "step": step,
                "status": status,
                "workflow": workflow,
                "revision": revision,
                "event_id": event_id,
                **fields,
            },
        )


_default = TransitionLog()


def log_event(source: str, event_id: str, status: str, **fields: Any) -> None:
    """:meth:`TransitionLog.event` with this process's secrets."""
    _default.event(source, event_id, status, **fields)


def log_run(
    run_id: str, status: str, *, workflow: str, revision: str, event_id: str, **fields: Any
) -> None:
    """:meth:`TransitionLog.run` with this process's secrets."""
    _default.run(run_id, status, workflow=workflow, revision=revision, event_id=event_id, **fields)


def log_step(run_id: str, step: str, status: str, **fields: Any) -> None:
    """:meth:`TransitionLog.step` with this process's secrets."""
    _default.step(run_id, step, status, **fields)
