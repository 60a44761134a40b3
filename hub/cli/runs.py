"""``hub runs``: the run history kept in Redis, to answer "what happened to event X"."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hub.cli.support import connect_redis, fail
from hub.core import get_settings

__all__ = ["runs_cli"]

runs_cli = typer.Typer(
    help="Recent runs with status, revision, steps, attempts and timings (kept in Redis for "
    "HUB_RUN_RETENTION_SECONDS).",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _store(client: Any) -> Any:
    from hub.history import RunStore

    return RunStore(client, retention_seconds=get_settings().hub_run_retention_seconds)


@runs_cli.callback()
def runs_list(
    ctx: typer.Context,
    event: Annotated[str | None, typer.Option(help="Only the runs of this event id.")] = None,
    workflow: Annotated[str | None, typer.Option(help="Only this workflow's runs.")] = None,
    status: Annotated[
        str | None, typer.Option(help="held, running, succeeded, failed or skipped.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Runs started since: 15m, 2h, 7d, or a date.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs.")] = 50,
    json_: Annotated[bool, typer.Option("--json", help="As JSON.")] = False,
) -> None:
    """List recent runs, newest first (`hub runs show RUN_ID` for one)."""
    if ctx.invoked_subcommand is not None:
        return
    from hub.history import RunFilter, as_json, find_runs, parse_since, run_table

    if status is not None and status not in ("held", "running", "succeeded", "failed", "skipped"):
        fail(f"--status {status}: use held, running, succeeded, failed or skipped")
    try:
        start = parse_since(since) if since else None
    except ValueError as exc:
        fail(f"--since: {exc}")
    where = RunFilter(event_id=event, workflow=workflow, status=status, since=start)
    records = find_runs(_store(connect_redis()), where, limit=limit)
    if json_:
        typer.echo(as_json(records))
    elif not records:
        typer.echo("no runs match")
    else:
        typer.echo(run_table(records))


@runs_cli.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="A run id (as `hub runs` lists it, or whole).")],
    json_: Annotated[bool, typer.Option("--json", help="As JSON.")] = False,
) -> None:
    """Everything recorded about one run: each step's status, attempts, times, errors."""
    from hub.history import DeadLetterStore, as_json, run_detail

    client = connect_redis()
    store = _store(client)
    record = store.get(run_id)
    if record is None and len(run_id) < 32:
        matches = [i for i in store.recent(100_000) if i.startswith(run_id)]
        if len(matches) > 1:
            fail(f"run id prefix '{run_id}' matches {len(matches)} runs; give more of it")
        record = store.get(matches[0]) if matches else None
    if record is None:
        fail(f"no run {run_id} (never recorded, or older than HUB_RUN_RETENTION_SECONDS)", 1)
    letter = DeadLetterStore(client).get(record.run_id)
    typer.echo(as_json(record) if json_ else run_detail(record, letter))
