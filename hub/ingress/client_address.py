"""Who sent a request: the peer, or the client a trusted proxy names for it.

The ingress trusts nothing by address. The client address only keys the rate limit on
failed authentication (:mod:`hub.ingress.auth_failures`) and goes into log lines; it
never authenticates anything. A proxy's ``Forwarded`` (RFC 7239) or ``X-Forwarded-For``
header is read only when the peer is in ``HUB_TRUSTED_PROXIES``. The client is then the
rightmost hop of the chain that is not a trusted proxy: whatever a client wrote into the
header itself sits left of that hop and is never read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, MutableMapping
from typing import Any

from hub.core import ConfigError, Settings
from hub.ingress.public_url import Network, parse_networks

__all__ = ["ClientAddress", "client_address_from", "is_loopback"]

#: a hop that is not an address (``unknown``, an obfuscated ``_name``) is kept this long
MAX_HOP_LENGTH = 64


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (for warnings, never for trust)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_address_from(settings: Settings) -> ClientAddress:
    """The :class:`ClientAddress` of ``HUB_TRUSTED_PROXIES``; :class:`ConfigError` names
    an entry that is not an address or network."""
    try:
        return ClientAddress(parse_networks(settings.hub_trusted_proxies or ""))
    except ValueError as exc:
        raise ConfigError(f"HUB_TRUSTED_PROXIES: {exc}") from None


def _forwarded_hops(value: str) -> list[str]:
    """The ``for=`` hops of a ``Forwarded`` header, left to right."""
    hops = []
    for element in value.split(","):
        for pair in element.split(";"):
            name, _, node = pair.strip().partition("=")
            if name.strip().lower() != "for":
                continue
            node = node.strip().strip('"')
            if node.startswith("["):  # "[2001:db8::1]:4711"
                node = node[1:].partition("]")[0]
            elif node.count(":") == 1:  # "192.0.2.60:4711"
                node = node.partition(":")[0]
            hops.append(node)
    return hops


class ClientAddress:
    """The client of a request, read through the ``trusted`` proxies only."""

    def __init__(self, trusted: Iterable[Network] = ()) -> None:
        self._trusted = tuple(trusted)

    def trusts(self, host: str) -> bool:
        """True when ``host`` is a trusted proxy."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._trusted)

    def of(self, scope: MutableMapping[str, Any]) -> str:
        """The client address of the ASGI request ``scope``."""
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        if not self._trusted or not self.trusts(peer):
            return peer
        hops = self._hops(scope["headers"])
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop[:MAX_HOP_LENGTH]
        return hops[0][:MAX_HOP_LENGTH] if hops else peer

    @staticmethod
    def _hops(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
        forwarded: list[str] = []
        x_forwarded: list[str] = []
        for name, value in headers:
            if name == b"forwarded":
                forwarded += _forwarded_hops(value.decode("latin-1"))
            elif name == b"x-forwarded-for":
                x_forwarded += [h.strip() for h in value.decode("latin-1").split(",")]
        return [hop for hop in (forwarded or x_forwarded) if hop]
