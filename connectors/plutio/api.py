"""The Plutio API as the hub calls it: token grant, business header, resources.

Auth, quota, timeouts and error classification come from :mod:`hub.http`; this module
only says what is Plutio's: the token URL (``client_credentials``), the ``Business``
header, the ``X-RateLimit-*`` headers, the paths, and how queries are written (key
filters or ``q``).

The reference documents the token request, the two headers, ``skip``/``limit`` and the
two ways to filter. Beyond it, and each kept to where public clients of the Plutio API
show it (the n8n community nodes ``n8n-nodes-plutio`` and its fork
``n8n-nodes-plutio-mates``, which page with ``skip``/``limit`` until a short page, filter
with ``q``, and write through bulk endpoints): updates and deletes go through
``PUT``/``DELETE /{resource}/bulk`` with ``_ids``, moves and copies through ``POST
/{resource}/move|copy`` with ``_id``, one record is read as ``GET /{resource}?_id=`` (a
key filter), and a token answer may be ``accessToken`` + ``accessTokenExpiresAt`` or
``access_token`` + ``expires_in`` (both read). The names of the rate-limit headers are
not documented either (``X-RateLimit-*`` is assumed; without them the hub counts alone).
README's assumptions table lists each, and what happens if it is wrong.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from connectors.plutio.settings import PlutioSettings
from hub.connector import CreatedRecords, record_matches
from hub.core import FatalError, Settings, lock_key
from hub.http import (
    X_RATELIMIT_HEADERS,
    ApiClient,
    ClientSpec,
    OAuthToken,
    Quota,
    SkipLimit,
    build_client,
    client_credentials_form,
    require_fields,
)

__all__ = [
    "PAGE_SIZE",
    "SERVICE",
    "PlutioApi",
    "build_api",
    "client_spec",
    "explain",
    "query_params",
]

SERVICE = "Plutio"
#: records per page
PAGE_SIZE = 100


def query_params(query: Mapping[str, Any] | None, q: Mapping[str, Any] | None) -> dict[str, Any]:
    """Key filters as query parameters, anything not scalar (or an explicit ``q``) as ``q``:
    the reference's two ways to filter, and nothing else (it documents no sorting: an
    unknown parameter would be read as one more key filter)."""
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


def explain(error: FatalError) -> FatalError:
    """``error`` with what the operator should do, for the refusals the reference explains."""
    text = str(error)
    hint = ""
    if error.status == 400 and "Business undefined" in text:
        hint = (
            "PLUTIO_BUSINESS is empty: set it to the workspace subdomain "
            "(for https://acme.plutio.com, acme)"
        )
    elif error.status == 400 and "Business" in text and "is not enabled" in text:
        hint = (
            "set PLUTIO_BUSINESS to a workspace subdomain enabled for this API client "
            "(for https://acme.plutio.com, acme), or enable the workspace on the API client "
            "in Plutio's Settings > API manager"
        )
    elif error.status == 403:
        hint = "check the role and permissions of the API client in Plutio"
    if not hint:
        return error
    return FatalError(f"{text} - {hint}", status=error.status)


class PlutioApi:
    """Resource calls on one Plutio business, through the shared client.

    ``resource`` arguments are API paths (``task-boards``). Refusals come back as the
    shared layer's typed errors, explained where the reference says what to do
    (:func:`explain`, declared in the client's spec).
    """

    def __init__(self, client: ApiClient, redis: Any, *, lock_seconds: float = 60.0) -> None:
        self.client = client
        self.redis = redis
        #: expiry of an upsert's lock: a worker killed inside one holds it no longer
        self.lock_seconds = lock_seconds
        #: what upserts created lately, so a find that misses it is reported
        self.created = CreatedRecords(redis, "plutio")

    def iterate(
        self,
        resource: str,
        query: Mapping[str, Any] | None = None,
        q: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
    ) -> Iterator[Any]:
        """Records matching key filters and/or a MongoDB query, fetched page by page."""
        paginator = SkipLimit(min(PAGE_SIZE, limit)) if limit else None
        return self.client.iterate(
            "GET",
            resource,
            params=query_params(query, q),
            paginator=paginator,
            max_items=limit,
        )

    def find(
        self,
        resource: str,
        query: Mapping[str, Any] | None = None,
        q: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
    ) -> list[Any]:
        """Records matching key filters and/or a MongoDB query, paged to the end or ``limit``."""
        return list(self.iterate(resource, query, q, limit=limit))

    def page(
        self,
        resource: str,
        query: Mapping[str, Any] | None,
        q: Mapping[str, Any] | None,
        *,
        skip: int,
        limit: int,
    ) -> list[Any]:
        """One page (``skip``, ``limit``) of the records matching, in the upstream's order."""
        params = {**query_params(query, q), "skip": skip, "limit": limit}
        answer = self.client.request("GET", resource, params=params)
        if not isinstance(answer, list):
            raise FatalError(
                f"{SERVICE} answered GET /{resource} with a {type(answer).__name__}, "
                "not a list of records"
            )
        return answer

    def get(self, resource: str, record_id: str) -> Any | None:
        """The record with ``_id`` (``GET /resource?_id=``), or None."""
        found = self.find(resource, {"_id": record_id}, limit=1)
        return found[0] if found else None

    def create(self, resource: str, body: Mapping[str, Any]) -> Any:
        """``POST /resource``: the new record."""
        return self.client.request("POST", resource, json=dict(body))

    def update(self, resource: str, ids: list[str], changes: Mapping[str, Any]) -> Any:
        """``PUT /resource/bulk`` with ``_ids``: the updated records (not in the reference:
        the public clients named in the module's docstring write this way)."""
        return self.client.request("PUT", f"{resource}/bulk", json={**changes, "_ids": list(ids)})

    def delete(self, resource: str, ids: list[str]) -> Any:
        """``DELETE /resource/bulk`` with ``_ids``: the removed records (as for updates)."""
        return self.client.request("DELETE", f"{resource}/bulk", json={"_ids": list(ids)})

    def act(self, resource: str, action: str, record_id: str, changes: Mapping[str, Any]) -> Any:
        """``POST /resource/{move|copy}`` with ``_id``: the moved record or the new copy."""
        return self.client.request(
            "POST", f"{resource}/{action}", json={**changes, "_id": record_id}
        )

    def upsert(
        self,
        resource: str,
        match: Mapping[str, Any],
        body: Mapping[str, Any],
        *,
        update: bool = False,
    ) -> dict[str, Any]:
        """The first record matching ``match``, or a new one from ``body``.

        With ``update``, a found record gets ``body``'s fields set. Find and create run
        under a cluster-wide lock on (resource, match), so two runs for the same key never
        both create. A record found that does not match ``match`` (Plutio ignored a key
        filter) is a :class:`FatalError`, not a record to update or keep; a find that misses
        what an upsert created moments ago is reported (:mod:`hub.connector.created`).
        """
        key = lock_key("plutio", resource, json.dumps(match, sort_keys=True, default=str))
        with self.created.upsert(resource, match, lock=key, ttl_seconds=self.lock_seconds) as guard:
            found = self.find(resource, match, limit=1)
            if not found:
                guard.missed()
                record = self.create(resource, body)
                if isinstance(record, dict) and record.get("_id"):
                    guard.created(record["_id"])
                return {"created": True, "record": record}
            _check_match(resource, match, found[0])
            record = found[0]
            if update:
                updated = self.update(resource, [record["_id"]], body)
                if isinstance(updated, list) and updated:
                    record = updated[0]
            return {"created": False, "record": record}


def _check_match(resource: str, match: Mapping[str, Any], record: Any) -> None:
    """:class:`FatalError` unless ``record`` has the values of ``match``'s key filters."""
    keys = {k: v for k, v in match.items() if isinstance(v, str | int | float)}
    if not record_matches(record, keys):
        found = record.get("_id") if isinstance(record, dict) else type(record).__name__
        raise FatalError(
            f"{SERVICE} answered GET /{resource} with {found}, which does not match "
            f"{json.dumps(keys, sort_keys=True)}: the filter was not honoured, so the upsert "
            "stops rather than take the wrong record"
        )


def client_spec(settings: PlutioSettings) -> ClientSpec:
    """Plutio's client: a ``client_credentials`` token per API client (its quota counts
    the token requests too), the ``Business`` header, ``X-RateLimit-*`` headers,
    ``skip``/``limit`` pages, refusals explained."""
    require_fields(
        SERVICE,
        settings,
        ("client_id", "client_secret", "business"),
        "or run `hub up`, which wires in the Plutio sandbox",
    )
    assert settings.client_id and settings.client_secret
    form = client_credentials_form(settings.client_id, settings.client_secret.get_secret_value())
    return ClientSpec(
        service=SERVICE,
        base_url=settings.base_url,
        budget_key=f"plutio:{settings.client_id}",
        auth=OAuthToken(settings.base_url.rstrip("/") + "/oauth/token", form),
        headers={"Business": settings.business or ""},
        rate_limit_headers=X_RATELIMIT_HEADERS,
        paginator=SkipLimit(PAGE_SIZE),
        explain=explain,
    )


def build_api(
    settings: PlutioSettings,
    hub: Settings,
    redis: Any,
    *,
    transport: httpx.BaseTransport | None = None,
    quota: Quota | None = None,
    now: Callable[[], float] = time.time,
) -> PlutioApi:
    """A :class:`PlutioApi` from settings: one token and one budget per API client.

    ``transport`` and ``quota`` are for tests; ``now`` is the wall clock token expiry
    and rate-limit headers are read on.
    """
    client = build_client(
        client_spec(settings), settings, hub, redis, transport=transport, quota=quota, now=now
    )
    # find and create (or update), a token wait and some slack: then a dead holder's lock
    # lapses, and a live one is done with it
    return PlutioApi(client, redis, lock_seconds=2 * settings.timeout_seconds + 10.0)
