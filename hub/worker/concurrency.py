"""Concurrency keys around runs and steps: take a place before running, or park.

A workflow's ``concurrency: {key, limit}`` lets at most ``limit`` runs whose key renders
to the same text hold it at once, cluster-wide; a step's lets at most ``limit`` executions
of the step (each ``foreach`` item is one) hold it. The places live in Redis
(:class:`hub.core.KeySlots`).

- A run takes its workflow's key at its first step and keeps it through every step
  (each step renews its lease) until the run ends, however it ends: succeeded, or
  failed after its ``on_failure`` steps (a dead letter included).
- A step takes its own key just before it runs, and gives it back when its task ends
  (done, failed, or re-scheduled for a retry or a quota wait, after which it queues
  again).
- A step that finds no free place is parked: its task message (context, kwargs, the rest
  of its chain) waits in the key's queue in Redis, and the task ends, holding no worker
  slot and spending no attempt. Whoever frees a place sends the first waiters again,
  in arrival order (:class:`Waker`). A holder whose worker died keeps its place until its
  lease (``HUB_CONCURRENCY_LEASE_SECONDS``) runs out; every worker sweeps the keys due
  (:meth:`ConcurrencyGate.sweep_due`, :mod:`hub.worker.key_sweeper`), which frees it and
  wakes the next waiter.

The key's text is kept in Redis hashed; an empty ``key`` means one key for the workflow
(or the step). Keys whose templates render alike share their places, across workflows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from hub.core import KeySlots, key_id
from hub.worker.dispatch import StepCall
from hub.worker.idempotency import execution_key
from hub.worker.runtime import Item, template_context
from hub.workflow import Concurrency, Step, Workflow, render

__all__ = ["ConcurrencyGate", "Place", "Swept", "Waker", "parked_task"]

log = logging.getLogger("hub.worker")

#: Sends a parked step's task again: ``task_id``, ``ctx``, ``kwargs``, ``chain``.
Waker = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True)
class Swept:
    """What a sweep did: how many keys it swept, and the seconds until the next key with
    waiters is due one (None while no key has waiters)."""

    swept: int
    next_in: float | None


@dataclass(frozen=True)
class Place:
    """A place to hold: the key's id, who holds it, how many may, and whether a whole run
    or one step execution holds it."""

    ident: str
    holder: str
    limit: int
    scope: Literal["run", "step"]


def parked_task(
    task_id: str, call: StepCall, ctx: Mapping[str, Any], chain: Sequence[Any]
) -> dict[str, Any]:
    """What a parked step keeps in the key's queue: enough to send its task again."""
    return {"task_id": task_id, "ctx": ctx, "kwargs": asdict(call), "chain": list(chain)}


class ConcurrencyGate:
    """Takes, renews and gives back places on concurrency keys; see the module docstring."""

    def __init__(self, slots: KeySlots, *, wake: Waker) -> None:
        self._slots = slots
        self._wake = wake

    # --- which places -------------------------------------------------------------

    def run_place(self, wf: Workflow, ctx: Mapping[str, Any]) -> Place | None:
        """The place a run of ``wf`` holds, or None when the workflow has no key."""
        if wf.concurrency is None:
            return None
        tctx = template_context(wf, ctx, {})
        where = f"workflow '{wf.name}' field 'concurrency.key'"
        text = _key_text(wf.concurrency, f"workflow:{wf.name}", tctx, where)
        return Place(key_id(text), str(ctx["run_id"]), wf.concurrency.limit, "run")

    def step_place(
        self, wf: Workflow, step: Step, call: StepCall, ctx: Mapping[str, Any]
    ) -> Place | None:
        """The place this execution of ``step`` holds, or None when the step has no key
        (or this task fans a ``foreach`` out: its items hold places, one each)."""
        if step.concurrency is None or (step.foreach is not None and call.index is None):
            return None
        item = Item(call.index, call.item) if call.index is not None else None
        tctx = template_context(wf, ctx, {}, item)
        where = f"workflow '{wf.name}' step '{step.id}' field 'concurrency.key'"
        text = _key_text(step.concurrency, f"step:{wf.name}:{step.id}", tctx, where)
        holder = f"{call.run_id}:{execution_key(step.id, call.index)}"
        return Place(key_id(text), holder, step.concurrency.limit, "step")

    # --- holding ------------------------------------------------------------------

    def enter(self, places: Sequence[Place], parked: Mapping[str, Any]) -> bool:
        """Take (or renew) every place in order; False when one has none free, in which
        case ``parked`` waits in that key's queue and is sent again at its turn."""
        payload = json.dumps(parked, separators=(",", ":"))
        for place in places:
            entry = self._slots.enter(place.ident, place.holder, place.limit, payload)
            self._send(entry.woken)
            if not entry.granted:
                return False
        return True

    def leave(self, place: Place) -> None:
        """Give ``place`` back; the next waiters are sent."""
        self._send(self._slots.leave(place.ident, place.holder).woken)

    def sweep_due(self) -> int:
        """Free the places whose lease ran out on every key that has waiters; the next
        waiters are sent. How many keys were swept."""
        return self.sweep().swept

    def sweep(self) -> Swept:
        """:meth:`sweep_due`, and when the next key will be due."""
        due, next_in = self._slots.due_and_next()
        for ident in due:
            self._send(self._slots.sweep(ident).woken)
        return Swept(len(due), next_in)

    def _send(self, woken: Sequence[str]) -> None:
        for payload in woken:
            parked = json.loads(payload)
            self._wake(parked)
            log.info(
                "%s.%s run %s: its turn on a concurrency key came; sent again",
                parked["kwargs"]["workflow"],
                parked["kwargs"]["step"],
                parked["kwargs"]["run_id"],
            )


def _key_text(concurrency: Concurrency, default: str, tctx: Mapping[str, Any], where: str) -> str:
    if not concurrency.key:
        return default
    value = render(concurrency.key, tctx, where=where)
    if isinstance(value, str):
        return f"key:{value}"
    return "key:" + json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
