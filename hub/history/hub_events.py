"""The hub's own events: what happened to runs, budgets and controls, as ordinary events.

The hub emits events about itself into its built-in source ``hub``
(:data:`~hub.intake.sources.HUB_SOURCE`), and an operator alerts with an ordinary workflow
(``trigger: { webhook: { source: hub, event: run.failed } }``). An event goes through
the same intake as any delivery (:class:`~hub.intake.delivery.HubEvent`: routing, the
workflow-level ``if``) and its runs are sent as the poll task sends its runs. Nothing
from outside can emit one: the ingress refuses ``POST /hooks/hub`` (403).

Event types (:data:`HUB_EVENT_TYPES`) and their bodies (every body also has ``type``,
``at`` (ISO time) and, for a grouped event, ``count`` and ``window_seconds``):

- ``run.failed``: ``workflow``, ``revision``, ``run_id``, ``event_id``, ``step``,
  ``error`` (``{message, type, step, status, index}``, secrets redacted),
  ``error_class`` (``error.type``), ``status`` (the upstream's HTTP status or null);
- ``dead_letter.created``: the same fields, for the dead letter of ``run_id``;
- ``quota.exhausted``: ``budget``, ``wait_seconds`` (until the next slot),
  ``waiting`` (tickets in its waiting room) and ``eta_seconds`` (until its backlog is
  drained, as ``hub quota`` shows it);
- ``breaker.opened`` / ``breaker.closed``, ``workflow.paused`` / ``workflow.resumed``:
  emitted by the operator controls through :func:`emit_hub_event`, with what they say.

**Grouping.** An alert storm is one event per group and window: ``run.failed`` and
``dead_letter.created`` are grouped per workflow and error class, ``quota.exhausted``
per budget, for ``HUB_ALERT_WINDOW_SECONDS``. The first occurrence of a group emits an
event at once (``count: 1`` when nothing was held back) and opens the window; the
occurrences after it in the window are counted in Redis and emit nothing; the group's
next event (the first occurrence after the window) carries them: its ``count`` is itself
plus those held back. So every failure is counted in some event's ``count``, though a
storm that stops is reported in full only by the next failure of its group; ``hub runs``
and ``hub dlq list`` list every one meanwhile.

**No loops.** A run started by a hub event (its context's ``source`` is ``hub``) that
fails emits no ``run.failed`` or ``dead_letter.created``: it is logged and dead-lettered
like any other, so a failing alert workflow never alerts about itself.

Emitting never fails the caller: a hub event that cannot be sent (Redis gone, a broken
alert workflow revision) is logged and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from celery import Celery
from celery.canvas import Signature

from hub.core import HubError, new_hex
from hub.history.events_log import log_event
from hub.http import quota_status
from hub.ingress import record_internal_event
from hub.intake import HUB_SOURCE, HubEvent, Intake, Plan
from hub.workflow import Workflow, WorkflowStore, compile_run

__all__ = [
    "HUB_EVENT_TYPES",
    "AlertGroups",
    "HubEventSink",
    "HubEvents",
    "budget_backlog",
    "emit_hub_event",
    "from_hub_event",
]

log = logging.getLogger("hub.events")

HUB_EVENT_TYPES = (
    "run.failed",
    "dead_letter.created",
    "quota.exhausted",
    "breaker.opened",
    "breaker.closed",
    "workflow.paused",
    "workflow.resumed",
)

_GROUP_KEY = "hub:events:group:{}"
_HELD_KEY = "hub:events:held:{}"
#: how long a count held back waits for the group's next event
_HELD_TTL_SECONDS = 7 * 86_400

# KEYS: the group's window key, its held-back counter. ARGV: window ms, counter ttl s.
# Returns the count the event stands for (itself and those held back), or 0 while the
# group's window is open (the occurrence is counted for the next event).
_ADMIT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  local held = tonumber(redis.call('GET', KEYS[2]) or '0')
  redis.call('DEL', KEYS[2])
  return held + 1
end
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 0
"""


#: more of an event's body, read only when the event is emitted (not held back)
Details = Callable[[], Mapping[str, Any]]


class HubEventSink(Protocol):
    """Where a step flow (or an operator control) emits hub events."""

    def emit(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        group: str | None = None,
        details: Details | None = None,
    ) -> list[str]:
        """Emit ``event_type`` with ``payload`` (at most once per ``group`` and window;
        ``details()`` adds to it only when the event is emitted); the ids of the runs it
        started."""
        ...


def from_hub_event(ctx: Mapping[str, Any]) -> bool:
    """True for a run a hub event started: its failures emit no hub event (no loops)."""
    return ctx.get("source") == HUB_SOURCE


class AlertGroups:
    """The windows of grouped hub events, in Redis, shared by the whole cluster."""

    def __init__(self, redis: Any, window_seconds: float) -> None:
        self._redis = redis
        self.window_seconds = window_seconds
        self._admit = redis.register_script(_ADMIT)

    def admit(self, group: str) -> int:
        """The count an event of ``group`` stands for now, or 0 to hold it back."""
        keys = [_GROUP_KEY.format(group), _HELD_KEY.format(group)]
        window_ms = max(1, round(self.window_seconds * 1000))
        return int(self._admit(keys=keys, args=[window_ms, _HELD_TTL_SECONDS]))


