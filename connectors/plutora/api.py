"""The Plutora API as the hub calls it: the password grant, entities, pages, filters.

Token caching, quota, timeouts, errors and paging come from :mod:`hub.http`; this module
only says what is Plutora's: the regional token URL and password grant (with what to do
when Plutora refuses it), the entity paths, pages and filters. Each follows Plutora's own
documentation: the setup reference (the token request: ``POST {region}oauth.plutora.com
/oauth/token``, form-encoded ``grant_type=password``, ``client_id``, ``client_secret``,
``username``, ``password``) and its "Filter And Paginate API Calls" page (``GET
/{entity}`` with ``pageNum``, where 0 is the first page, ``recordsPerPage`` up to 100 and
``filter``, answering ``resultSet``, ``returnCount``, ``totalCount``). The API host and
its paths (``/me``, ``/releases``, ``/changes``, no ``/api`` prefix) are those public
clients of the Plutora API use. The reference's "Changes API update" gives a body
(``SearchFilters``, ``PageSize``, ``Page``) but no path, and no public client posts it
anywhere: changes are searched with the documented ``filter`` instead.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from connectors.plutora.settings import PlutoraSettings
from hub.core import FatalError, Settings
from hub.http import (
    ApiClient,
    ClientSpec,
    OAuthToken,
    PageNumber,
    Quota,
    build_client,
    fingerprint,
    password_form,
    require_fields,
)

__all__ = ["ENTITIES", "SERVICE", "PlutoraApi", "build_api", "client_spec", "filter_expression"]

SERVICE = "Plutora"
#: records per page
PAGE_SIZE = 100
ENTITIES = ("releases", "changes", "systems", "environments")
#: a search filter's operator as the ``filter`` expression writes it
FILTER_OPERATORS = {
    "Equals": "=",
    "NotEquals": "!=",
    "Contains": "~",
    "NotContains": "!~",
    "GreaterThan": ">",
    "GreaterOrEqual": ">=",
    "LessThan": "<",
    "LessOrEqual": "<=",
    "LessOrEquals": "<=",
}
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


def _quoted(value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if "`" in text:
        raise FatalError(f"{SERVICE} filters cannot hold a backtick: {text!r}")
    return f"`{text}`"


def filter_expression(filters: Sequence[Mapping[str, Any]]) -> str | None:
    """The ``filter`` parameter for search filters (``Property``, ``Operator``, ``Value``):
    each condition as ```Property` op `Value```, all of them joined by ``and``; ``None``
    when none has an ``Operator``."""
    conditions = [
        f"{_quoted(f['Property'])} {FILTER_OPERATORS[f['Operator']]} {_quoted(f.get('Value'))}"
        for f in filters
        if f.get("Operator")
    ]
    return " and ".join(conditions) or None


def _sorted(records: list[Any], filters: Sequence[Mapping[str, Any]]) -> list[Any]:
    """``records`` in the order of the filters' ``Direction`` (first filter first)."""

    def key(prop: str) -> Callable[[Any], tuple[int, Any]]:
        def value(record: Any) -> tuple[int, Any]:
            found = next((v for k, v in record.items() if k.lower() == prop.lower()), None)
            if isinstance(found, int | float) and not isinstance(found, bool):
                return (0, found)
            return (1, "" if found is None else str(found).lower())

        return value

    for f in reversed(filters):
        if f.get("Direction"):
            records.sort(key=key(str(f["Property"])), reverse=f["Direction"] == "DESC")
    return records


class PlutoraApi:
    """Calls on one Plutora site, through the shared client."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def iterate(self, entity: str, *, limit: int | None = None) -> Iterator[Any]:
        """Every record of ``entity``, ``recordsPerPage`` at a time."""
        return self.client.iterate("GET", entity, max_items=limit)

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
        """Changes matching search filters (``Property``, ``Operator``, ``Value``), read
        with the documented ``filter`` page by page; a ``Direction`` orders them here
        (the documentation gives the list no sort), so then every page is read first."""
        expression = filter_expression(filters)
        params = {"filter": expression} if expression else None
        ordered = any(f.get("Direction") for f in filters)
        pages = self.client.iterate(
            "GET", "changes", params=params, max_items=None if ordered else limit
        )
        found = _sorted(list(pages), filters) if ordered else list(pages)
        return found[:limit] if limit is not None else found

    def me(self) -> Any:
        return self.client.request("GET", "me")


def client_spec(settings: PlutoraSettings) -> ClientSpec:
    """Plutora's client: the password grant on the region's token URL (one token per user
    and client, refused credentials held back), one budget per API client, numbered
    pages."""
    require_fields(
        SERVICE,
        settings,
        ("client_id", "client_secret", "username", "password"),
        "or run `hub up`, which wires in the Plutora sandbox",
    )
    assert settings.client_id and settings.client_secret
    assert settings.username and settings.password
    client_id, username = settings.client_id, settings.username
    secret = settings.client_secret.get_secret_value()
    password = settings.password.get_secret_value()
    token_url = settings.token_url
    credentials = fingerprint(token_url, client_id, secret, username, password)
    who = fingerprint(token_url, client_id, username)
    auth = OAuthToken(
        token_url,
        password_form(client_id, secret, username, password),
        default_ttl_seconds=TOKEN_TTL_SECONDS,
        hints=TOKEN_HINTS,
        cache_key=f"hub:token:plutora:{who}",
        refusal_key=f"hub:grant-refused:plutora:{credentials}",
        refusal_hold_seconds=settings.refused_login_hold_seconds,
    )
    return ClientSpec(
        service=SERVICE,
        base_url=settings.api_url,
        budget_key=f"plutora:{client_id}",
        auth=auth,
        paginator=PageNumber(PAGE_SIZE),
    )


def build_api(
    settings: PlutoraSettings,
    hub: Settings,
    redis: Any,
    *,
    transport: httpx.BaseTransport | None = None,
    quota: Quota | None = None,
    now: Callable[[], float] = time.time,
) -> PlutoraApi:
    """A :class:`PlutoraApi` from settings: one token per user and client, one budget per key.

    ``now`` is the wall clock token expiry is read on.
    """
    spec = client_spec(settings)
    return PlutoraApi(
        build_client(spec, settings, hub, redis, transport=transport, quota=quota, now=now)
    )
