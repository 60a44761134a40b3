"""The URL a sender called, for schemes that sign it (``{uri}`` in an ``hmac`` signed_payload).

Behind a proxy the ingress sees its own address, not the one the sender called. In
order:

1. ``HUB_PUBLIC_URL`` (e.g. ``https://hooks.example.com``, with the path prefix the
   proxy strips if it strips one): that base, plus the path and query as received;
2. a request from an address in ``HUB_TRUSTED_PROXIES``: the scheme, host and path
   prefix its ``X-Forwarded-Proto``, ``X-Forwarded-Host`` and ``X-Forwarded-Prefix``
   name (the last value of each, the one that proxy set; those it does not send are
   taken as received);
3. otherwise the URL as received: the ASGI scheme, the ``Host`` header, the path.

``X-Forwarded-*`` from any other address are ignored: anyone can send them. The path
and query are the raw bytes the sender sent (``raw_path``), never re-encoded.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from hub.core import ConfigError, Settings

__all__ = ["PublicUrl", "parse_networks", "public_url_from"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated addresses or networks (``10.0.0.5, 10.1.0.0/16``); ValueError
    names an entry that is neither."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"'{entry}' is not an IP address or network") from None
    return tuple(networks)


class PublicUrl:
    """Builds the URL of a request as its sender called it (see the module's notes)."""

    def __init__(self, base: str | None = None, trusted: Sequence[Network] = ()) -> None:
        self._base = base.rstrip("/") if base else None
        self._trusted = tuple(trusted)

    def __call__(self, scope: MutableMapping[str, Any], headers: Mapping[str, str]) -> str:
        """The full URL of the request ``scope`` (``headers`` with lower-case names)."""
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        tail = raw.decode("latin-1")
        query: bytes = scope.get("query_string") or b""
        if query:
            tail += "?" + query.decode("latin-1")
        if self._base is not None:
            return self._base + tail
        scheme = str(scope.get("scheme", "http"))
        host = headers.get("host") or _server(scope)
        if self._trusted and self._from_proxy(scope):
            scheme = _last(headers.get("x-forwarded-proto")) or scheme
            host = _last(headers.get("x-forwarded-host")) or host
            tail = (_last(headers.get("x-forwarded-prefix")) or "").rstrip("/") + tail
        return f"{scheme}://{host}{tail}"

    def _from_proxy(self, scope: MutableMapping[str, Any]) -> bool:
        client = scope.get("client")
        if not client:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(address in network for network in self._trusted)


def _last(value: str | None) -> str | None:
    """The last of comma-separated values: the one the proxy next to the hub set (a
    value before it may come from anyone)."""
    if not value:
        return None
    return value.rsplit(",", 1)[-1].strip() or None


def _server(scope: MutableMapping[str, Any]) -> str:
    server = scope.get("server")
    if not server:
        return "localhost"
    host, port = server[0], server[1]
    return host if port is None else f"{host}:{port}"


def public_url_from(settings: Settings) -> PublicUrl:
    """The :class:`PublicUrl` of ``HUB_PUBLIC_URL`` and ``HUB_TRUSTED_PROXIES``;
    :class:`~hub.core.errors.ConfigError` says what is wrong with either."""
    base = settings.hub_public_url
    if base:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ConfigError(
                f"HUB_PUBLIC_URL '{base}' is not a base URL such as https://hooks.example.com "
                "(scheme, host, optionally a path prefix; no query)"
            )
    try:
        trusted = parse_networks(settings.hub_trusted_proxies or "")
    except ValueError as exc:
        raise ConfigError(f"HUB_TRUSTED_PROXIES: {exc}") from None
    return PublicUrl(base, trusted)
