"""The Plutora API as the hub calls it: the password grant, entities, pages, change filters.

Token caching, quota, timeouts, errors and paging come from :mod:`hub.http`; this module
only says what is Plutora's: the regional token URL and password grant (with what to do
when Plutora refuses it), the entity paths, ``pageNum``/``recordsPerPage`` pages and the
change filter body.

Where Plutora's reference is silent this follows its public sample clients, or says so:
the filter endpoint's path (:data:`FILTER_PATH`) and its answer (taken to be the same
page shape as ``GET /{entity}?pageNum=``) are inferred, each set in one place here.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from hub.core.settings import Settings
from hub.http.client import ApiClient
from hub.http.connect import connect, require_settings, token_auth, upstream_from_settings
from hub.http.grants import RedisRefusalMemo, password_grant
from hub.http.keyauth import fingerprint
from hub.http.pagination import PageNumber, iterate_items
from hub.http.quota import Quota

__all__ = ["ENTITIES", "FILTER_PATH", "SERVICE", "PlutoraApi", "build_api"]

SERVICE = "Plutora"
ENTITIES = ("releases", "changes", "systems", "environments")
#: the change filter endpoint (the reference gives its body, not its path)
FILTER_PATH = "changes/filter"
#: documented token lifetime: 3.3 hours
TOKEN_TTL_SECONDS = 12000.0

#: what to do when Plutora refuses the token request, by OAuth error code
TOKEN_HINTS = {
    "invalid_grant": (
        "the client id or secret is wrong, expired or was regenerated: check "
        "PLUTORA_CLIENT_ID and PLUTORA_CLIENT_SECRET (Plutora generates new ones under "
        "Settings > Customization > Integration > API)"
    ),
    "validation_error": (
        "the user login failed: check PLUTORA_USERNAME and PLUTORA_PASSWORD. Plutora locks "
        "the account after repeated failures, and only an administrator can unlock it"
    ),
    "unsupported_grant_type": "Plutora's API takes the password grant only",
}


class PlutoraApi:
    """Calls on one Plutora site, through the shared client."""

    def __init__(self, client: ApiClient, *, page_size: int = 100) -> None:
        self.client = client
        self.page_size = page_size

    def iterate(self, entity: str, *, limit: int | None = None) -> Iterator[Any]:
        """Every record of ``entity``, ``recordsPerPage`` at a time."""

        def fetch(page: dict[str, Any]) -> Any:
            return self.client.request("GET", entity, params=page)

        return iterate_items(fetch, PageNumber(self.page_size), max_items=limit)

    def list(self, entity: str, *, limit: int | None = None) -> list[Any]:
        return list(self.iterate(entity, limit=limit))

    def get(self, entity: str, record_id: str) -> Any:
        return self.client.request("GET", f"{entity}/{record_id}")

    def create(self, entity: str, body: Mapping[str, Any]) -> Any:
        return self.client.request("POST", entity, json=dict(body))

    def replace(self, entity: str, record_id: str, body: Mapping[str, Any]) -> Any:
        """PUT: Plutora replaces the record with ``body``."""
        return self.client.request("PUT", f"{entity}/{record_id}", json=dict(body))

    def update(self, entity: str, record_id: str, changes: Mapping[str, Any]) -> Any:
        """Read the record, apply ``changes``, PUT it back whole (as Plutora's PUT wants)."""
        current = self.get(entity, record_id)
        return self.replace(entity, record_id, {**current, **changes})

    def delete(self, entity: str, record_id: str) -> None:
        self.client.request("DELETE", f"{entity}/{record_id}")

    def search_changes(
        self, filters: Sequence[Mapping[str, Any]], *, limit: int | None = None
    ) -> builtins.list[Any]:
        """Changes matching ``SearchFilters``, paged with ``PageSize``/``Page``."""
        paginator = PageNumber(self.page_size, page_param="Page", size_param="PageSize")
        base: dict[str, Any] = {"SearchFilters": [dict(f) for f in filters]}
        if limit is not None:
            base["Limit"] = limit

        def fetch(page: dict[str, Any]) -> Any:
            return self.client.request("POST", FILTER_PATH, json={**base, **page})

        return list(iterate_items(fetch, paginator, max_items=limit))

    def me(self) -> Any:
        return self.client.request("GET", "me")


def build_api(
    settings: Settings,
    redis: Any,
    *,
    transport: httpx.BaseTransport | None = None,
    quota: Quota | None = None,
    now: Callable[[], float] = time.time,
) -> PlutoraApi:
    """A :class:`PlutoraApi` from settings: one token per user and client, one budget per key.

    ``now`` is the wall clock token expiry is read on.
    """
    require_settings(
        SERVICE,
        {
            "PLUTORA_CLIENT_ID": settings.plutora_client_id,
            "PLUTORA_CLIENT_SECRET": settings.plutora_client_secret,
            "PLUTORA_USERNAME": settings.plutora_username,
            "PLUTORA_PASSWORD": settings.plutora_password,
        },
        "or run `hub up`, which wires in the Plutora sandbox",
    )
    assert settings.plutora_client_id and settings.plutora_client_secret
    assert settings.plutora_username and settings.plutora_password
    client_id, username = settings.plutora_client_id, settings.plutora_username
    secret = settings.plutora_client_secret.get_secret_value()
    password = settings.plutora_password.get_secret_value()
    token_url = settings.plutora_token_url
    grant = password_grant(
        token_url,
        client_id,
        secret,
        username,
        password,
        service=SERVICE,
        default_ttl_seconds=TOKEN_TTL_SECONDS,
        hints=TOKEN_HINTS,
        now=now,
    )
    upstream = upstream_from_settings(
        settings,
        "plutora",
        service=SERVICE,
        base_url=settings.plutora_api_url,
        client_id=client_id,
    )
    credentials = fingerprint(token_url, client_id, secret, username, password)
    refusals = RedisRefusalMemo(
        redis,
        f"hub:grant-refused:plutora:{credentials}",
        settings.plutora_refused_login_hold_seconds,
    )
    # one token per user and client
    who = fingerprint(token_url, client_id, username)
    auth = token_auth(
        upstream, redis, grant, cache_key=f"hub:token:plutora:{who}", refusals=refusals, now=now
    )
    return PlutoraApi(connect(upstream, redis, auth, transport=transport, quota=quota, now=now))
