"""``hub settings`` and ``hub operations``: what can be configured and used."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["operations", "settings_cmd"]


def settings_cmd() -> None:
    """Print every setting (environment variable, default, meaning) as a Markdown table:
    the hub's, then each installed connector's."""
    from hub.connector import settings_classes
    from hub.core import settings_table

    typer.echo(settings_table(settings_classes()))


def operations(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Resources and their actions, as README's table.")
    ] = False,
) -> None:
    """Print every operation a workflow step can `use`, with its summary."""
    from hub.connector import operations_listing, operations_table

    typer.echo(operations_table() if markdown else operations_listing())
