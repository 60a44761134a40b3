"""``hub sandbox``: run a connector's sandbox on its own."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.support import fail

__all__ = ["sandbox"]


def sandbox(
    name: Annotated[
        str,
        typer.Argument(help="The connector whose sandbox to run (its name, as in `uses`)."),
    ],
    port: Annotated[
        int | None,
        typer.Option(help="Port to listen on (default: the connector's sandbox port setting)."),
    ] = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
) -> None:
    """Run a connector's sandbox (an in-memory stand-in for the upstream API)."""
    import uvicorn

    from hub.connector import get_connector, sandboxes
    from hub.core import ConfigError

    try:
        connector = get_connector(name)
    except ConfigError as exc:
        fail(str(exc))
    declared = connector.sandbox
    if declared is None:
        known = ", ".join(sandboxes()) or "none"
        fail(f"connector '{name}' has no sandbox (sandboxes: {known})")
    chosen = declared.port(connector.read_settings()) if port is None else port
    uvicorn.run(declared.app_from_env, factory=True, host=host, port=chosen, log_level="warning")
