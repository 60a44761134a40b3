"""Running ``hub test`` files from a test: through the suite, or case by case on a tester."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from textwrap import dedent
from typing import Any

import httpx
import redis

from hub.sandbox.declaration import Sandbox
from hub.testing.checks import load_spec
from hub.testing.runner import CaseResult, WorkflowTester
from hub.testing.suite import run_tests
from hub.workflow.loader import load_workflow

__all__ = ["run_cases", "run_folder"]


def run_folder(
    folder: Path, redis_client: redis.Redis, files: Mapping[str, str]
) -> tuple[bool, list[str]]:
    """Write ``files`` (name: text, dedented) into ``folder`` and run ``hub test`` on it:
    whether it passed, and the lines it printed."""
    for name, text in files.items():
        (folder / name).write_text(dedent(text))
    lines: list[str] = []
    report = run_tests(folder, redis_client, echo=lines.append)
    return report.ok, lines


def run_cases(
    workflow: Path,
    spec: Path,
    redis_client: redis.Redis,
    *,
    transport: Callable[[], httpx.BaseTransport] | None = None,
    sandboxes: Mapping[str, Sandbox[Any]] | None = None,
) -> list[CaseResult]:
    """The results of ``spec``'s cases for ``workflow``, on a tester of their own
    (``sandboxes``: which sandbox plays each connector's upstream, default their own)."""
    wf = load_workflow(workflow)
    tester = WorkflowTester(redis_client, transport=transport, sandboxes=sandboxes)
    try:
        loaded = load_spec(spec, {wf.name: wf}, tester.sandboxes.resources())
        return list(tester.run_spec(loaded))
    finally:
        tester.close()
