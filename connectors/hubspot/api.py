"""The HubSpot CRM API as the hub calls it: contacts read one by one, in batches, by search.

Auth (a private app's bearer token), the two quotas, timeouts, errors and paging come
from :mod:`hub.http`; this module says what is HubSpot's: the ``/crm/v3/objects/contacts``
paths, the ``properties`` and ``idProperty`` parameters, search's ``filterGroups`` and its
``paging.next.after`` cursor, the ``X-HubSpot-RateLimit-*`` headers of each limit, and
what to do about a refused token or a missing scope.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from connectors.hubspot.settings import HubSpotSettings
from hub.core import FatalError, Settings
from hub.http import (
    ApiClient,
    Budget,
    ClientSpec,
    CursorPages,
    HeaderKey,
    PerBudget,
    Quota,
    RateLimitHeaders,
    build_client,
    fingerprint,
    require_fields,
)

__all__ = [
    "BURST_HEADERS",
    "CONTACTS",
    "DAILY_HEADERS",
    "DAY_SECONDS",
    "PAGES",
    "SERVICE",
    "HubSpotApi",
    "build_api",
    "client_spec",
]

SERVICE = "HubSpot"
CONTACTS = "crm/v3/objects/contacts"
DAY_SECONDS = 86_400
#: the burst window's remaining calls (HubSpot sends no reset: the window rolls)
BURST_HEADERS = RateLimitHeaders(remaining="X-HubSpot-RateLimit-Remaining")
#: the day's remaining calls
DAILY_HEADERS = RateLimitHeaders(remaining="X-HubSpot-RateLimit-Daily-Remaining")
#: search pages: ``limit`` and ``after`` in the body, the next ``after`` in ``paging.next``
PAGES = CursorPages(
    page_size=100,
    size_param="limit",
    cursor_param="after",
    items_field="results",
    next_field="paging.next.after",
    more_field=None,
)
_HINTS = {
    401: "check HUBSPOT_ACCESS_TOKEN: HubSpot does not take it (a private app's token)",
    403: "the private app lacks a scope: give it crm.objects.contacts.read",
}


def _explain(error: FatalError) -> FatalError:
    hint = _HINTS.get(error.status or 0)
    if hint is None:
        return error
    return FatalError(f"{error} ({hint})", status=error.status)


class HubSpotApi:
    """Contacts of one HubSpot account, through the shared client."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def get_contact(
        self,
        contact_id: str,
        properties: Sequence[str] = (),
        *,
        id_property: str | None = None,
        archived: bool = False,
    ) -> Any:
        """One contact by id (or by the unique property ``id_property``, e.g. email)."""
        params: dict[str, Any] = {"archived": "true" if archived else "false"}
        if properties:
            params["properties"] = ",".join(properties)
        if id_property:
            params["idProperty"] = id_property
        return self.client.request("GET", f"{CONTACTS}/{contact_id}", params=params)

    def batch_read(
        self, ids: Sequence[str], properties: Sequence[str] = (), *, id_property: str | None = None
    ) -> Any:
        """Up to 100 contacts in one call; HubSpot answers 207 with the ids it lacks."""
        body: dict[str, Any] = {
            "inputs": [{"id": str(i)} for i in ids],
            "properties": list(properties),
        }
        if id_property:
            body["idProperty"] = id_property
        return self.client.request("POST", f"{CONTACTS}/batch/read", json=body)

    def search(self, body: Mapping[str, Any], *, limit: int | None = None) -> list[Any]:
        """Every contact matching ``body`` (``filterGroups``, ``properties``, ``sorts``,
        ``query``), page by page, at most ``limit``."""
        pages = self.client.iterate("POST", f"{CONTACTS}/search", json=body, max_items=limit)
        return list(pages)


def client_spec(settings: HubSpotSettings) -> ClientSpec:
    """HubSpot's client: the bearer token, a burst budget and a day budget per token
    (named by its fingerprint), each adopting its own ``X-HubSpot-RateLimit-*`` header."""
    require_fields(
        SERVICE, settings, ("access_token",), "or run `hub up`, which wires in the HubSpot sandbox"
    )
    assert settings.access_token
    token = settings.access_token.get_secret_value()
    key = f"hubspot:{fingerprint(token)}"
    day = Budget(f"{key}:day", settings.daily_limit, DAY_SECONDS, settings.quota_reserve_percent)
    return ClientSpec(
        service=SERVICE,
        base_url=settings.base_url,
        budget_key=key,
        auth=HeaderKey("Authorization", f"Bearer {token}"),
        rate_limit_headers=PerBudget({key: BURST_HEADERS, day.key: DAILY_HEADERS}),
        more_budgets=(day,),
        paginator=PAGES,
        explain=_explain,
    )


def build_api(
    settings: HubSpotSettings,
    hub: Settings,
    redis: Any,
    *,
    transport: httpx.BaseTransport | None = None,
    quota: Quota | None = None,
    now: Callable[[], float] = time.time,
) -> HubSpotApi:
    """A :class:`HubSpotApi` from settings; its two budgets are kept in Redis per token."""
    spec = client_spec(settings)
    return HubSpotApi(
        build_client(spec, settings, hub, redis, transport=transport, quota=quota, now=now)
    )
