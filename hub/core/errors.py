"""The hub's error tree, typed by what the caller should do.

- :class:`ConfigError`: fix the configuration or workflow, then start again.
- :class:`RetryableError`: try again later (after ``retry_after`` seconds if given).
- :class:`Deferred`: not now; re-schedule for ``wait`` seconds later without counting an
  attempt (:class:`QuotaWait`: no quota slot; :class:`Throttled`: the upstream answered
  429 and its budget is paused; :class:`LockBusy`: another run holds the key;
  :class:`Paused`: an operator paused what the step calls; :class:`BreakerOpen`: the
  API client's circuit breaker is open). ``reason`` names the wait in run records.
- :class:`FatalError`: do not retry; the input or the upstream refused it for good
  (:class:`NotFound`: the record asked for does not exist).
"""

from __future__ import annotations

__all__ = [
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
    "upstream_error_names",
]


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    """The configuration or a workflow is invalid: fix it and start again."""


class TemplateError(HubError):
    """A template could not be rendered (undefined name, sandbox violation, bad syntax)."""


class UpstreamError(HubError):
    """An upstream API call failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RetryableError(UpstreamError):
    """A transient failure: retry with backoff, honouring ``retry_after`` when set."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class FatalError(UpstreamError):
    """A permanent failure: retrying cannot help."""


class NotFound(FatalError):
    """The record asked for does not exist upstream."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=404)


class Deferred(HubError):
    """Not now: the caller re-schedules itself ``wait`` seconds later (not an attempt)."""

    #: what the wait is for, as run records name it (``quota``, ``held``, ``paused``, ...)
    reason = "held"

    def __init__(self, message: str, *, key: str, wait: float) -> None:
        super().__init__(message)
        self.key = key
        self.wait = wait


class QuotaWait(Deferred):
    """No quota slot is free until ``wait`` seconds from now.

    ``ticket`` holds the caller's place in the budget's waiting room: present it again
    (the step task does, through its quota claim) to keep that place.
    """

    reason = "quota"

    def __init__(self, key: str, wait: float, *, ticket: str | None = None) -> None:
        super().__init__(f"quota {key} exhausted; next slot in {wait:.2f}s", key=key, wait=wait)
        self.ticket = ticket


class Throttled(QuotaWait):
    """The upstream answered 429: its API client's budget is paused for every worker for
    ``wait`` seconds. A quota signal, not a failure: the caller waits as for quota."""

    def __init__(self, message: str, *, key: str, wait: float) -> None:
        Deferred.__init__(self, message, key=key, wait=wait)
        self.ticket = None
        self.status = 429


class LockBusy(Deferred):
    """Another run holds the lock on ``key``; try again shortly."""

    def __init__(self, key: str, wait: float = 0.5) -> None:
        super().__init__(f"{key} is locked by another run", key=key, wait=wait)


class Paused(Deferred):
    """An operator paused ``key`` (a connector, ``hub pause``): look again ``wait`` seconds
    later; no attempt is spent."""

    reason = "paused"

    def __init__(self, key: str, wait: float) -> None:
        super().__init__(f"{key} is paused by an operator", key=key, wait=wait)


class BreakerOpen(Deferred):
    """The circuit breaker of API client ``key`` is open (its upstream keeps failing):
    try again ``wait`` seconds later, when a probe call may be let through."""

    reason = "breaker"

    def __init__(self, key: str, wait: float) -> None:
        super().__init__(
            f"the circuit breaker of {key} is open; next probe in {wait:.2f}s", key=key, wait=wait
        )


def error_label(exc: BaseException) -> str:
    """What a log line says of ``exc``: its class, and the upstream's HTTP status if any.

    Never the message: an upstream's error text may quote the record it refused (a name,
    an email address). The message is kept in the run record (``hub runs show``).
    """
    status = getattr(exc, "status", None)
    label = type(exc).__name__
    return f"{label} (HTTP {status})" if isinstance(status, int) else label


def upstream_error_names() -> frozenset[str]:
    """The class names of :class:`UpstreamError` and every subclass defined so far."""
    names: set[str] = set()
    pending: list[type[BaseException]] = [UpstreamError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return frozenset(names)
