"""Static API keys sent in a header, and safe names for secrets.

:class:`HeaderKeyAuth` is the ``httpx.Auth`` flow for upstreams that take a fixed key
(an ``X-API-Key`` header); :func:`fingerprint` gives a short, non-reversible name for a
secret, for Redis key names and messages that must tell keys apart without showing them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator

import httpx

__all__ = ["HeaderKeyAuth", "fingerprint"]


def fingerprint(*parts: str) -> str:
    """16 hex digits of SHA-256 over ``parts``: stable, short, and no way back to them."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


class HeaderKeyAuth(httpx.Auth):
    """Sends ``key`` in the ``header`` of every request."""

    def __init__(self, header: str, key: str) -> None:
        if not header or not key:
            raise ValueError("HeaderKeyAuth needs a header name and a key")
        self.header = header
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self.header] = self._key
        yield request

    def __repr__(self) -> str:
        return f"HeaderKeyAuth(header={self.header!r}, key='***')"
