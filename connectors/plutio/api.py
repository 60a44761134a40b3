"""The Plutio API as the hub calls it: token grant, business header, resources.

Auth, quota, timeouts and error classification come from :mod:`hub.http`; this module
only says what is Plutio's: the token request, the ``Business`` header, the paths, and
how queries are written (key filters or ``q``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from hub.errors import ConfigError
from hub.http.auth import CachedTokenAuth, RedisTokenCache, Token, parse_token_response
from hub.http.budgets import quota_from_settings
from hub.http.client import ApiClient
from hub.http.pagination import SkipLimit, iterate_items
from hub.http.quota import Quota
from hub.http.ratelimit import X_RATELIMIT_HEADERS
from hub.locks import keyed_lock, lock_key
from hub.settings import Settings

__all__ = ["PlutioApi", "PlutioGrant", "build_api", "query_params"]

SERVICE = "Plutio"


class PlutioGrant:
    """``client_credentials`` against ``/oauth/token``, form-encoded."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._url = base_url.rstrip("/") + "/oauth/token"
        self._client_id = client_id
        self._client_secret = client_secret
        self._now = now

    def build_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            self._url,
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            },
        )

    def parse(self, response: httpx.Response) -> Token:
        return parse_token_response(response.json(), now=self._now, service=SERVICE)


def query_params(query: Mapping[str, Any] | None, q: Mapping[str, Any] | None) -> dict[str, Any]:
    """Key filters as query parameters; anything not scalar (or an explicit ``q``) as ``q``."""
    params: dict[str, Any] = {}
    mongo: dict[str, Any] = dict(q or {})
    for key, value in (query or {}).items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            params[key] = value
        else:
            mongo[key] = value
    if mongo:
        params["q"] = json.dumps(mongo, separators=(",", ":"), sort_keys=True)
    return params


class PlutioApi:
    """Resource calls on one Plutio business, through the shared client."""

    def __init__(self, client: ApiClient, redis: Any, *, page_size: int = 100) -> None:
        self.client = client
        self.redis = redis
        self._paginator = SkipLimit(page_size)

    def find(
        self,
        resource: str,
        query: Mapping[str, Any] | None = None,
        q: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
    ) -> list[Any]:
        """Records matching key filters and/or a MongoDB query, paged to the end."""
        return list(self.iterate(resource, query, q, limit=limit))

    def iterate(
        self,
        resource: str,
        query: Mapping[str, Any] | None = None,
        q: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
    ) -> Iterator[Any]:
        base = query_params(query, q)

        def fetch(page: dict[str, Any]) -> Any:
            return self.client.request("GET", resource, params={**base, **page})

        return iterate_items(fetch, self._paginator, max_items=limit)

    def create(self, resource: str, body: Mapping[str, Any]) -> Any:
        return self.client.request("POST", resource, json=dict(body))

    def upsert(
        self, resource: str, match: Mapping[str, Any], body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The first record matching ``match``, or a new one from ``body``.

        Find and create run under a cluster-wide lock on (resource, match), so two runs
        for the same key never both create.
        """
        key = lock_key("plutio", resource, json.dumps(match, sort_keys=True, default=str))
        with keyed_lock(self.redis, key):
            found = self.find(resource, match, limit=1)
            if found:
                return {"created": False, "record": found[0]}
            return {"created": True, "record": self.create(resource, body)}


def build_api(
    settings: Settings,
    redis: Any,
    *,
    transport: httpx.BaseTransport | None = None,
    quota: Quota | None = None,
) -> PlutioApi:
    """A :class:`PlutioApi` from settings, sharing token cache and quota through Redis."""
    missing = [
        name
        for name, value in (
            ("PLUTIO_CLIENT_ID", settings.plutio_client_id),
            ("PLUTIO_CLIENT_SECRET", settings.plutio_client_secret),
            ("PLUTIO_BUSINESS", settings.plutio_business),
        )
        if not value
    ]
    if missing:
        raise ConfigError(
            f"Plutio is not configured: set {', '.join(missing)} "
            "(or run `hub up`, which wires in the Plutio sandbox)"
        )
    assert settings.plutio_client_id and settings.plutio_client_secret
    client_id = settings.plutio_client_id
    grant = PlutioGrant(
        settings.plutio_base_url, client_id, settings.plutio_client_secret.get_secret_value()
    )
    budget_key = f"plutio:{client_id}"
    auth = CachedTokenAuth(
        RedisTokenCache(redis, f"hub:token:{budget_key}"), grant, service=SERVICE
    )
    client = ApiClient(
        service=SERVICE,
        base_url=settings.plutio_base_url,
        auth=auth,
        headers={"Business": settings.plutio_business or ""},
        quota=quota
        or quota_from_settings(
            redis, settings, "plutio", client_id, timeout_seconds=settings.plutio_timeout_seconds
        ),
        timeout=settings.plutio_timeout_seconds,
        transport=transport,
        rate_limit_headers=X_RATELIMIT_HEADERS,
    )
    return PlutioApi(client, redis)
