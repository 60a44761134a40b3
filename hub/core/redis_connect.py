"""Clients for ``HUB_REDIS_URL``: every hub process and library connects through here.

- ``redis://user:password@host:port/db`` logs in as a Redis ACL user (``AUTH user
  password``); ``redis://:password@...`` as the default user, as before.
- ``rediss://...`` speaks TLS and verifies the server: its certificate against
  ``HUB_REDIS_CA_FILE`` (else the system's CAs) and its host name. Nothing here ever
  turns verification off (kombu alone would, for a ``rediss://`` broker without options).

:func:`redis_client` and :func:`async_redis_client` are what the hub's own code uses
(ingress store, quota, locks, run history, cursors, the CLI); :func:`broker_ssl` is
Celery's ``broker_use_ssl`` (the broker transport, beat, Flower's events and pages).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

import redis

from hub.core.settings import Settings

if TYPE_CHECKING:  # the asyncio client is imported where it is used (the ingress)
    import redis.asyncio as aioredis

__all__ = ["DEFAULT_URL", "async_redis_client", "broker_ssl", "redis_client", "tls_options"]

#: where a process without HUB_REDIS_URL looks (only `hub up` and tests leave it unset)
DEFAULT_URL = "redis://127.0.0.1:6379/0"


def _url(settings: Settings, url: str | None) -> str:
    return url or settings.hub_redis_url or DEFAULT_URL


def tls_options(settings: Settings, url: str | None = None) -> dict[str, Any]:
    """redis-py keyword arguments for the TLS of ``url`` (default ``HUB_REDIS_URL``):
    none for ``redis://``, certificate and host name checks for ``rediss://``."""
    if not _url(settings, url).startswith("rediss://"):
        return {}
    options: dict[str, Any] = {"ssl_cert_reqs": "required", "ssl_check_hostname": True}
    if settings.hub_redis_ca_file is not None:
        options["ssl_ca_certs"] = str(settings.hub_redis_ca_file)
    return options


def redis_client(settings: Settings, url: str | None = None, **options: Any) -> redis.Redis:
    """A client for ``url`` (default ``HUB_REDIS_URL``) with the TLS it needs."""
    return redis.Redis.from_url(_url(settings, url), **tls_options(settings, url), **options)


def async_redis_client(
    settings: Settings, url: str | None = None, **options: Any
) -> aioredis.Redis:
    """An asyncio client for ``url`` (default ``HUB_REDIS_URL``) with the TLS it needs."""
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(_url(settings, url), **tls_options(settings, url), **options)


def broker_ssl(settings: Settings) -> dict[str, Any] | None:
    """Celery's ``broker_use_ssl`` for ``HUB_REDIS_URL``: None for ``redis://``."""
    options = tls_options(settings)
    if not options:
        return None
    return {**options, "ssl_cert_reqs": ssl.CERT_REQUIRED}
