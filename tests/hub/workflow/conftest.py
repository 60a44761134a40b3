"""Fixtures for workflow tests: loading with the test connectors."""

from __future__ import annotations

from collections.abc import Callable
from textwrap import dedent

import pytest

from hub.workflow.loader import WorkflowError, load_workflow_text
from hub.workflow.model import Workflow

from .fakes import lookup


@pytest.fixture
def load() -> Callable[[str], Workflow]:
    """Load dedented YAML text with the test connectors."""

    def _load(text: str) -> Workflow:
        return load_workflow_text(dedent(text), "wf.yaml", lookup=lookup)

    return _load


@pytest.fixture
def problems() -> Callable[[str], list[str]]:
    """The problems of dedented YAML text, as ``line:column: message`` strings."""

    def _problems(text: str) -> list[str]:
        with pytest.raises(WorkflowError) as caught:
            load_workflow_text(dedent(text), "wf.yaml", lookup=lookup)
        return [f"{p.line}:{p.column}: {p.message}" for p in caught.value.problems]

    return _problems
