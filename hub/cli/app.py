"""The ``hub`` command line: the Typer app, with each command from its own module."""

from __future__ import annotations

import typer

from hub.cli import cursors, dlq, figures, processes, reference, runs, sandbox, send, workflows
from hub.core import get_settings

__all__ = ["cli", "main"]

cli = typer.Typer(
    help="The hub: declarative YAML workflows on Celery, with shared quotas.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@cli.callback()
def _setup() -> None:
    from hub.core import configure_logging

    settings = get_settings()
    configure_logging(settings.hub_log_format, settings.hub_log_level)


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


def main() -> None:
    cli(prog_name="hub")


if __name__ == "__main__":
    main()