def _apply_async(chain: Signature) -> Any:
    return chain.apply_async()


class HubEvents:
    """Emits hub events to the workflows that listen to source ``hub``.

    ``workflows`` gives the current revisions (as the ingress routes); ``send`` sends a
    run's chain (``apply_async`` unless a test queues it locally); ``clock`` gives the
    events' ``at``.
    """

    def __init__(
        self,
        redis: Any,
        celery: Celery,
        workflows: WorkflowStore,
        *,
        window_seconds: float,
        new_id: Callable[[], str] = new_hex,
        send: Callable[[Signature], Any] = _apply_async,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._redis = redis
        self.groups = AlertGroups(redis, window_seconds)
        self._celery = celery
        self._workflows = workflows
        self._new_id = new_id
        self._send = send
        self._clock = clock
        self._intake: tuple[tuple[str, ...], Intake] | None = None

    def emit(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        group: str | None = None,
        details: Details | None = None,
    ) -> list[str]:
        """Emit one event; the run ids it started (none when held back, or when no
        workflow listens). Failures are logged, never raised."""
        try:
            return self._emit(event_type, payload, group, details)
        except Exception as exc:
            log.warning("hub event %s not emitted: %s: %s", event_type, type(exc).__name__, exc)
            return []

    def _emit(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        group: str | None,
        details: Details | None,
    ) -> list[str]:
        body: dict[str, Any] = {"type": event_type, "at": self._clock().isoformat()}
        body.update(payload)
        if group is not None:
            count = self.groups.admit(group)
            if count == 0:
                return []
            body.update(count=count, window_seconds=self.groups.window_seconds)
        if details is not None:
            body.update(details())
        plan = self._listeners().plan(HubEvent(event_type, self._new_id(), body))
        event = plan.event
        for run in plan.runs:
            chain = compile_run(
                self._celery, run.workflow, run.context, event_id=event.event_id, run_id=run.run_id
            )
            self._send(chain)
        self._record(body["at"], plan)
        for skip in plan.skipped:
            if skip.failed:
                log.warning(
                    "hub event %s left out of %s: %s", event_type, skip.workflow, skip.reason
                )
        log.info(
            "hub event %s %s: %d run(s)%s",
            event_type,
            event.event_id,
            len(plan.runs),
            f" for {body['count']} occurrence(s)" if group is not None else "",
        )
        return [run.run_id for run in plan.runs]

    def _record(self, at: str, plan: Plan) -> None:
        """Keep the event as the ingress keeps the events it accepts (``/events``,
        ``hub_events_total``), with its transition log line."""
        event = plan.event
        runs = [
            {"workflow": r.workflow.name, "revision": r.workflow.revision, "run_id": r.run_id}
            for r in plan.runs
        ]
        skipped = [{"workflow": s.workflow, "reason": s.reason} for s in plan.skipped]
        record = {
            "event_id": event.event_id,
            "source": event.source,
            "event_type": event.event_type,
            "received_at": at,
            "runs": runs,
            "skipped": skipped,
        }
        record_internal_event(self._redis, record)
        log_event(
            event.source, event.event_id, "accepted", event_type=event.event_type, runs=len(runs)
        )

    def _listeners(self) -> Intake:
        """The intake of the current workflows that listen to source ``hub``."""
        current = self._workflows.current()
        revisions = tuple(sorted(current.values()))
        if self._intake is None or self._intake[0] != revisions:
            listening: list[Workflow] = []
            for revision in revisions:
                try:
                    wf = self._workflows.get(revision)
                except HubError as exc:  # one broken revision must not silence the rest
                    log.warning("hub events: revision %s left out: %s", revision, exc)
                    continue
                if wf.webhook is not None and wf.webhook.source == HUB_SOURCE:
                    listening.append(wf)
            self._intake = (revisions, Intake(listening, new_id=self._new_id))
        return self._intake[1]


@cache
def _default_sink() -> HubEvents:
    from hub.core import get_settings, redis_client
    from hub.worker import create_celery

    settings = get_settings()
    client = redis_client(settings)
    return HubEvents(
        client,
        create_celery(settings),
        WorkflowStore(client),
        window_seconds=settings.hub_alert_window_seconds,
    )


def budget_backlog(redis: Any, budget: str) -> dict[str, Any]:
    """``waiting`` (tickets in the budget's waiting room) and ``eta_seconds`` (until its
    backlog is drained), as ``hub quota`` shows them; empty for a budget not registered."""
    for status in quota_status(redis):
        if status.key == budget:
            return {"waiting": status.waiting_total, "eta_seconds": status.drain_seconds}
    return {}


def emit_hub_event(
    event_type: str, payload: Mapping[str, Any], *, group: str | None = None
) -> list[str]:
    """Emit a hub event from this process (the settings' Redis and broker): the seam
    the operator controls call for ``breaker.opened``, ``workflow.paused`` and the
    like. ``group`` (e.g. ``"breaker:<client>"``) emits at most one event per group
    and ``HUB_ALERT_WINDOW_SECONDS``. The ids of the runs it started."""
    return _default_sink().emit(event_type, payload, group=group)
