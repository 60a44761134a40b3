"""``hub cursors``: show each poll workflow's cursor, or reset one for a backfill."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.support import fail, load_workflows, require_redis
from hub.core import ConfigError, get_settings, redis_client

__all__ = ["cursors_cli"]


cursors_cli = typer.Typer(
    help="Poll cursors: show each poll workflow's, or reset one for a backfill.",
    no_args_is_help=False,
)


@cursors_cli.callback(invoke_without_command=True)
def cursors(ctx: typer.Context) -> None:
    """Show every poll workflow's cursor and what its last poll did."""
    if ctx.invoked_subcommand is not None:
        return

    from hub.polling import CursorStore, cursor_lines

    store = CursorStore(redis_client(get_settings(), require_redis(ping=False)))
    polled = [wf.name for wf in load_workflows() if wf.trigger.poll is not None]
    for line in cursor_lines(store, polled):
        typer.echo(line)


@cursors_cli.command("reset")
def cursors_reset(
    workflow: Annotated[str, typer.Argument(help="The poll workflow.")],
    to: Annotated[
        str | None,
        typer.Option(help="Poll again from records changed at or after this time (ISO 8601)."),
    ] = None,
) -> None:
    """Reset a poll workflow's cursor: from the start, or from --to (a backfill)."""

    from hub.polling import CursorStore, reset_cursor

    if workflow not in {wf.name for wf in load_workflows() if wf.trigger.poll is not None}:
        fail(f"no poll workflow named '{workflow}' in {get_settings().hub_workflows}")
    client = redis_client(get_settings(), require_redis(ping=False))
    try:
        reset_cursor(CursorStore(client), client, workflow, to)
    except ConfigError as exc:
        fail(str(exc))
    where = f"from {to}" if to is not None else "from the start"
    typer.echo(f"{workflow}: the next poll reads {where}")
