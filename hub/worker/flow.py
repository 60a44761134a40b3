"""What a step task does around its step: foreach fan-out and fan-in, failure, run records.

:class:`Flow` is the part of the ``hub.step`` task that is not Celery plumbing, so the
worker and ``hub test`` run the very same code; a
:class:`~hub.worker.dispatch.StepDispatch` is how it sends tasks (to Celery in the
worker, to an in-memory queue in ``hub test``).

- A plain step runs (:func:`~hub.worker.runtime.execute_step`) and returns the context;
  the chain goes on with it. An ``if`` that is false skips the step (output ``null``).
- A ``foreach`` step's task opens the step's state in Redis, detaches the rest of the
  chain into it and sends one task per item. Each item task records its output under its
  index, once; the item that completes the set continues the chain with the outputs as a
  list in item order. A step with an empty list has output ``[]`` and goes on at once.
- A step that fails for good (a fatal or template error, retries used up) ends its chain:
  its ``on_failure`` steps run (then the workflow's, for a main step) as a new chain with
  ``error`` (``{message, type, step, status?, index?}``) in the templates' context; a
  failing ``on_failure`` step runs only its own ``on_failure``. When they are done (or
  if there are none) the run is recorded as failed.
- The run record (:class:`~hub.history.runs.RunStore`) notes every step; the run ends
  ``succeeded`` when its chain ends without an error, ``failed`` otherwise.
- A workflow or step with ``concurrency`` takes its place on the key first
  (:class:`~hub.worker.concurrency.ConcurrencyGate`); a step with no free place is parked
  in the key's queue (the run record shows it waiting for ``concurrency``) and its task
  ends without running. The run's place is given back when the run ends.
- Each step execution goes through the :class:`~hub.worker.idempotency.StepLedger`: a
  redelivered task whose step is recorded as done hands the recorded output on without
  calling the upstream again; a second task for the same step stops. Each failed attempt
  is noted, and a run that fails for good is stored as a dead letter
  (:class:`~hub.history.dead_letters.DeadLetterStore`) with every attempt's error.
- With a :class:`~hub.history.hub_events.HubEventSink`, a dead letter emits the hub event
  ``dead_letter.created`` and a run that ends failed ``run.failed`` (grouped per workflow
  and error class); a quota wait emits ``quota.exhausted`` (grouped per budget). A run a
  hub event started emits none about its own failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from hub.core import (
    Deferred,
    FatalError,
    QuotaWait,
    RedisBatch,
    TemplateError,
    error_label,
    trailing_writes,
)
from hub.history import (
    DeadLetterStore,
    HubEventSink,
    RunStatus,
    RunStore,
    StepStatus,
    WaitReason,
    budget_backlog,
    from_hub_event,
)
from hub.worker.concurrency import ConcurrencyGate, Place, parked_task
from hub.worker.delivery import REDIS_LOSS
from hub.worker.dispatch import StepCall, StepDispatch
from hub.worker.foreach import ForeachState, Progress
from hub.worker.idempotency import Execution, StepLedger, execution_key
from hub.worker.run_once import Claims
from hub.worker.runtime import (
    Item,
    Runtime,
    execute_item,
    execute_step,
    find_step,
    foreach_items,
)
from hub.workflow import Step, Workflow, redact

__all__ = ["Flow", "RunObserver", "error_info"]

log = logging.getLogger("hub.worker")

#: what a step task may raise that is not a failed attempt: a wait, or Redis gone
_NOT_ATTEMPTS: tuple[type[BaseException], ...] = (Deferred, *REDIS_LOSS)

#: Told when a run ends: run id, final status, the context it ended with.
RunObserver = Callable[[str, str, dict[str, Any]], None]


def error_info(
    exc: BaseException, step_id: str, index: int | None, secrets: Mapping[str, Any]
) -> dict[str, Any]:
    """``error`` as ``on_failure`` steps see it: message (secrets redacted), type, step,
    the upstream's HTTP status (null when there was none), the item index in a
    ``foreach`` (null outside one)."""
    status = getattr(exc, "status", None)
    return {
        "message": redact(str(exc) or type(exc).__name__, secrets),
        "type": type(exc).__name__,
        "step": step_id,
        "status": status if isinstance(status, int) else None,
        "index": index,
    }


class Flow:
    """Runs step tasks; see the module docstring."""

    def __init__(
        self,
        runtime: Runtime,
        runs: RunStore,
        *,
        state_ttl_seconds: int = 7 * 86_400,
        on_finished: RunObserver | None = None,
        ledger: StepLedger | None = None,
        dead_letters: DeadLetterStore | None = None,
        hub_events: HubEventSink | None = None,
        gate: ConcurrencyGate | None = None,
    ) -> None:
        self.runtime = runtime
        self.gate = gate
        self.runs = runs
        self._ttl = state_ttl_seconds
        self._on_finished = on_finished
        self.ledger = ledger or StepLedger(runtime.redis, ttl_seconds=state_ttl_seconds)
        self.dead_letters = dead_letters or DeadLetterStore(
            runtime.redis, attempts_ttl_seconds=state_ttl_seconds
        )
        self.hub_events = hub_events

    # --- running ------------------------------------------------------------------

    def run(
        self, wf: Workflow, call: StepCall, ctx: dict[str, Any], dispatch: StepDispatch
    ) -> dict[str, Any]:
        """Run the step of ``call``; the context to hand on. Its writes that need no
        answer (settles, lock releases) ride with its next round trip
        (:func:`hub.core.trailing_writes`)."""
        with trailing_writes(self.runtime.redis):
            return self._run(wf, call, ctx, dispatch)

    def _run(
        self, wf: Workflow, call: StepCall, ctx: dict[str, Any], dispatch: StepDispatch
    ) -> dict[str, Any]:
        step = find_step(wf, call.step)
        started = RedisBatch(self.runtime.redis)  # sent with the ledger's first question
        self.runs.step_started(
            call.run_id,
            step.id,
            workflow=wf.name,
            revision=wf.revision,
            event_id=call.event_id,
            attempt=call.attempt,
            quota_waits=call.quota_waits,
            batch=started,
        )
        try:
            places = self._places(wf, step, call, ctx)
            if places:
                started.send()  # the step's start on record before it may wait its turn
                if not self._enter(places, call, ctx, dispatch):
                    return ctx
            try:
                return self._step(wf, step, call, ctx, dispatch, started)
            finally:
                self._leave_step(places)
        except Deferred as wait:
            reason: WaitReason = wait.reason  # type: ignore[assignment]
            self.runs.step_waiting(call.run_id, step.id, reason)
            if isinstance(wait, QuotaWait):
                self._quota_exhausted(wait)
            raise  # re-scheduled by the task: not an attempt that failed
        except _NOT_ATTEMPTS:
            raise  # Redis gone: not an attempt that failed
        except Exception as exc:
            error = error_info(exc, call.step, call.index, self.runtime.secrets())
            key = execution_key(call.step, call.index)
            self.dead_letters.note_attempt(call.run_id, key, call.attempt, error)
            raise

    def _step(
        self,
        wf: Workflow,
        step: Step,
        call: StepCall,
        ctx: dict[str, Any],
        dispatch: StepDispatch,
        started: RedisBatch,
    ) -> dict[str, Any]:
        """Run the step; ``started`` (its start on record) is sent with its first write."""
        if call.index is not None:
            self._item(wf, step, call, ctx, dispatch, started)
            return ctx
        if step.foreach is not None:
            started.send()
            return self._fan_out(wf, step, call, ctx, dispatch)
        return self._plain(wf, step, call, ctx, dispatch, started)

    # --- concurrency keys ---------------------------------------------------------

    def _places(self, wf: Workflow, step: Step, call: StepCall, ctx: dict[str, Any]) -> list[Place]:
        """The places this task holds while it runs: the run's, then the step's own."""
        if self.gate is None:
            return []
        places = [self.gate.run_place(wf, ctx), self.gate.step_place(wf, step, call, ctx)]
        return [place for place in places if place is not None]

    def _enter(
        self, places: list[Place], call: StepCall, ctx: dict[str, Any], dispatch: StepDispatch
    ) -> bool:
        """Take the places; False (the task parked, its chain detached) when one is full."""
        assert self.gate is not None
        parked = parked_task(dispatch.task_id, call, ctx, dispatch.remaining())
        if self.gate.enter(places, parked):
            return True
        dispatch.detach()
        self.runs.step_waiting(call.run_id, call.step, "concurrency")
        log.info(
            "%s.%s run %s: waits for its turn on a concurrency key",
            call.workflow,
            execution_key(call.step, call.index),
            call.run_id,
        )
        return False

    def _leave_step(self, places: list[Place]) -> None:
        """The step's task ends: give the step's own place back (the run keeps its own)."""
        for place in places:
            if place.scope == "step" and self.gate is not None:
                self.gate.leave(place)

    def _leave_run(self, wf: Workflow, ctx: dict[str, Any]) -> None:
        """The run ended: give its place on the workflow's key back."""
        if self.gate is None:
            return
        try:
            place = self.gate.run_place(wf, ctx)
        except TemplateError:
            return  # the key never rendered: the run took no place
        if place is not None:
            self.gate.leave(place)

    def _plain(
        self,
        wf: Workflow,
        step: Step,
        call: StepCall,
        ctx: dict[str, Any],
        dispatch: StepDispatch,
        started: RedisBatch,
    ) -> dict[str, Any]:
        ended = RedisBatch(self.runtime.redis)  # the output, the step's end, the run's end
        paused = self.runtime.paused_in(started, step)  # asked with the ledger's question
        with self.ledger.execute(
            call.run_id, step.id, dispatch.task_id, batch=started
        ) as execution:
            if self._duplicate(execution, call, dispatch):
                return ctx
            if execution.state == "done":
                ctx["steps"][step.id] = execution.output["output"]
                if execution.output["skipped"] and step.id not in ctx["skipped"]:
                    ctx["skipped"].append(step.id)
            else:
                ctx = execute_step(wf, step.id, ctx, self.runtime, paused=paused)
                skipped = step.id in ctx.get("skipped", ())
                output = {"output": ctx["steps"][step.id], "skipped": skipped}
                execution.record(output, batch=ended)
        skipped = step.id in ctx.get("skipped", ())
        status: StepStatus = "skipped" if skipped else "succeeded"
        self.runs.step_finished(call.run_id, step.id, status, batch=ended)
        if not dispatch.remaining():
            self._ended(wf, call, ctx, ended)
        ended.send()
        return ctx

    def _duplicate(self, execution: Execution, call: StepCall, dispatch: StepDispatch) -> bool:
        """True (and the chain detached) when another task owns this step execution."""
        if execution.state != "duplicate":
            return False
        dispatch.detach()
        log.info(
            "%s.%s run %s: task %s is a second task for a step task %s owns; it stops here",
            call.workflow,
            execution_key(call.step, call.index),
            call.run_id,
            dispatch.task_id,
            execution.owner,
        )
        return True

    def _fan_out(
        self, wf: Workflow, step: Step, call: StepCall, ctx: dict[str, Any], dispatch: StepDispatch
    ) -> dict[str, Any]:
        items = foreach_items(wf, step.id, ctx, self.runtime)
        if not items:
            ctx["steps"][step.id] = []
            self.runs.step_finished(call.run_id, step.id, "succeeded", items=0)
            if not dispatch.remaining():
                self._ended(wf, call, ctx)
            return ctx
        state = self._state(call)
        total = state.open(len(items), dispatch.remaining())
        dispatch.detach()
        for index in state.unsent(total):
            if index < len(items):
                dispatch.send_item(wf, call, ctx, index, items[index])
                state.mark_sent(index)
        return ctx

    def _item(
        self,
        wf: Workflow,
        step: Step,
        call: StepCall,
        ctx: dict[str, Any],
        dispatch: StepDispatch,
        started: RedisBatch,
    ) -> None:
        assert call.index is not None
        dispatch.detach()
        started.send()
        state = self._state(call)
        if state.failed():
            return  # another item failed the step: leave the rest alone
        key = execution_key(step.id, call.index)
        with self.ledger.execute(call.run_id, key, dispatch.task_id) as execution:
            if self._duplicate(execution, call, dispatch):
                return
            if state.is_recorded(call.index):
                progress = state.progress()  # a redelivery: never call or count twice
            else:
                item = Item(call.index, call.item)
                _, output = execute_item(wf, step.id, ctx, self.runtime, item)
                progress = state.record(call.index, output)
        if progress.complete:
            self._collect(wf, step, call, ctx, state, progress, dispatch)

    def _collect(
        self,
        wf: Workflow,
        step: Step,
        call: StepCall,
        ctx: dict[str, Any],
        state: ForeachState,
        progress: Progress,
        dispatch: StepDispatch,
    ) -> None:
        claim = f"foreach:{step.id}"
        claims = self._claims(call.run_id)
        if not claims.take(claim, dispatch.task_id):
            return
        ctx["steps"][step.id] = state.outputs()
        self.runs.step_finished(call.run_id, step.id, "succeeded", items=progress[1])
        chain = state.chain()
        if chain:
            dispatch.resume(chain, ctx)
        else:
            self._ended(wf, call, ctx)
        claims.settle(claim)

    # --- failing ------------------------------------------------------------------

    def fail(
        self,
        wf: Workflow,
        call: StepCall,
        ctx: dict[str, Any],
        exc: BaseException,
        dispatch: StepDispatch,
    ) -> None:
        """The step of ``call`` failed for good with ``exc``: start its failure handling.

        The caller re-raises ``exc`` afterwards, so the task itself ends failed.
        """
        dispatch.detach()
        error = error_info(exc, call.step, call.index, self.runtime.secrets())
        item = f"[{call.index}]" if call.index is not None else ""
        log.error(
            "%s.%s%s run %s failed for good: %s; `hub runs show %s` has the message",
            wf.name,
            call.step,
            item,
            call.run_id,
            error_label(exc),
            call.run_id,
        )
        handling = "error" in ctx  # a failure of an on_failure step
        if not handling and self._dead_letter(wf, call, ctx, error):
            self._alert("dead_letter.created", call, ctx, error)
        try:
            step = find_step(wf, call.step)
        except FatalError:
            self._failed(wf, call, ctx, error)
            return
        self.runs.step_finished(call.run_id, step.id, "failed", error=error)
        if call.index is not None:
            self._state(call).fail()
        handlers = [s.id for s in step.on_failure]
        if not handling and any(s.id == step.id for s in wf.steps):
            handlers += [s.id for s in wf.on_failure]
        claim = f"failure:{step.id}"
        claims = self._claims(call.run_id)
        if not claims.take(claim, dispatch.task_id):
            return  # another item of this foreach is handling the failure
        if handlers:
            self.runs.record_error(call.run_id, error)
            steps = {s.id: None for s in wf.steps}
            steps.update(ctx["steps"])
            steps.setdefault(step.id, None)
            handler_ctx = {**ctx, "steps": steps, "error": error}
            dispatch.start(
                wf,
                handlers,
                handler_ctx,
                event_id=call.event_id,
                run_id=call.run_id,
                priority=call.priority,
            )
        else:
            self._failed(wf, call, ctx, error)
        claims.settle(claim)

    def _dead_letter(
        self, wf: Workflow, call: StepCall, ctx: dict[str, Any], error: dict[str, Any]
    ) -> bool:
        """Store the run as a dead letter (once: a redelivered failure finds it stored);
        False when it was stored already."""
        attempts = self.dead_letters.attempts(call.run_id, execution_key(call.step, call.index))
        return self.dead_letters.add(
            run_id=call.run_id,
            workflow=wf.name,
            revision=wf.revision,
            step=call.step,
            index=call.index,
            context=ctx,
            error=error,
            attempts=attempts or [{"attempt": call.attempt, **error}],
            secrets=self.runtime.secrets(),
        )

    # --- helpers ------------------------------------------------------------------

    def _ended(
        self, wf: Workflow, call: StepCall, ctx: dict[str, Any], batch: RedisBatch | None = None
    ) -> None:
        """The run's last chain ended: failed if it was running failure handlers. Joining
        ``batch``, the run ends once the batch is sent; then its concurrency place is given
        back, its failure alerted and the observer told."""
        error = ctx.get("error")
        status: RunStatus = "failed" if error is not None else "succeeded"
        joined = batch if batch is not None else RedisBatch(self.runtime.redis)
        reply = self.runs.finish_in(joined, call.run_id, status, error=error)

        def after() -> None:
            self._leave_run(wf, ctx)
            if reply.value and error is not None:
                self._alert("run.failed", call, ctx, error)
            if self._on_finished is not None:
                self._on_finished(call.run_id, status, ctx)

        joined.after(after)
        if batch is None:
            joined.send()

    def _failed(
        self, wf: Workflow, call: StepCall, ctx: dict[str, Any], error: dict[str, Any]
    ) -> None:
        ended = self.runs.finish(call.run_id, "failed", error=error)
        self._leave_run(wf, ctx)
        if ended:
            self._alert("run.failed", call, ctx, ctx.get("error", error))
        if self._on_finished is not None:
            self._on_finished(call.run_id, "failed", {**ctx, "error": ctx.get("error", error)})

    # --- hub events ---------------------------------------------------------------

    def _alert(
        self, event_type: str, call: StepCall, ctx: dict[str, Any], error: dict[str, Any]
    ) -> None:
        """Emit ``run.failed`` / ``dead_letter.created``, grouped per workflow and error
        class; never for a run a hub event started (a failing alert must not loop)."""
        if self.hub_events is None or from_hub_event(ctx):
            return
        error_class = str(error.get("type") or "Error")
        payload = {
            "workflow": call.workflow,
            "revision": call.revision,
            "run_id": call.run_id,
            "event_id": call.event_id,
            "step": error.get("step", call.step),
            "error": error,
            "error_class": error_class,
            "status": error.get("status"),
        }
        group = f"{event_type}:{call.workflow}:{error_class}"
        self.hub_events.emit(event_type, payload, group=group)

    def _quota_exhausted(self, wait: QuotaWait) -> None:
        """Emit ``quota.exhausted`` for the budget ``wait`` is for (one per window)."""
        if self.hub_events is not None:
            redis, budget = self.runtime.redis, wait.key
            self.hub_events.emit(
                "quota.exhausted",
                {"budget": budget, "wait_seconds": round(wait.wait, 3)},
                group=f"quota.exhausted:{budget}",
                details=lambda: budget_backlog(redis, budget),
            )

    def _state(self, call: StepCall) -> ForeachState:
        return ForeachState(self.runtime.redis, call.run_id, call.step, ttl_seconds=self._ttl)

    def _claims(self, run_id: str) -> Claims:
        return Claims(self.runtime.redis, run_id, ttl_seconds=self._ttl)
