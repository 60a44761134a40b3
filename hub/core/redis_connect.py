"""Clients for ``HUB_REDIS_URL``: every hub process and library connects through here.

- ``redis://user:password@host:port/db`` logs in as a Redis ACL user (``AUTH user
  password``); ``redis://:password@...`` as the default user, as before.
- ``rediss://...`` speaks TLS and verifies the server: its certificate against
  ``HUB_REDIS_CA_FILE`` (else the system's CAs) and its host name. Nothing here ever
  turns verification off (kombu alone would, for a ``rediss://`` broker without options).
- ``redis+sentinel://[user:password@]host1:26379,host2:26379,host3:26379/mymaster/0``
  asks those Redis Sentinels where the primary of ``mymaster`` is (and again after a
  failover); the credentials and database are the primary's. :func:`sentinel_address`
  reads the form once; :func:`broker_url` and :func:`broker_transport_options` spell it
  as kombu's sentinel transport wants it (``sentinel://h1:26379;sentinel://h2:26379``
  and ``master_name``). TLS to a Sentinel deployment is not supported yet.

:func:`redis_client` and :func:`async_redis_client` are what the hub's own code uses
(ingress store, quota, locks, run history, cursors, the CLI); :func:`broker_ssl` is
Celery's ``broker_use_ssl`` (the broker transport, beat, Flower's events and pages).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import redis
from redis.sentinel import Sentinel

from hub.core.errors import ConfigError
from hub.core.settings import Settings

if TYPE_CHECKING:  # the asyncio client is imported where it is used (the ingress)
    import redis.asyncio as aioredis

__all__ = [
    "DEFAULT_URL",
    "SENTINEL_PORT",
    "SENTINEL_SCHEME",
    "SentinelAddress",
    "async_redis_client",
    "broker_ssl",
    "broker_transport_options",
    "broker_url",
    "redis_client",
    "sentinel_address",
    "tls_options",
]

#: where a process without HUB_REDIS_URL looks (only `hub up` and tests leave it unset)
DEFAULT_URL = "redis://127.0.0.1:6379/0"
#: the scheme of a ``HUB_REDIS_URL`` that names Redis Sentinels (see the module)
SENTINEL_SCHEME = "redis+sentinel"
#: a sentinel's port when its address gives none
SENTINEL_PORT = 26379
#: how long a question to one sentinel may take before the next one is asked
SENTINEL_TIMEOUT_SECONDS = 2.0
_FORM = f"{SENTINEL_SCHEME}://[user:password@]host1:26379,host2:26379,host3:26379/mymaster/0"


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


@dataclass(frozen=True)
class SentinelAddress:
    """A ``redis+sentinel://`` URL, read: the sentinels, the name of the primary they
    watch, and the primary's database and credentials."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None

    def primary_options(self) -> dict[str, Any]:
        """redis-py keyword arguments for the primary's connections."""
        options: dict[str, Any] = {"db": self.db}
        if self.username:
            options["username"] = self.username
        if self.password is not None:
            options["password"] = self.password
        return options

    def kombu_url(self) -> str:
        """The broker URL kombu's sentinel transport reads: one ``sentinel://`` per
        sentinel, ``;``-separated, each with the primary's credentials and database."""
        login = ""
        if self.username or self.password is not None:
            login = f"{quote(self.username or '', safe='')}:{quote(self.password or '', safe='')}@"
        return ";".join(
            f"sentinel://{login}{_host(host)}:{port}/{self.db}" for host, port in self.sentinels
        )

    def describe(self) -> str:
        """Where this is, without credentials (for messages)."""
        hosts = ",".join(f"{_host(host)}:{port}" for host, port in self.sentinels)
        return f"{SENTINEL_SCHEME}://{hosts}/{self.service}/{self.db}"


