"""Replaying dead letters: the run again, as an ordinary run, from the failed step or the start.

A replay is a new run (a new run id, ``replay_of`` the dead one) sent as the ingress sends
runs: the chain of ``hub.step`` tasks from :func:`~hub.workflow.compiler.compile_steps`.
So it goes through the same queue, quotas and priorities as any other run; a replay of
10,000 dead letters waits for quota like 10,000 new events would, and never bypasses it.

- *From the failed step* (the default): the context the failed step was given (the
  event and the outputs of the steps before it) and that step and the ones after it.
  A ``foreach`` step runs all its items again.
- *From the start*: a fresh context from the event; every step again (creates are
  upserts, so what the first run made is found, not made twice).
- *Priority*: the workflow's own, unless the caller names one: ``hub dlq replay --all``
  sends at ``bulk`` by default, so thousands of replays queue behind live events
  (workers take a ``hub.bulk`` message only when no other is ready).
- *Revision*: the one the run was pinned to (the default; it stays readable in Redis),
  or with ``latest`` the workflow's current revision, e.g. after a fix to its YAML.

The new run id is chosen once per dead letter and kept with it before anything is sent,
so a replay that stopped half-way (the command was killed) and is run again sends the
same run id: the tasks of the two sends share their step records and only one of them
applies each step. Once sent, the dead letter is marked ``replayed`` (``replayed_as``
the new run id) and kept for the run retention; if the replay fails for good in turn, it
becomes a dead letter of its own that names the one it replays.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.canvas import Signature

from hub.core import ConfigError
from hub.history.dead_letters import DeadLetter, DeadLetterStore
from hub.history.runs import RunStore
from hub.intake import DeadLetterReplay, Event, Intake
from hub.workflow import Workflow, WorkflowStore, compile_steps

__all__ = ["Replay", "ReplayError", "Replayer", "replay_summary"]


class ReplayError(ConfigError):
    """This dead letter cannot be replayed as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class Replay:
    """One replay sent: the dead run, the new run, where it starts, on which revision."""

    run_id: str
    new_run_id: str
    workflow: str
    revision: str
    from_step: str
    event_id: str
    priority: str


def replay_summary(letters: Iterable[DeadLetter]) -> dict[str, int]:
    """How many of ``letters`` each workflow has, most first (``hub dlq replay --dry-run``)."""
    counts = Counter(letter.workflow for letter in letters)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _apply_async(chain: Signature) -> Any:
    return chain.apply_async()


class Replayer:
    """Sends replays of dead letters through ``celery``'s broker (``send``: how a chain
    is sent, ``apply_async`` unless a test queues it locally). ``paused(workflow)`` says
    whether an operator paused that workflow: its dead letters are not replayed then."""

    def __init__(
        self,
        celery: Celery,
        letters: DeadLetterStore,
        workflows: WorkflowStore,
        runs: RunStore,
        *,
        keep_replayed_seconds: int = 7 * 86_400,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        send: Callable[[Signature], Any] = _apply_async,
        paused: Callable[[str], bool] = lambda workflow: False,
    ) -> None:
        self._send = send
        self._paused = paused
        self._celery = celery
        self._letters = letters
        self._workflows = workflows
        self._runs = runs
        self._keep = keep_replayed_seconds
        self._new_id = new_id
        self._intake = Intake(())

    def replay(
        self,
        run_id: str,
        *,
        from_start: bool = False,
        latest: bool = False,
        priority: str | None = None,
    ) -> Replay:
        """Replay the dead letter of ``run_id`` at ``priority`` (default: its workflow's);
        :class:`ReplayError` when it cannot be."""
        letter = self._replayable(run_id)
        wf = self._workflow(letter, latest)
        step_ids = self._steps(letter, wf, from_start)
        new_run_id = self._letters.replay_run_id(run_id, self._new_id())
        if new_run_id is None:
            raise ReplayError(f"the dead letter of run {run_id} was purged meanwhile")
        plan = self._intake.plan(
            DeadLetterReplay(
                wf,
                new_run_id,
                replay_of=run_id,
                event=Event(letter.source, letter.event_type, letter.event_id, letter.event),
                resume=None if from_start or not letter.context else letter.context,
            )
        )
        (run,) = plan.runs
        self._runs.start(
            new_run_id,
            workflow=wf.name,
            revision=wf.revision,
            event_id=letter.event_id,
            replay_of=run_id,
        )
        chain = compile_steps(
            self._celery,
            wf,
            step_ids,
            run.context,
            event_id=letter.event_id,
            run_id=new_run_id,
            priority=priority,
        )
        self._send(chain)
        self._letters.mark_replayed(run_id, new_run_id, keep_seconds=self._keep)
        return Replay(
            run_id,
            new_run_id,
            wf.name,
            wf.revision,
            step_ids[0],
            letter.event_id,
            priority or wf.priority,
        )

    def _replayable(self, run_id: str) -> DeadLetter:
        """The dead letter of ``run_id``; :class:`ReplayError` when there is none to
        replay now (none, replayed already, or its workflow paused)."""
        letter = self._letters.get(run_id)
        if letter is None:
            raise ReplayError(f"no dead letter for run {run_id} (see `hub dlq list`)")
        if letter.status == "replayed":
            raise ReplayError(
                f"run {run_id} was replayed already as run {letter.replayed_as} "
                f"(see `hub runs show {letter.replayed_as}`)"
            )
        if self._paused(letter.workflow):
            raise ReplayError(
                f"workflow {letter.workflow} is paused: its dead letter stays until "
                f"`hub resume workflow {letter.workflow}`"
            )
        return letter

    def _workflow(self, letter: DeadLetter, latest: bool) -> Workflow:
        revision = letter.revision
        if latest:
            current = self._workflows.current().get(letter.workflow)
            if current is None:
                raise ReplayError(
                    f"workflow '{letter.workflow}' has no current revision (is it still in "
                    "the ingress's folder?); replay on its pinned revision instead"
                )
            revision = current
        try:
            return self._workflows.get(revision)
        except ConfigError as exc:
            raise ReplayError(f"run {letter.run_id}: {exc}") from exc

    def _steps(self, letter: DeadLetter, wf: Workflow, from_start: bool) -> list[str]:
        ids = [step.id for step in wf.steps]
        if from_start:
            return ids
        if letter.step not in ids:
            raise ReplayError(
                f"run {letter.run_id} failed at step '{letter.step}', which revision "
                f"{wf.revision} of '{wf.name}' does not have; replay it from the start"
            )
        return ids[ids.index(letter.step) :]
