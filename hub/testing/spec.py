"""The test file format: ``workflows/<name>.test.yaml`` next to ``<name>.yaml``.

```yaml
workflow: crm-contact-to-plutio-person   # optional: the workflow in <name>.yaml
secrets: { CRM_KEY: test }               # optional, for every case
settings: { HUB_STEP_MAX_ATTEMPTS: 3 }   # optional, for every case (a few are allowed)
cases:
  - name: creates the person
    given:                               # optional: sandbox records and faults
      plutio:
        people: [ { name: { first: Old }, contactEmails: [ { address: a@b.c } ] } ]
        faults: { scripts: [ { method: POST, path: /people, answers: [500, 500] } ] }
    event:                               # or events: [ ... ] run one after the other
      type: contact.created              # default: X-Event-Type header, body 'type',
      body: { data: { email: a@b.c } }   #   or the trigger's event when it has no glob
    expect:                              # about the last event's run, and the sandboxes
      status: succeeded                  # succeeded | failed | skipped
      steps: { person: { created: true } }             # outputs, partial match
      error: { step: person, status: 400, message: "part of the message" }
      attempts: { person: 3 }
      delays: { person: [2] }            # countdowns before each retry or wait, seconds
      upstream: { plutio: { people: { count: 1, contains: [ { name: { first: Ada } } ] } } }
      calls: { plutio: { "POST /people": 3 } }         # "METHOD /path" globs
```

:func:`load_spec` checks a file with positions, as workflows are checked.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.sandbox.faults import FaultConfig
from hub.settings import Settings
from hub.workflow.model import Workflow
from hub.workflow.positions import Positions, compose
from hub.workflow.problems import Loc, Problem, WorkflowError
from hub.workflow.schema_errors import schema_problems

__all__ = [
    "ALLOWED_SETTINGS",
    "Case",
    "EventSpec",
    "Expect",
    "Given",
    "LoadedSpec",
    "TestFile",
    "load_spec",
    "spec_path_for",
    "workflow_path_for",
]

#: Settings a test file may change; the rest are the runner's (connections, sandboxes).
ALLOWED_SETTINGS = frozenset(
    {
        "HUB_STEP_MAX_ATTEMPTS",
        "HUB_RETRY_BASE_SECONDS",
        "HUB_RETRY_CAP_SECONDS",
        "HUB_EVENT_TYPE_PATH",
        "HUB_EVENT_ID_PATH",
    }
)
_SUFFIXES = (".test.yaml", ".test.yml")
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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventSpec(_Model):
    """One event as a sender would POST it."""

    source: str | None = Field(default=None, description="Default: the trigger's source.")
    type: str | None = None
    id: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(default_factory=dict)


class SandboxGiven(BaseModel):
    """A sandbox's start state: ``<resource>: [records]`` and ``faults``."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, list[dict[str, Any]]]

    faults: FaultConfig | None = None

    def records(self) -> dict[str, list[dict[str, Any]]]:
        return dict(self.model_extra or {})


class Given(BaseModel):
    """Secrets, settings and ``<connector>: <sandbox state>``."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, SandboxGiven]

    secrets: dict[str, str] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)

    def sandboxes(self) -> dict[str, SandboxGiven]:
        return dict(self.model_extra or {})


class ErrorExpect(_Model):
    """The run's error; ``message`` is a part of the message."""

    step: str | None = None
    type: str | None = None
    status: int | None = None
    index: int | None = None
    message: str | None = None


class RecordsExpect(_Model):
    """Records of one resource in a sandbox after the case."""

    count: int | None = Field(default=None, ge=0)
    contains: list[Any] = Field(default_factory=list)


class Expect(_Model):
    """What must hold after the case's events ran."""

    status: Literal["succeeded", "failed", "skipped"] | None = None
    steps: dict[str, Any] = Field(default_factory=dict)
    error: ErrorExpect | None = None
    attempts: dict[str, int] = Field(default_factory=dict)
    delays: dict[str, list[float]] = Field(default_factory=dict)
    upstream: dict[str, dict[str, RecordsExpect]] = Field(default_factory=dict)
    calls: dict[str, dict[str, int]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _something(self) -> Expect:
        if not self.model_fields_set:
            raise ValueError("expect needs at least one check, e.g. 'status: succeeded'")
        return self


class Case(_Model):
    """One test: start state, events, expectations."""

    name: str = Field(min_length=1)
    given: Given = Field(default_factory=Given)
    event: EventSpec | None = None
    events: list[EventSpec] | None = Field(default=None, min_length=1)
    expect: Expect

    @model_validator(mode="after")
    def _one_way_of_events(self) -> Case:
        if (self.event is None) == (self.events is None):
            raise ValueError("a case needs exactly one of 'event' or 'events'")
        return self

    def all_events(self) -> list[EventSpec]:
        return [self.event] if self.event is not None else list(self.events or [])


class TestFile(_Model):
    """A test file: the workflow it tests and its cases."""

    __test__ = False  # not a pytest class

    workflow: str | None = Field(default=None, description="Default: the workflow of <name>.yaml.")
    secrets: dict[str, str] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    cases: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class LoadedSpec:
    """A checked test file and the workflow it tests."""

    path: str
    spec: TestFile
    workflow: Workflow
    positions: Positions

    def case_line(self, index: int) -> int:
        return self.positions.value(("cases", index)).line


def spec_path_for(workflow_file: Path) -> Path | None:
    """The test file next to a workflow file, if there is one."""
    stem = workflow_file.name.rsplit(".", 1)[0]
    for suffix in _SUFFIXES:
        candidate = workflow_file.with_name(stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def workflow_path_for(spec_file: Path) -> Path:
    """The workflow file a test file is named after: ``x.test.yaml`` -> ``x.yaml``."""
    name = spec_file.name
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return spec_file.with_name(name[: -len(suffix)] + suffix[5:])
    return spec_file


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
