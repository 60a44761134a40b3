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
    """Show every API client's quota (use, next free slot, waiting calls, drain time), its
    circuit breaker, and what pauses hold."""
    import json

    import redis

    from hub.cli.controls_view import controls_json, format_controls
    from hub.cli.quota import broker_queue_lengths, format_quota_table
    from hub.core import PauseStore
    from hub.http import breaker_status, quota_status

    settings = get_settings()
    client = redis_client(settings, require_redis(ping=False))
    try:
        budgets = quota_status(client)
        queued = broker_queue_lengths(client)
        breakers = breaker_status(client, settings.hub_breaker_window_seconds)
        pauses = PauseStore(client).paused()
    except redis.ConnectionError as exc:
        fail(f"cannot reach Redis at HUB_REDIS_URL: {exc}")
    if as_json:
        out = {"budgets": [b.to_json() for b in budgets], "broker_queues": queued}
        out.update(controls_json(breakers, pauses))
        typer.echo(json.dumps(out, indent=2))
        return
    typer.echo(format_quota_table(budgets, queued) + format_controls(breakers, pauses))


def metrics() -> None:
    """Print the cluster's Prometheus metrics (read from Redis) as exposition text."""
    import redis

    from hub.history import exposition

    client = redis_client(get_settings(), require_redis(ping=False))
    try:
        typer.echo(exposition(client).decode(), nl=False)
    except redis.ConnectionError as exc:
        fail(f"cannot reach Redis at HUB_REDIS_URL: {exc}")
