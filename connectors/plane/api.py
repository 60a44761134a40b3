"""The Plane API as the hub calls it: one workspace, its paths, cursor pages, external ids.

Auth (the ``X-API-Key`` header), quota, timeouts, errors and paging come from
:mod:`hub.http`; this module only says what is Plane's: the paths under
``/api/v1/workspaces/{slug}/``, the ``fields``/``expand`` parameters, and how a work item
is found by its ``external_source``/``external_id`` so creates are idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from connectors.plane.lookup import find_external
from connectors.plane.settings import PlaneSettings
from hub.connector import CreatedRecords
from hub.core import FatalError, Settings, lock_key
from hub.http import (
    ApiClient,
    ClientSpec,
    CursorPages,
    HeaderKey,
    Quota,
    RateLimitHeaders,
    build_client,
    fingerprint,
    require_fields,
)

__all__ = ["RATE_LIMIT_HEADERS", "SERVICE", "PlaneApi", "build_api", "client_spec", "read_params"]

SERVICE = "Plane"
#: records per page
PAGE_SIZE = 100
#: ``X-RateLimit-Remaining``, and ``X-RateLimit-Reset`` as a UTC epoch time in seconds
RATE_LIMIT_HEADERS = RateLimitHeaders(
    remaining="X-RateLimit-Remaining", reset="X-RateLimit-Reset", reset_format="epoch_seconds"
)


def read_params(
    fields: Sequence[str] | None = None, expand: Sequence[str] | None = None
) -> dict[str, str]:
    """``fields`` and ``expand`` as Plane takes them: comma-separated, left out when empty."""
    params = {}
    if fields:
        params["fields"] = ",".join(fields)
    if expand:
        params["expand"] = ",".join(expand)
    return params


class PlaneApi:
    """Calls on one Plane workspace, through the shared client."""

    def __init__(self, client: ApiClient, redis: Any, workspace: str) -> None:
        self.client = client
        self.redis = redis
        self.workspace = workspace
        #: what upserts created lately, so a lookup that misses it is reported
        self.created = CreatedRecords(redis, "plane")

    def path(self, *parts: str) -> str:
        """``api/v1/workspaces/{slug}/<parts>/`` (Plane's paths end with a slash)."""
        inner = "/".join(p.strip("/") for p in parts)
        return f"api/v1/workspaces/{self.workspace}/{inner}/"

    def iterate(
        self, path: str, params: Mapping[str, Any] | None = None, *, limit: int | None = None
    ) -> Iterator[Any]:
        """Every record of a list endpoint, page by page (``per_page``/``cursor``)."""
        return self.client.iterate("GET", path, params=params, max_items=limit)

    def list(
        self, path: str, params: Mapping[str, Any] | None = None, *, limit: int | None = None
    ) -> list[Any]:
        return list(self.iterate(path, params, limit=limit))

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.client.request("GET", path, params=params)

    def create(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.client.request("POST", path, json=dict(body))

    def update(self, path: str, body: Mapping[str, Any]) -> Any:
        """A partial update (PATCH): only the fields in ``body`` change."""
        return self.client.request("PATCH", path, json=dict(body))

    def delete(self, path: str) -> None:
        self.client.request("DELETE", path)

    # --- work items by external id ----------------------------------------------------

    def find_external(self, project_id: str, source: str, external_id: str) -> Any | None:
        """The work item with this ``external_source``/``external_id``, or ``None``,
        whichever documented shape Plane answers in (:mod:`connectors.plane.lookup`)."""
        path = self.path("projects", project_id, "work-items")
        return find_external(self.client, path, source, external_id)

    def upsert_work_item(
        self,
        project_id: str,
        body: Mapping[str, Any],
        *,
        update_existing: bool = False,
    ) -> dict[str, Any]:
        """``{"created", "updated", "record"}``: the work item with ``body``'s external ids.

        The lookup and the create run under a cluster-wide lock on (project, source, id),
        so two runs never both create. A 409 (created meanwhile by someone outside the
        hub) is answered by reading the existing item. With ``update_existing`` an item
        that exists is patched with ``body``.
        """
        source, external_id = body.get("external_source"), body.get("external_id")
        if not source or not external_id:
            raise FatalError("an idempotent create needs both external_source and external_id")
        source, external_id = str(source), str(external_id)
        key = lock_key("plane", self.workspace, project_id, source, external_id)

        match = {"project": project_id, "external_source": source, "external_id": external_id}

        with self.created.upsert("work-items", match, lock=key) as guard:
            found = self.find_external(project_id, source, external_id)
            if found is None:
                guard.missed()
                created, record = self._create_or_existing(project_id, body)
                if created and isinstance(record, dict) and record.get("id"):
                    guard.created(record["id"])
            else:
                created, record = False, found
        if created or not update_existing:
            return {"created": created, "updated": False, "record": record}
        changes = {k: v for k, v in body.items() if record.get(k) != v}
        if not changes:
            return {"created": False, "updated": False, "record": record}
        path = self.path("projects", project_id, "work-items", record["id"])
        return {"created": False, "updated": True, "record": self.update(path, changes)}

    def _create_or_existing(self, project_id: str, body: Mapping[str, Any]) -> tuple[bool, Any]:
        """``(True, created)``, or ``(False, existing)`` when Plane answers 409 (not in
        Plane's reference: Plane's own API server answers 409 with the existing ``id`` when
        a create repeats an external id pair, in makeplane/plane's work item endpoint)."""
        try:
            return True, self.create(self.path("projects", project_id, "work-items"), body)
        except FatalError as exc:
            if exc.status != 409:
                raise
            source, external_id = str(body["external_source"]), str(body["external_id"])
            existing = self.find_external(project_id, source, external_id)
            if existing is None:
                raise
            return False, existing


def client_spec(settings: PlaneSettings) -> ClientSpec:
    """Plane's client: the ``X-API-Key`` header, one budget per key (named by its
    fingerprint), ``X-RateLimit-*`` headers with an epoch reset, cursor pages."""
    require_fields(
        SERVICE,
        settings,
        ("api_key", "workspace_slug"),
        "or run `hub up`, which wires in the Plane sandbox",
    )
    assert settings.api_key
    key = settings.api_key.get_secret_value()
    return ClientSpec(
        service=SERVICE,
        base_url=settings.base_url,
        budget_key=f"plane:{fingerprint(key)}",
        auth=HeaderKey("X-API-Key", key),
        rate_limit_headers=RATE_LIMIT_HEADERS,
        paginator=CursorPages(PAGE_SIZE),
    )


def build_api(
    settings: PlaneSettings,
    hub: Settings,
    redis: Any,
    *,
    transport: httpx.BaseTransport | None = None,
    quota: Quota | None = None,
    now: Callable[[], float] = time.time,
) -> PlaneApi:
    """A :class:`PlaneApi` from settings; its quota is kept in Redis per API key.

    ``now`` is the wall clock the epoch ``X-RateLimit-Reset`` is read on.
    """
    spec = client_spec(settings)
    client = build_client(spec, settings, hub, redis, transport=transport, quota=quota, now=now)
    assert settings.workspace_slug
    return PlaneApi(client, redis, settings.workspace_slug)
