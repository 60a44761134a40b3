"""Checks that need more than the schema: operations, arguments, templates, references.

What a template may read depends on where it stands:

- in steps: ``event``, ``workflow``, ``run``, ``secrets.<NAME>`` and the template
  globals (``now()``, ``range()``);
- in the workflow's ``if`` (checked when an event arrives): ``event`` only;
- in a step: ``steps.<id>`` of earlier steps only (workflow ``on_failure`` steps may read
  every main step and earlier ``on_failure`` steps);
- in the ``with`` and ``if`` of a step with ``foreach``: ``item`` and ``index``;
- in ``on_failure`` steps: ``error``;
- in a poll trigger's ``with``: ``cursor``, ``workflow``, ``run`` and ``secrets`` only;
- in the workflow's ``concurrency.key`` (rendered before the first step): ``event``,
  ``workflow`` and ``run``; in a step's: what the step's ``with`` may read. Secrets are
  never allowed in a key (keys are shown to operators).
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hub.connector import AnyOperation, Connector, all_operations, get_operation
from hub.core import ConfigError
from hub.workflow.arguments import check_arguments
from hub.workflow.model import Concurrency, Step, Trigger, Workflow
from hub.workflow.positions import Positions
from hub.workflow.problems import Loc, Problem
from hub.workflow.templates import check_syntax, is_template, referenced_names

__all__ = ["OperationLookup", "StepSlot", "WorkflowParts", "validate_parts", "validate_workflow"]

OperationLookup = Callable[[str], tuple[Connector[Any], AnyOperation]]

_BASE_NAMES = frozenset({"event", "workflow", "run", "secrets"})
_POLL_NAMES = frozenset({"cursor", "workflow", "run", "secrets"})
_IF_NAMES = frozenset({"event"})
_RUN_KEY_NAMES = frozenset({"event", "workflow", "run"})
_SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Python internals (``__class__``) and name-mangled attributes (``_Cls__attr``); keys
#: such as ``_id`` are data and stay readable.
_PRIVATE = re.compile(r"^(__|_[A-Za-z0-9]+__)")


@dataclass(frozen=True)
class StepSlot:
    """A step at ``loc``; ``step`` is None when it failed schema validation."""

    loc: Loc
    id: str | None
    step: Step | None


@dataclass
class WorkflowParts:
    """The parts of a workflow that semantic checks read; parts may be missing."""

    path: str
    if_: str | None = None
    trigger: Trigger | None = None
    steps: list[StepSlot] = field(default_factory=list)
    on_failure: list[StepSlot] = field(default_factory=list)
    concurrency: Concurrency | None = None

    @classmethod
    def of(cls, wf: Workflow) -> WorkflowParts:
        """The parts of a valid workflow."""
        return cls(
            path=wf.source_path or f"<workflow {wf.name}>",
            if_=wf.if_,
            trigger=wf.trigger,
            steps=_slots(wf.steps, ("steps",)),
            on_failure=_slots(wf.on_failure, ("on_failure",)),
            concurrency=wf.concurrency,
        )


def _slots(steps: Sequence[Step], loc: Loc) -> list[StepSlot]:
    return [StepSlot((*loc, i), step.id, step) for i, step in enumerate(steps)]


@dataclass(frozen=True)
class _Scope:
    """What a template may read where it stands."""

    names: frozenset[str]
    earlier: tuple[str, ...] | None = None  # None: no steps here
    current: str | None = None
    why_no_steps: str = ""


def validate_workflow(
    wf: Workflow,
    positions: Positions | None = None,
    lookup: OperationLookup = get_operation,
    *,
    known_secrets: Collection[str] | None = None,
    known_operations: Collection[str] | None = None,
) -> list[Problem]:
    """Every semantic problem of ``wf``; positions default to those the loader kept.

    ``known_secrets``: when given, ``secrets.<NAME>`` must name one of them.
    ``known_operations``: names for "did you mean" hints on an unknown ``uses``
    (default: the registry's, when ``lookup`` is the registry's).
    """
    return validate_parts(
        WorkflowParts.of(wf),
        positions or wf.positions,
        lookup,
        known_secrets=known_secrets,
        known_operations=known_operations,
    )


def validate_parts(
    parts: WorkflowParts,
    positions: Positions | None,
    lookup: OperationLookup = get_operation,
    *,
    known_secrets: Collection[str] | None = None,
    known_operations: Collection[str] | None = None,
) -> list[Problem]:
    """Like :func:`validate_workflow`, for a workflow whose schema check failed in places."""
    checker = _Checker(parts, positions, lookup, known_secrets, known_operations)
    checker.run()
    return checker.problems


class _Checker:
    def __init__(
        self,
        parts: WorkflowParts,
        positions: Positions | None,
        lookup: OperationLookup,
        known_secrets: Collection[str] | None,
        known_operations: Collection[str] | None,
    ) -> None:
        self.parts = parts
        self.known_operations = None if known_operations is None else list(known_operations)
        self.positions = positions
        self.lookup = lookup
        self.known_secrets = None if known_secrets is None else sorted(known_secrets)
        self.problems: list[Problem] = []
        self.all_ids: list[str] = []

    def at(self, loc: Loc, message: str, *, key: bool = False) -> None:
        if self.positions is None:
            self.problems.append(Problem(self.parts.path, 0, 0, message))
            return
        pos = self.positions.key(loc) if key else self.positions.value(loc)
        self.problems.append(Problem(self.parts.path, pos.line, pos.column, message))

    def run(self) -> None:
        parts = self.parts
        self._duplicate_ids()
        if parts.if_ is not None:
            why = "the workflow's 'if' is checked before any step runs"
            self._template(("if",), parts.if_, _Scope(_IF_NAMES, why_no_steps=why), True)
        poll = parts.trigger.poll if parts.trigger is not None else None
        if poll is not None:
            loc: Loc = ("trigger", "poll")
            why = "a poll trigger runs before any step"
            self._operation(poll.uses, poll.with_, loc)
            self._templates_in(poll.with_, (*loc, "with"), _Scope(_POLL_NAMES, why_no_steps=why))
        if parts.concurrency is not None:
            why = "the workflow's concurrency key is taken before any step runs"
            scope = _Scope(_RUN_KEY_NAMES, why_no_steps=why)
            self._concurrency_key(("concurrency",), parts.concurrency, scope)
        earlier: list[str] = []
        for slot in parts.steps:
            self._step(slot, tuple(earlier), in_failure=False)
            earlier.extend([slot.id] if slot.id else [])
        for slot in parts.on_failure:
            self._step(slot, tuple(earlier), in_failure=True)
            earlier.extend([slot.id] if slot.id else [])

    def _duplicate_ids(self) -> None:
        first: dict[str, Loc] = {}
        pending = [*self.parts.steps, *self.parts.on_failure]
        while pending:
            slot = pending.pop(0)
            if slot.step is not None:
                nested = _slots(slot.step.on_failure, (*slot.loc, "on_failure"))
                pending[0:0] = nested
            if slot.id is None:
                continue
            if slot.id in first:
                where = self._describe(first[slot.id])
                self.at(
                    (*slot.loc, "id"),
                    f"duplicate step id '{slot.id}' (also used {where}); "
                    "step ids must be unique in a workflow, on_failure steps included",
                )
            else:
                first[slot.id] = slot.loc
                self.all_ids.append(slot.id)

    def _describe(self, loc: Loc) -> str:
        if self.positions is None:
            return "by an earlier step"
        pos = self.positions.value((*loc, "id"))
        return f"at line {pos.line}, column {pos.column}"

    def _step(self, slot: StepSlot, earlier: tuple[str, ...], *, in_failure: bool) -> None:
        step = slot.step
        if step is None:
            return
        names = _BASE_NAMES | {"steps"} | ({"error"} if in_failure else set())
        scope = _Scope(frozenset(names), earlier, step.id)
        if step.foreach is not None:
            self._template((*slot.loc, "foreach"), step.foreach, scope, True)
            scope = replace(scope, names=scope.names | {"item", "index"})
        if step.if_ is not None:
            self._template((*slot.loc, "if"), step.if_, scope, True)
        self._operation(step.uses, step.with_, slot.loc)
        self._templates_in(step.with_, (*slot.loc, "with"), scope)
        if step.concurrency is not None:
            names = scope.names - {"secrets"}
            key_scope = replace(scope, names=names)
            self._concurrency_key((*slot.loc, "concurrency"), step.concurrency, key_scope)
        failure_earlier = list(earlier)
        for index, nested in enumerate(step.on_failure):
            loc = (*slot.loc, "on_failure", index)
            self._step(StepSlot(loc, nested.id, nested), tuple(failure_earlier), in_failure=True)
            failure_earlier.append(nested.id)

    def _concurrency_key(self, loc: Loc, concurrency: Concurrency, scope: _Scope) -> None:
        key = concurrency.key
        if key and not key.strip():
            self.at((*loc, "key"), "a concurrency key must not be blank; leave it out for one key")
        elif is_template(key):
            if check_syntax(key) is None and any(
                path[0] == "secrets" for path in referenced_names(key)
            ):
                self.at((*loc, "key"), "a concurrency key must not read secrets")
                return
            self._template((*loc, "key"), key, scope, False)

    def _operation(self, uses: str, args: dict[str, Any], loc: Loc) -> None:
        try:
            _, operation = self.lookup(uses)
        except ConfigError as exc:
            message = str(exc)
            if "did you mean" not in message:
                close = difflib.get_close_matches(uses, self._operations(), n=1)
                message += f"; did you mean '{close[0]}'?" if close else ""
            self.at((*loc, "uses"), message)
            return
        except Exception as exc:
            self.at(
                (*loc, "uses"),
                f"cannot load the connector for '{uses}' ({type(exc).__name__}: {exc}); "
                "check that the connector package is installed",
            )
            return
        for problem in check_arguments(uses, operation.input, args):
            self.at((*loc, "with", *problem.loc), problem.message, key=problem.at_key)

    def _operations(self) -> list[str]:
        if self.known_operations is None:
            self.known_operations = []
            if self.lookup is get_operation:
                with contextlib.suppress(Exception):
                    self.known_operations = all_operations()
        return self.known_operations

    def _templates_in(self, value: Any, loc: Loc, scope: _Scope) -> None:
        if isinstance(value, str):
            if is_template(value):
                self._template(loc, value, scope, False)
        elif isinstance(value, dict):
            for key, item in value.items():
                self._templates_in(item, (*loc, key), scope)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self._templates_in(item, (*loc, index), scope)

    def _template(self, loc: Loc, text: str, scope: _Scope, condition: bool) -> None:
        message = check_syntax(text, condition=condition)
        if message is not None:
            self.at(loc, message)
            return
        for path in sorted(referenced_names(text, condition=condition)):
            problem = self._reference(path, scope)
            if problem is not None:
                self.at(loc, problem)

    def _reference(self, path: tuple[str, ...], scope: _Scope) -> str | None:
        root = path[0]
        private = next((part for part in path if _PRIVATE.match(part)), None)
        if private is not None:
            return f"access to '{private}' is not allowed in templates"
        if root not in scope.names:
            return _unknown_name(root, scope)
        if root == "steps" and len(path) > 1:
            return self._step_reference(path[1], scope)
        if root == "secrets":
            return self._secret_reference(path)
        return None

    def _step_reference(self, step_id: str, scope: _Scope) -> str | None:
        earlier = scope.earlier or ()
        if step_id in earlier:
            return None
        listed = f"earlier steps: {', '.join(earlier)}" if earlier else "there are no earlier steps"
        if step_id == scope.current:
            return (
                f"'steps.{step_id}' is this step itself; a step can only read steps that "
                f"ran before it ({listed})"
            )
        if step_id in self.all_ids:
            return (
                f"'steps.{step_id}' refers to step '{step_id}', which is not an earlier step "
                f"here; a step can only read steps that ran before it ({listed})"
            )
        close = difflib.get_close_matches(step_id, self.all_ids, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"'steps.{step_id}' is not a step of this workflow{hint} ({listed})"

    def _secret_reference(self, path: tuple[str, ...]) -> str | None:
        if len(path) == 1:
            return "use one secret by name, e.g. 'secrets.API_KEY', not the whole 'secrets'"
        name = path[1]
        if not _SECRET_NAME.fullmatch(name):
            return f"invalid secret name '{name}': use letters, digits and '_'"
        if self.known_secrets is not None and name not in self.known_secrets:
            close = difflib.get_close_matches(name, self.known_secrets, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "check the hub settings"
            known = ", ".join(self.known_secrets) or "none"
            return f"unknown secret '{name}'; {hint} (known secrets: {known})"
        return None


def _unknown_name(root: str, scope: _Scope) -> str:
    if root in ("item", "index"):
        return f"'{root}' is only defined in the 'with' and 'if' of a step with 'foreach'"
    if root == "error":
        return "'error' is only defined in on_failure steps"
    if root == "steps" and scope.why_no_steps:
        return f"'steps' is not available here: {scope.why_no_steps}"
    if root == "event" and "cursor" in scope.names:
        return "'event' is not available in a poll trigger's 'with'; use 'cursor'"
    names = sorted(scope.names)
    close = difflib.get_close_matches(root, names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown name '{root}' in template{hint} (names available here: {', '.join(names)})"
