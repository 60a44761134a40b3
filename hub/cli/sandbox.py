"""``hub sandbox``: run a connector's sandbox on its own."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.support import fail

__all__ = ["sandbox"]


def sandbox(
    name: Annotated[
        str, typer.Argument(help="Which sandbox: plutio, plane, plutora or accounting.")
    ],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9100,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
) -> None:
    """Run a connector's sandbox (an in-memory stand-in for the upstream API)."""
    import uvicorn

    factories = {
        "plutio": "connectors.plutio.sandbox:create_app_from_env",
        "plane": "connectors.plane.sandbox:create_app_from_env",
        "plutora": "connectors.plutora.sandbox:create_app_from_env",
        "accounting": "connectors.accounting.sandbox:create_app_from_env",
    }
    if name not in factories:
        fail(f"unknown sandbox '{name}' (known: {', '.join(factories)})")
    uvicorn.run(factories[name], factory=True, host=host, port=port, log_level="warning")