def sentinel_address(url: str) -> SentinelAddress | None:
    """The sentinels ``url`` names, or None for a plain ``redis://``/``rediss://`` URL.
    Raises :class:`ConfigError` (saying what is wrong, never the password) for a
    sentinel URL that cannot be read."""
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme in ("sentinel", "rediss+sentinel", "redis-sentinel"):
        raise ConfigError(
            f"HUB_REDIS_URL: write a Sentinel deployment as {_FORM} "
            "(TLS to Sentinel is not supported)"
        )
    if scheme != SENTINEL_SCHEME:
        return None
    location, _, path = rest.partition("/")
    login, _, hosts = location.rpartition("@")
    username, _, password = login.partition(":")
    sentinels = tuple(_sentinel(part) for part in hosts.split(","))
    service, _, db = path.partition("/")
    if not service:
        raise ConfigError(f"HUB_REDIS_URL names no primary after its sentinels: use {_FORM}")
    db = db.rstrip("/")
    if db and not db.isdigit():
        raise ConfigError(f"HUB_REDIS_URL: the database after /{service}/ must be a number")
    return SentinelAddress(
        sentinels,
        unquote(service),
        int(db or 0),
        unquote(username) or None,
        unquote(password) if login else None,
    )


def _sentinel(part: str) -> tuple[str, int]:
    """``host[:port]`` or ``[v6]:port`` of one sentinel."""
    if part.startswith("["):
        host, _, port = part[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = part.rpartition(":") if ":" in part else (part, "", "")
    if not host or (port and not port.isdigit()):
        raise ConfigError(f"HUB_REDIS_URL: {part!r} is not host:port of a sentinel; use {_FORM}")
    return host, int(port or SENTINEL_PORT)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _sentinel_options(options: dict[str, Any]) -> dict[str, Any]:
    """The sentinels' own connections: short timeouts, so a dead one is passed over."""
    return {
        "socket_timeout": SENTINEL_TIMEOUT_SECONDS,
        "socket_connect_timeout": SENTINEL_TIMEOUT_SECONDS,
        **{k: v for k, v in options.items() if k.startswith("socket_") and "keepalive" not in k},
    }


def redis_client(settings: Settings, url: str | None = None, **options: Any) -> redis.Redis:
    """A client for ``url`` (default ``HUB_REDIS_URL``) with the TLS it needs; for a
    ``redis+sentinel://`` URL, a client of the current primary, found again after a
    failover."""
    address = sentinel_address(_url(settings, url))
    if address is not None:
        # typed as Any: redis-py's annotations of these differ from release to release
        sentinels: Any = Sentinel(address.sentinels, sentinel_kwargs=_sentinel_options(options))
        client: redis.Redis = sentinels.master_for(
            address.service, **address.primary_options(), **options
        )
        return client
    return redis.Redis.from_url(_url(settings, url), **tls_options(settings, url), **options)


def async_redis_client(
    settings: Settings, url: str | None = None, **options: Any
) -> aioredis.Redis:
    """An asyncio client for ``url`` (default ``HUB_REDIS_URL``), as :func:`redis_client`."""
    import redis.asyncio as aioredis
    from redis.asyncio.sentinel import Sentinel as AsyncSentinel

    address = sentinel_address(_url(settings, url))
    if address is not None:
        sentinel_type: Any = AsyncSentinel  # as in redis_client
        sentinels: Any = sentinel_type(
            address.sentinels, sentinel_kwargs=_sentinel_options(options)
        )
        client: aioredis.Redis = sentinels.master_for(
            address.service, **address.primary_options(), **options
        )
        return client
    return aioredis.Redis.from_url(_url(settings, url), **tls_options(settings, url), **options)


def broker_url(settings: Settings) -> str:
    """Celery's broker URL for ``HUB_REDIS_URL`` (kombu's spelling of a Sentinel one).
    A URL that cannot be read is handed on as it is: the Celery app is built on import,
    and every command reports the URL's problem when it first connects."""
    address = _readable_sentinel(_url(settings, None))
    return _url(settings, None) if address is None else address.kombu_url()


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    """What kombu needs beside :func:`broker_url`: the primary's name for Sentinel."""
    address = _readable_sentinel(_url(settings, None))
    if address is None:
        return {}
    return {"master_name": address.service, "sentinel_kwargs": _sentinel_options({})}


def _readable_sentinel(url: str) -> SentinelAddress | None:
    try:
        return sentinel_address(url)
    except ConfigError:
        return None


def broker_ssl(settings: Settings) -> dict[str, Any] | None:
    """Celery's ``broker_use_ssl`` for ``HUB_REDIS_URL``: None for ``redis://``."""
    options = tls_options(settings)
    if not options:
        return None
    return {**options, "ssl_cert_reqs": ssl.CERT_REQUIRED}
