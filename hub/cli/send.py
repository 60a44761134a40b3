"""``hub send``: POST an event to the ingress, signed as its source file says."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.local_hub import local_hub_file, read_local_hub
from hub.cli.support import fail
from hub.core import ConfigError, Settings, get_settings

__all__ = ["send"]


def send(
    source: Annotated[str, typer.Argument(help="The source, as in /hooks/{source}.")],
    file: Annotated[
        Path, typer.Argument(help="A JSON event, or a sample file with headers and body.")
    ],
    url: Annotated[
        str | None,
        typer.Option(
            help="Ingress base URL (default: the `hub up` running from this folder, else "
            "HUB_INGRESS_HOST:HUB_INGRESS_PORT)."
        ),
    ] = None,
) -> None:
    """POST an event to the ingress, signed as its source file says.

    Secrets come from HUB_SECRETS; one a source names but HUB_SECRETS lacks is the local
    demo key, which `hub up` gives its ingress too.
    """
    import json

    import httpx

    from hub.intake import signed_delivery

    settings = get_settings()
    data = json.loads(file.read_text())
    headers: dict[str, str] = {}
    if isinstance(data, dict) and "body" in data and "source" in data:
        headers, data = data.get("headers", {}), data["body"]
    base = url or _ingress_url(settings)
    target = f"{base.rstrip('/')}/hooks/{source}"
    try:
        body, signed = signed_delivery(settings, source, data, headers, url=target)
    except ConfigError as exc:
        fail(str(exc))
    try:
        answer = httpx.post(target, content=body, headers=signed, timeout=10)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the ingress at {base}: {exc}")
    typer.echo(f"{answer.status_code} {answer.text}")
    if answer.status_code >= 300:
        raise typer.Exit(1)


def _ingress_url(settings: Settings) -> str:
    """The ingress of the ``hub up`` running from this folder, else the settings'."""
    local = read_local_hub(local_hub_file(settings.hub_data_dir))
    if local is not None:
        return local.ingress_url
    return f"http://{settings.hub_ingress_host}:{settings.hub_ingress_port}"
