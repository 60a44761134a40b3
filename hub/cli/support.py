"""What the ``hub`` commands share: failing with a clear message, reaching Redis."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

import redis
import typer
from redis.sentinel import MasterNotFoundError

from hub.core import ConfigError, get_settings, redis_client, sentinel_address

if TYPE_CHECKING:
    from hub.workflow import Workflow

__all__ = ["connect_redis", "fail", "load_workflows", "redis_location", "require_redis"]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def redis_location(url: str) -> str:
    """``url`` without its credentials: ``redis://host:port/db`` (or the sentinels')."""
    address = sentinel_address(url)
    if address is not None:
        return address.describe()
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def require_redis(*, ping: bool = True, timeout: float = 2.0) -> str:
    """``HUB_REDIS_URL`` (or the Redis of the ``hub up`` running from this folder, see
    :mod:`hub.cli.local_hub`), once Redis answers there (with ``ping``); exits with a
    clear message if there is neither or Redis does not answer within ``timeout``
    seconds."""
    from hub.cli.local_hub import adopt_local_hub

    adopt_local_hub()
    url = get_settings().hub_redis_url
    if not url:
        folder = get_settings().hub_data_dir
        fail(
            f"HUB_REDIS_URL is not set and no `hub up` is running from this folder "
            f"({folder}): start `hub up` here (in another terminal), or set HUB_REDIS_URL"
        )
    try:
        sentinel_address(url)  # a sentinel URL that cannot be read: said before any client
    except ConfigError as exc:
        fail(f"HUB_REDIS_URL is not a Redis URL ({exc})")
    if not ping:
        return url
    try:
        client = redis_client(
            get_settings(),
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry_on_timeout=False,
        )
        client.ping()
        client.close()
    except ValueError as exc:
        fail(f"HUB_REDIS_URL is not a Redis URL ({exc})")
    except MasterNotFoundError:
        fail(
            f"no sentinel at {redis_location(url)} (HUB_REDIS_URL) names the primary: check "
            "that they run and monitor it under that name"
        )
    except redis.RedisError as exc:
        fail(
            f"cannot reach Redis at {redis_location(url)} (HUB_REDIS_URL): {exc}. "
            "Start Redis or fix HUB_REDIS_URL, then start again."
        )
    return url


def connect_redis() -> Any:
    """A client for ``HUB_REDIS_URL`` (checked to answer first)."""
    return redis_client(get_settings(), require_redis())


def load_workflows(path: Path | None = None) -> list[Workflow]:
    """The workflows in ``path`` (default ``HUB_WORKFLOWS``); exits naming every problem."""
    from hub.workflow import WorkflowError, load_folder

    folder = path or get_settings().hub_workflows
    try:
        return load_folder(folder)
    except WorkflowError as exc:
        fail(f"invalid workflows in {folder}:\n{exc}")
