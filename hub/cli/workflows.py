"""Commands on workflow files: ``validate``, ``schema`` and ``test`` (offline cases)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["schema", "test_cmd", "validate"]


def validate(path: Annotated[Path, typer.Argument(help="A workflow file or folder.")]) -> None:
    """Check workflows (and a folder's sources/) without running anything; exit 1 on any
    problem."""
    from hub.intake import SourceError, load_sources
    from hub.workflow import WorkflowError, load_folder, load_workflow

    try:
        loaded = load_folder(path) if path.is_dir() else [load_workflow(path)]
        sources = load_sources(path / "sources") if path.is_dir() else {}
    except (WorkflowError, SourceError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    for wf in loaded:
        typer.echo(f"ok  {wf.source_path}  {wf.name}  revision {wf.revision}")
    for name, (config, file) in sources.items():
        typer.echo(f"ok  {file}  source {name}  auth {config.auth.scheme}")


def schema() -> None:
    """Print the JSON Schema of workflow files (for editors)."""
    import json

    from hub.workflow import workflow_json_schema

    typer.echo(json.dumps(workflow_json_schema(), indent=2))


def test_cmd(
    path: Annotated[Path, typer.Argument(help="A folder, a test file, or a workflow file.")] = Path(
        "workflows"
    ),
    logs: Annotated[bool, typer.Option(help="Show the hub's log lines while cases run.")] = False,
    sources: Annotated[
        Path | None,
        typer.Option(
            envvar="HUB_SOURCES",
            help="The source files events are sent through (default: sources/ next to "
            "the workflows).",
        ),
    ] = None,
) -> None:
    """Run workflow tests (<name>.test.yaml) offline against the sandboxes, each event
    signed and read as its source file says."""
    import logging

    from hub.testing import run_tests, session_redis

    before = logging.root.manager.disable
    if not logs:  # the PASS/FAIL lines and the summary, nothing else
        logging.disable(logging.CRITICAL)
    try:
        with session_redis() as client:
            report = run_tests(path, client, echo=typer.echo, sources=sources)
    finally:
        logging.disable(before)
    raise typer.Exit(0 if report.ok else 1)
