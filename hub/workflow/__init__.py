"""Workflows: YAML loaded with positions, validated into the model, compiled into Celery
chains; templates and filters; the run context; revisions shared through Redis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.core import lazy_exports

if TYPE_CHECKING:
    from hub.workflow.compiler import (
        STEP_TASK,
        compile_run,
        compile_steps,
        item_signature,
        step_kwargs,
    )
    from hub.workflow.context import RunContext, new_context
    from hub.workflow.fields import SOURCE_PATTERN
    from hub.workflow.filters import to_datetime
    from hub.workflow.jinja_env import compile_template, parse_template
    from hub.workflow.live import LiveWorkflows
    from hub.workflow.loader import load_folder, load_workflow
    from hub.workflow.model import Concurrency, PollTrigger, RetryOverride, Step, Workflow
    from hub.workflow.positions import Positions, compose
    from hub.workflow.problems import Loc, Problem, WorkflowError
    from hub.workflow.revisions import WorkflowStore
    from hub.workflow.schema import workflow_json_schema
    from hub.workflow.schema_errors import schema_problems
    from hub.workflow.templates import evaluate, redact, redactor, render, truthy
    from hub.workflow.validate import OperationLookup

__all__ = [
    "SOURCE_PATTERN",
    "STEP_TASK",
    "Concurrency",
    "LiveWorkflows",
    "Loc",
    "OperationLookup",
    "PollTrigger",
    "Positions",
    "Problem",
    "RetryOverride",
    "RunContext",
    "Step",
    "Workflow",
    "WorkflowError",
    "WorkflowStore",
    "compile_run",
    "compile_steps",
    "compile_template",
    "compose",
    "evaluate",
    "item_signature",
    "load_folder",
    "load_workflow",
    "new_context",
    "parse_template",
    "redact",
    "redactor",
    "render",
    "schema_problems",
    "step_kwargs",
    "to_datetime",
    "truthy",
    "workflow_json_schema",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "compiler": (
            "STEP_TASK",
            "compile_run",
            "compile_steps",
            "item_signature",
            "step_kwargs",
        ),
        "context": (
            "RunContext",
            "new_context",
        ),
        "fields": ("SOURCE_PATTERN",),
        "filters": ("to_datetime",),
        "jinja_env": (
            "compile_template",
            "parse_template",
        ),
        "live": ("LiveWorkflows",),
        "loader": (
            "load_folder",
            "load_workflow",
        ),
        "model": (
            "Concurrency",
            "PollTrigger",
            "RetryOverride",
            "Step",
            "Workflow",
        ),
        "positions": (
            "Positions",
            "compose",
        ),
        "problems": (
            "Loc",
            "Problem",
            "WorkflowError",
        ),
        "revisions": ("WorkflowStore",),
        "schema": ("workflow_json_schema",),
        "schema_errors": ("schema_problems",),
        "templates": (
            "evaluate",
            "redact",
            "redactor",
            "render",
            "truthy",
        ),
        "validate": ("OperationLookup",),
    },
)
