"""Loading a test file and checking it against the workflow it tests, with positions.

Schema problems come from the models in :mod:`hub.testing.spec`; then each name the
file uses must exist: the workflow, its steps, the sandboxes and their resources, and
the settings a test may change. Every problem names ``file:line:column``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub.core import Settings
from hub.testing.spec import ALLOWED_SETTINGS, LoadedSpec, TestFile, workflow_path_for
from hub.workflow import Loc, Positions, Problem, Workflow, WorkflowError, compose, schema_problems

__all__ = ["load_spec"]

_NOUNS = {
    "TestFile": "the test file",
    "Case": "the case",
    "EventSpec": "the event",
    "Given": "given",
    "Expect": "expect",
    "ErrorExpect": "expect.error",
    "RecordsExpect": "the records expectation",
    "FaultConfig": "faults",
}


def load_spec(
    path: Path,
    workflows: dict[str, Workflow],
    sandbox_resources: dict[str, frozenset[str]],
) -> LoadedSpec:
    """Read and check a test file; :class:`WorkflowError` lists every problem.

    ``workflows`` are the loaded workflows by name; ``sandbox_resources`` the
    resources of each connector that has a sandbox.
    """
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkflowError([Problem(name, 0, 0, f"cannot read the test file: {exc}")]) from None
    document, positions, problems = compose(text, name)
    if problems:
        raise WorkflowError(problems)
    if not isinstance(document, dict):
        message = "a test file must be a mapping with 'cases' (and optionally 'workflow')"
        raise WorkflowError([Problem(name, 1, 1, message)])
    try:
        spec = TestFile.model_validate(document)
    except ValidationError as exc:
        found = schema_problems(exc, positions, name, root=TestFile, nouns=_NOUNS)
        raise WorkflowError(found) from None
    checker = _Checker(name, positions, spec, workflows, sandbox_resources)
    workflow = checker.workflow(path)
    if workflow is not None:
        checker.cases(workflow)
    if checker.problems or workflow is None:
        raise WorkflowError(checker.problems)
    return LoadedSpec(name, spec, workflow, positions)


class _Checker:
    def __init__(
        self,
        path: str,
        positions: Positions,
        spec: TestFile,
        workflows: dict[str, Workflow],
        sandboxes: dict[str, frozenset[str]],
    ) -> None:
        self.path = path
        self.positions = positions
        self.spec = spec
        self.workflows = workflows
        self.sandboxes = sandboxes
        self.problems: list[Problem] = []

    def at(self, loc: Loc, message: str, *, key: bool = False) -> None:
        pos = self.positions.key(loc) if key else self.positions.value(loc)
        self.problems.append(Problem(self.path, pos.line, pos.column, message))

    def workflow(self, path: Path) -> Workflow | None:
        if self.spec.workflow is not None:
            found = self.workflows.get(self.spec.workflow)
            if found is None:
                close = difflib.get_close_matches(self.spec.workflow, list(self.workflows), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                known = ", ".join(sorted(self.workflows)) or "none"
                self.at(
                    ("workflow",),
                    f"no workflow named '{self.spec.workflow}'{hint} (workflows: {known})",
                )
            return found
        sibling = workflow_path_for(path)
        for wf in self.workflows.values():
            if wf.source_path and Path(wf.source_path).resolve() == sibling.resolve():
                return wf
        self.at(
            (),
            f"no workflow file {sibling.name} next to this test file; name the workflow "
            "with 'workflow: <name>'",
        )
        return None

    def cases(self, wf: Workflow) -> None:
        self._settings(self.spec.settings, ("settings",))
        step_ids = [step.id for _, step in wf.all_steps()]
        seen: dict[str, int] = {}
        for index, case in enumerate(self.spec.cases):
            loc: Loc = ("cases", index)
            if case.name in seen:
                line = self.positions.value(("cases", seen[case.name], "name")).line
                self.at((*loc, "name"), f"case name '{case.name}' is used twice (line {line})")
            seen.setdefault(case.name, index)
            self._settings(case.given.settings, (*loc, "given", "settings"))
            for connector, given in case.given.sandboxes().items():
                where = (*loc, "given", connector)
                if self._sandbox(connector, where):
                    for resource in given.records():
                        self._resource(connector, resource, (*where, resource))
            expect = case.expect
            for field in ("steps", "attempts", "delays"):
                for step_id in getattr(expect, field):
                    self._step(step_id, step_ids, (*loc, "expect", field, step_id))
            if expect.error is not None and expect.error.step is not None:
                self._step(expect.error.step, step_ids, (*loc, "expect", "error", "step"), False)
            for connector, resources in expect.upstream.items():
                where = (*loc, "expect", "upstream", connector)
                if self._sandbox(connector, where):
                    for resource in resources:
                        self._resource(connector, resource, (*where, resource))
            for connector in expect.calls:
                self._sandbox(connector, (*loc, "expect", "calls", connector))

    def _settings(self, settings: dict[str, Any], loc: Loc) -> None:
        for name, value in settings.items():
            upper = name.upper()
            if upper not in ALLOWED_SETTINGS:
                allowed = ", ".join(sorted(ALLOWED_SETTINGS))
                self.at(
                    (*loc, name),
                    f"setting '{name}' cannot be set here (allowed: {allowed})",
                    key=True,
                )
                continue
            try:
                Settings.model_validate({upper.lower(): value})
            except ValidationError:
                self.at((*loc, name), f"invalid value for {upper}: {value!r}")

    def _sandbox(self, connector: str, loc: Loc) -> bool:
        if connector in self.sandboxes:
            return True
        known = ", ".join(sorted(self.sandboxes)) or "none"
        self.at(loc, f"no sandbox for '{connector}' (sandboxes: {known})", key=True)
        return False

    def _resource(self, connector: str, resource: str, loc: Loc) -> None:
        resources = self.sandboxes[connector]
        if resource in resources:
            return
        close = difflib.get_close_matches(resource, sorted(resources), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        self.at(loc, f"the {connector} sandbox has no resource '{resource}'{hint}", key=True)

    def _step(self, step_id: str, step_ids: list[str], loc: Loc, key: bool = True) -> None:
        if step_id in step_ids:
            return
        close = difflib.get_close_matches(step_id, step_ids, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        self.at(
            loc,
            f"the workflow has no step '{step_id}'{hint} (steps: {', '.join(step_ids)})",
            key=key,
        )
