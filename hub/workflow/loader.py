"""Loading workflow files: YAML with positions, schema, then semantic checks.

Every problem found is collected, with its ``file:line:column``, and raised at once as a
:class:`WorkflowError`. Positions come from PyYAML's node marks (safe loader only); the
loader keeps them on the workflow (``Workflow.positions``) for later messages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from pydantic import ValidationError

from hub.connector import get_operation
from hub.workflow.model import Concurrency, Step, Trigger, Workflow, revision_of
from hub.workflow.positions import compose
from hub.workflow.problems import Loc, Problem, WorkflowError
from hub.workflow.schema_errors import schema_problems
from hub.workflow.validate import (
    OperationLookup,
    StepSlot,
    WorkflowParts,
    validate_parts,
    validate_workflow,
)

__all__ = [
    "Problem",
    "WorkflowError",
    "load_folder",
    "load_workflow",
    "load_workflow_text",
    "parse_workflow",
]


@dataclass(frozen=True)
class _Checks:
    lookup: OperationLookup
    known_secrets: Collection[str] | None
    known_operations: Collection[str] | None

    def options(self) -> _Options:
        return {"known_secrets": self.known_secrets, "known_operations": self.known_operations}


class _Options(TypedDict):
    known_secrets: Collection[str] | None
    known_operations: Collection[str] | None


def load_workflow(
    path: Path | str,
    *,
    lookup: OperationLookup = get_operation,
    known_secrets: Collection[str] | None = None,
    known_operations: Collection[str] | None = None,
) -> Workflow:
    """Load and check one workflow file; :class:`WorkflowError` lists every problem.

    ``lookup`` resolves ``uses``; ``known_secrets`` and ``known_operations`` are as in
    :func:`hub.workflow.validate.validate_workflow`.
    """
    checks = _Checks(lookup, known_secrets, known_operations)
    return _valid(*_load_file(Path(path), checks))


def load_workflow_text(
    text: str,
    path: str = "<string>",
    *,
    lookup: OperationLookup = get_operation,
    known_secrets: Collection[str] | None = None,
    known_operations: Collection[str] | None = None,
) -> Workflow:
    """Load and check a workflow from text; ``path`` names it in problems."""
    checks = _Checks(lookup, known_secrets, known_operations)
    return _valid(*_parse(text, path, checks))


def parse_workflow(
    text: str,
    path: str = "<string>",
    *,
    lookup: OperationLookup = get_operation,
    known_secrets: Collection[str] | None = None,
    known_operations: Collection[str] | None = None,
) -> tuple[Workflow | None, list[Problem]]:
    """``(workflow, problems)`` without raising; the workflow is None when it is invalid."""
    return _parse(text, path, _Checks(lookup, known_secrets, known_operations))


def load_folder(
    folder: Path | str,
    *,
    lookup: OperationLookup = get_operation,
    known_secrets: Collection[str] | None = None,
    known_operations: Collection[str] | None = None,
) -> list[Workflow]:
    """Every ``*.yaml``/``*.yml`` in ``folder`` (not recursive, ``*.test.y*ml`` skipped).

    Problems of all files, and workflow names used twice, are raised as one
    :class:`WorkflowError`. Workflows come back sorted by file name.
    """
    root = Path(folder)
    if not root.is_dir():
        raise WorkflowError([Problem(str(root), 0, 0, "workflow folder does not exist")])
    checks = _Checks(lookup, known_secrets, known_operations)
    files = sorted(
        p
        for p in root.iterdir()
        if p.is_file()
        and p.suffix in (".yaml", ".yml")
        and not p.name.endswith((".test.yaml", ".test.yml"))
    )
    workflows: list[Workflow] = []
    problems: list[Problem] = []
    seen: dict[str, Workflow] = {}
    for file in files:
        workflow, found = _load_file(file, checks)
        problems.extend(found)
        if workflow is None:
            continue
        other = seen.get(workflow.name)
        if other is None:
            seen[workflow.name] = workflow
            workflows.append(workflow)
            continue
        pos = workflow.positions.value(("name",)) if workflow.positions else None
        message = (
            f"workflow name '{workflow.name}' is already used by {other.source_path}; "
            "names must be unique: rename one"
        )
        line, column = (pos.line, pos.column) if pos else (0, 0)
        problems.append(Problem(workflow.source_path, line, column, message))
    if problems:
        raise WorkflowError(problems)
    return workflows


def _valid(workflow: Workflow | None, problems: list[Problem]) -> Workflow:
    if workflow is None or problems:
        raise WorkflowError(problems)
    return workflow


def _load_file(path: Path, checks: _Checks) -> tuple[Workflow | None, list[Problem]]:
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem(name, 0, 0, f"cannot read workflow file: {exc.strerror or exc}")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [Problem(name, line, column, "the file is not UTF-8 text; save it as UTF-8")]
    return _parse(text, name, checks)


def _parse(text: str, path: str, checks: _Checks) -> tuple[Workflow | None, list[Problem]]:
    document, positions, problems = compose(text, path)
    if document is None:
        if not problems:
            message = "the file is empty; a workflow needs a name, a trigger and steps"
            problems.append(Problem(path, 1, 1, message))
        return None, problems
    if not isinstance(document, dict):
        pos = positions.value(())
        message = "a workflow file must be a mapping with 'name', 'trigger' and 'steps'"
        return None, [*problems, Problem(path, pos.line, pos.column, message)]
    try:
        workflow = Workflow.model_validate(document, by_name=False)
    except ValidationError as exc:
        problems.extend(schema_problems(exc, positions, path))
        parts = _salvage(document, path)
        problems.extend(validate_parts(parts, positions, checks.lookup, **checks.options()))
        return None, problems
    revision = revision_of(text.encode("utf-8"))  # the same for a file and its text
    workflow.attach_source(path=path, text=text, revision=revision, positions=positions)
    problems.extend(validate_workflow(workflow, positions, checks.lookup, **checks.options()))
    return (None if problems else workflow), problems


def _salvage(document: dict[str, Any], path: str) -> WorkflowParts:
    """The parts of an invalid workflow that are valid on their own, for further checks."""
    trigger: Trigger | None = None
    with contextlib.suppress(ValidationError):
        trigger = Trigger.model_validate(document.get("trigger"), by_name=False)
    condition = document.get("if")
    concurrency: Concurrency | None = None
    with contextlib.suppress(ValidationError):
        concurrency = Concurrency.model_validate(document.get("concurrency"), by_name=False)
    return WorkflowParts(
        path=path,
        if_=condition if isinstance(condition, str) else None,
        trigger=trigger,
        steps=_salvage_steps(document.get("steps"), ("steps",)),
        on_failure=_salvage_steps(document.get("on_failure"), ("on_failure",)),
        concurrency=concurrency,
    )


def _salvage_steps(raw: Any, loc: Loc) -> list[StepSlot]:
    if not isinstance(raw, list):
        return []
    slots: list[StepSlot] = []
    for index, item in enumerate(raw):
        step: Step | None = None
        with contextlib.suppress(ValidationError):
            step = Step.model_validate(item, by_name=False)
        raw_id = item.get("id") if isinstance(item, dict) else None
        slots.append(StepSlot((*loc, index), raw_id if isinstance(raw_id, str) else None, step))
    return slots
