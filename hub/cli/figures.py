"""``hub quota`` and ``hub metrics``: the cluster's figures, read from Redis."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.support import fail, require_redis
from hub.core import get_settings, redis_client

__all__ = ["metrics", "quota"]


def quota(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show every API client's quota: use, next free slot, waiting calls, drain time."""
    import json

    import redis

    from hub.cli.quota import broker_queue_lengths, format_quota_table
    from hub.http import quota_status

    client = redis_client(get_settings(), require_redis(ping=False))
    try:
        budgets = quota_status(client)
        queued = broker_queue_lengths(client)
    except redis.ConnectionError as exc:
        fail(f"cannot reach Redis at HUB_REDIS_URL: {exc}")
    if as_json:
        out = {"budgets": [b.to_json() for b in budgets], "broker_queues": queued}
        typer.echo(json.dumps(out, indent=2))
        return
    typer.echo(format_quota_table(budgets, queued))


def metrics() -> None:
    """Print the cluster's Prometheus metrics (read from Redis) as exposition text."""
    import redis

    from hub.history import exposition

    client = redis_client(get_settings(), require_redis(ping=False))
    try:
        typer.echo(exposition(client).decode(), nl=False)
    except redis.ConnectionError as exc:
        fail(f"cannot reach Redis at HUB_REDIS_URL: {exc}")
