"""The test file format: ``workflows/<name>.test.yaml`` next to ``<name>.yaml``.

```yaml
workflow: contact-to-crm-person          # optional: the workflow in <name>.yaml
secrets: { CRM_KEY: test }               # optional, for every case
settings: { HUB_STEP_MAX_ATTEMPTS: 3 }   # optional, for every case (a few are allowed)
cases:
  - name: creates the person
    given:                               # optional: sandbox records and faults
      crm:                               #   by connector name
        people: [ { name: { first: Old }, emails: [ { address: a@b.c } ] } ]
        faults: { scripts: [ { method: POST, path: /people, answers: [500, 500] } ] }
    event:                               # or events: [ ... ] run one after the other
      type: contact.created              # written where the source reads the type; default:
                                         #   the body's, or the trigger's event (no glob)
      id: evt-1                          # written where the source reads the id
      headers: { X-Trace: "1" }          # optional, sent as given
      body: { data: { email: a@b.c } }
    expect:                              # about the last event's run, and the sandboxes
      status: succeeded                  # succeeded | failed | skipped | duplicate | answered
      reason: "if: false"                # part of why it was skipped or a duplicate
      runs: 2                            # runs all the case's events started
      steps: { person: { created: true } }             # outputs, partial match
      error: { step: person, status: 400, message: "part of the message" }
      attempts: { person: 3 }
      delays: { person: [2] }            # countdowns before each retry or wait, seconds
      upstream: { crm: { people: { count: 1, contains: [ { name: { first: Ada } } ] } } }
      calls: { crm: { "POST /people": 3 } }            # "METHOD /path" globs
```

Each event goes through the same intake as production (see
:mod:`hub.testing.deliveries`): signed with its source's scheme and read where the
source says, deduped on its id (``duplicate``: no run), routed (``skipped``: no run,
when its type matches no trigger or the workflow's ``if`` keeps it out). A delivery to a
source with ``batch`` is its events in turn (the last one is "the last event"); a
verification handshake is ``answered``, with the answer as its ``reason``.

:func:`hub.testing.checks.load_spec` checks a file with positions, as workflows are
checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.sandbox import FaultConfig
from hub.workflow import Positions, Workflow

__all__ = [
    "ALLOWED_SETTINGS",
    "Case",
    "EventSpec",
    "Expect",
    "Given",
    "LoadedSpec",
    "TestFile",
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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventSpec(_Model):
    """One event as a sender would POST it (or a poll hand it on)."""

    source: str | None = Field(default=None, description="Default: the trigger's source.")
    type: str | None = Field(
        default=None,
        description="Written where the source reads the type. Default: the body's, or the "
        "trigger's event when it has no glob.",
    )
    id: str | None = Field(default=None, description="Written where the source reads the id.")
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

    status: Literal["succeeded", "failed", "skipped", "duplicate", "answered"] | None = None
    reason: str | None = Field(
        default=None,
        description="A part of why the event was skipped or a duplicate, or of a "
        "handshake's answer.",
    )
    runs: int | None = Field(
        default=None, ge=0, description="How many runs the case's events started, in all."
    )
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
