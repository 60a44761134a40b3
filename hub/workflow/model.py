"""The workflow file schema: pydantic models of triggers, steps and workflows.

Field names that are Python keywords are spelled with a trailing underscore in Python
(``with_``, ``if_``) and by their YAML name (``with``, ``if``) everywhere else: models
validate either spelling when built in code, and always serialise by alias, so
``model_dump()`` gives back the keys an operator wrote. The loader validates YAML by
alias only, so a stray ``with_:`` in a file is an unknown field.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    model_serializer,
    model_validator,
)
from pydantic_core.core_schema import SerializerFunctionWrapHandler

from hub.workflow.fields import (
    EMPTY_LIST,
    Arguments,
    Condition,
    Cron,
    CursorPath,
    Duration,
    Slug,
    SourceName,
    StepId,
    Uses,
)
from hub.workflow.positions import Positions
from hub.workflow.problems import Loc
from hub.workflow.timing import cron_fields, parse_duration

__all__ = [
    "Concurrency",
    "PollTrigger",
    "RetryOverride",
    "ScheduleTrigger",
    "Step",
    "Trigger",
    "WebhookTrigger",
    "Workflow",
    "revision_of",
]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class _OneOf(_Model):
    """A model where exactly one field is set; ``None`` fields are left out when dumped."""

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class WebhookTrigger(_Model):
    """Run for events POSTed to ``/hooks/{source}`` whose type matches ``event``."""

    source: SourceName = Field(description="The sender, as in the ingress URL /hooks/{source}.")
    event: str = Field(
        default="*",
        min_length=1,
        description="Event type glob, e.g. 'contact.created', 'contact.*' or '*'.",
    )


class ScheduleTrigger(_OneOf):
    """Run on a clock: ``every`` a duration, or on a five-field ``cron`` expression."""

    every: Duration | None = Field(default=None, description="Interval, e.g. '30s', '5m'.")
    cron: Cron | None = Field(default=None, description="Cron expression, e.g. '*/5 * * * *'.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ScheduleTrigger:
        if (self.every is None) == (self.cron is None):
            raise ValueError("a schedule needs exactly one of 'every' or 'cron'")
        return self

    @property
    def every_seconds(self) -> float | None:
        """``every`` in seconds, or None for a cron schedule."""
        return None if self.every is None else parse_duration(self.every)

    @property
    def cron_fields(self) -> tuple[str, str, str, str, str] | None:
        """minute, hour, day of month, month, day of week; macros expanded."""
        return None if self.cron is None else cron_fields(self.cron)


class PollTrigger(_Model):
    """Call an operation on a schedule and run once per new record it returns."""

    uses: Uses = Field(description="The list operation to call, connector.operation.")
    with_: Arguments = Field(
        default_factory=dict, alias="with", description="Arguments; may use {{ cursor }}."
    )
    cursor: CursorPath = Field(
        description="Field of each record that advances the cursor, e.g. 'updatedAt'."
    )
    every: Duration = Field(default="5m", description="How often to poll.")

    @property
    def every_seconds(self) -> float:
        """``every`` in seconds."""
        return parse_duration(self.every)


class Trigger(_OneOf):
    """What starts a run: exactly one of ``webhook``, ``schedule`` or ``poll``."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    webhook: WebhookTrigger | None = None
    schedule: ScheduleTrigger | None = None
    poll: PollTrigger | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        count = sum(t is not None for t in (self.webhook, self.schedule, self.poll))
        if count != 1:
            raise ValueError("a trigger needs exactly one of 'webhook', 'schedule' or 'poll'")
        return self

    @property
    def kind(self) -> Literal["webhook", "schedule", "poll"]:
        """Which trigger this is."""
        if self.webhook is not None:
            return "webhook"
        return "schedule" if self.schedule is not None else "poll"


class RetryOverride(_Model):
    """Per-step retry settings; unset fields fall back to the hub settings."""

    max_attempts: int | None = Field(default=None, ge=1)
    backoff_base_seconds: float | None = Field(default=None, gt=0)
    backoff_cap_seconds: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _cap_above_base(self) -> RetryOverride:
        base, cap = self.backoff_base_seconds, self.backoff_cap_seconds
        if base is not None and cap is not None and cap < base:
            raise ValueError(
                f"backoff_cap_seconds ({cap:g}) must not be below backoff_base_seconds ({base:g})"
            )
        return self


