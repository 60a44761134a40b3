"""The ``hub`` command line: the Typer app, with each command from its own module."""

from __future__ import annotations

import logging

import typer

from hub.cli import (
    cursors,
    dlq,
    figures,
    pauses,
    processes,
    reference,
    runs,
    sandbox,
    send,
    status,
    workflows,
)
from hub.core import get_settings

__all__ = ["cli", "main"]

cli = typer.Typer(
    help="The hub: declarative YAML workflows on Celery, with shared quotas.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


#: commands that never talk to the hub `hub up` runs from this folder
_OWN_REDIS = ("up", "test")
#: commands that run until stopped and log at HUB_LOG_LEVEL (and `hub test`, which keeps
#: its own lines unless --logs); a one-shot command shows only warnings and errors
_LOGGING_COMMANDS = ("up", "worker", "serve", "flower", "beat", "sandbox", "test")


def _log_level(command: str | None, level: str) -> str:
    """``level`` for the processes, at least WARNING for one-shot commands: an operator's
    `hub pause` prints its answer, not the INFO lines of what it set going."""
    if command in _LOGGING_COMMANDS:
        return level
    return level if logging.getLevelName(level.upper()) > logging.WARNING else "WARNING"


@cli.callback()
def _setup(ctx: typer.Context) -> None:
    from hub.cli.local_hub import adopt_local_hub
    from hub.core import configure_logging

    settings = get_settings()
    configure_logging(
        settings.hub_log_format, _log_level(ctx.invoked_subcommand, settings.hub_log_level)
    )
    if ctx.invoked_subcommand not in _OWN_REDIS:
        adopt_local_hub(settings)  # before any command builds its Redis or Celery client


for command in (
    processes.up,
    processes.worker,
    processes.serve,
    processes.flower,
    processes.beat,
    sandbox.sandbox,
    workflows.validate,
    send.send,
):
    cli.command()(command)
cli.command("test")(workflows.test_cmd)
for command in (workflows.schema, figures.quota, figures.metrics):
    cli.command()(command)
cli.command("settings")(reference.settings_cmd)
cli.command()(reference.operations)
cli.add_typer(cursors.cursors_cli, name="cursors")
cli.add_typer(runs.runs_cli, name="runs")
cli.add_typer(dlq.dlq_cli, name="dlq")
cli.command("status")(status.status)
cli.command("pause")(pauses.pause)
cli.command("resume")(pauses.resume)
cli.command("paused")(pauses.paused)


def main() -> None:
    cli(prog_name="hub")


if __name__ == "__main__":
    main()