class Concurrency(_Model):
    """At most ``limit`` runs (on a workflow) or executions of a step (on a step) with the
    same key at once, cluster-wide; the others wait their turn in arrival order."""

    key: str = Field(
        default="",
        description="A template for the key, e.g. '{{ event.data.id }}'. Runs whose keys "
        "render to the same text share the limit, across workflows too. Empty: one key "
        "for the whole workflow (or step).",
    )
    limit: int = Field(default=1, ge=1, description="How many may hold the key at once.")


class Step(_Model):
    """One call to a connector operation."""

    id: StepId = Field(description="Unique in the workflow; later steps read steps.<id>.")
    uses: Uses = Field(description="connector.operation, e.g. crm.contacts.create.")
    with_: Arguments = Field(
        default_factory=dict, alias="with", description="Arguments; strings may be templates."
    )
    if_: Condition | None = Field(
        default=None, alias="if", description="Run only when this is true."
    )
    foreach: str | None = Field(
        default=None, description="A list to run the step over; defines item and index."
    )
    retry: RetryOverride | None = None
    concurrency: Concurrency | None = Field(
        default=None, description="At most 'limit' executions of this step per key at once."
    )
    on_failure: Annotated[list[Step], EMPTY_LIST] = Field(
        default_factory=list, description="Steps to run when this step fails for good."
    )


class Workflow(_Model):
    """A workflow file: a trigger, an optional filter and the steps to run."""

    name: Slug = Field(description="Unique name: lowercase letters, digits and dashes.")
    description: str = ""
    trigger: Trigger
    if_: Condition | None = Field(
        default=None, alias="if", description="Run only for events where this is true."
    )
    steps: list[Step] = Field(min_length=1)
    on_failure: Annotated[list[Step], EMPTY_LIST] = Field(
        default_factory=list, description="Steps to run when any step fails for good."
    )
    priority: Literal["interactive", "default", "bulk"] = "default"
    concurrency: Concurrency | None = Field(
        default=None,
        description="At most 'limit' runs per key at once, from the first "
        "step to the end of the run.",
    )

    _source_path: str = PrivateAttr(default="")
    _source_text: str = PrivateAttr(default="")
    _revision: str = PrivateAttr(default="")
    _positions: Positions | None = PrivateAttr(default=None)

    def attach_source(
        self, *, path: str, text: str, revision: str, positions: Positions | None = None
    ) -> None:
        """Record where this workflow was loaded from (done by the loader)."""
        self._source_path = path
        self._source_text = text
        self._revision = revision
        self._positions = positions

    @property
    def source_path(self) -> str:
        """The file this workflow was loaded from, or "" when built in code."""
        return self._source_path

    @property
    def source_text(self) -> str:
        """The text of that file, or "" when built in code."""
        return self._source_text

    @property
    def revision(self) -> str:
        """12 hex digits of the SHA-256 of the source text as UTF-8.

        A workflow built in code (no source) hashes its JSON dump instead.
        """
        # read on every event: straight from pydantic's private dict, not __getattr__
        private = self.__pydantic_private__ or {}
        return private.get("_revision") or revision_of(self.model_dump_json().encode())

    @property
    def positions(self) -> Positions | None:
        """Line and column of every key and value in the source file, if loaded."""
        return self._positions

    @property
    def webhook(self) -> WebhookTrigger | None:
        """The webhook trigger, or None for schedule and poll workflows."""
        return self.trigger.webhook

    def matches(self, source: str, event_type: str) -> bool:
        """True when this webhook workflow runs for ``event_type`` from ``source``."""
        hook = self.trigger.webhook
        return (
            hook is not None
            and hook.source == source
            and fnmatch.fnmatchcase(event_type, hook.event)
        )

    def all_steps(self) -> Iterator[tuple[Loc, Step]]:
        """Every step with its location: main steps, their on_failure, workflow on_failure."""
        yield from _walk(self.steps, ("steps",))
        yield from _walk(self.on_failure, ("on_failure",))


def _walk(steps: list[Step], loc: Loc) -> Iterator[tuple[Loc, Step]]:
    for index, step in enumerate(steps):
        yield (*loc, index), step
        yield from _walk(step.on_failure, (*loc, index, "on_failure"))


def revision_of(data: bytes) -> str:
    """A short content hash: the first 12 hex digits of SHA-256."""
    return hashlib.sha256(data).hexdigest()[:12]
