"""``http.request``: one HTTP request to any URL, on the shared HTTP layer.

The request goes through :class:`~hub.http.client.ApiClient` like every connector's: its
timeout, its classification of answers (429, 5xx and transport errors retriable with
``Retry-After``; other 4xx fatal, with the answer's message) under the step's retry
policy, and, when the step names a ``quota``, a slot of that cluster-wide budget
(``HTTP_REQUEST_QUOTAS``) for every call, which a 429 pauses for every worker.

Headers are given in the step's ``with``; their values may be secrets
(``"Bearer {{ secrets.ALERT_TOKEN }}"``), as may the whole URL (an incoming webhook's
URL is its credential). Neither is ever put in a log line or an error message: errors
name the host, never the path or query, and the answer's own message.

The answer is ``{status, body}``: the body as JSON when it is JSON, else its text.
A retried ``POST`` may reach the endpoint twice (after a timeout whose request did
arrive): send an idempotency key in ``headers`` where the endpoint takes one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.http.settings import HttpRequestSettings
from hub.core import ConfigError, FatalError, RetryableError, Throttled, UpstreamError
from hub.http import ApiClient, Budget, Quota, RedisQuota

__all__ = ["SERVICE", "HttpRequestApi", "Request", "send_request"]

#: how errors name the caller (with the host: ``http.request to hooks.example.com``)
SERVICE = "http.request"
#: the longest text answer kept as the step's output
MAX_TEXT = 65_536
#: clients kept per worker process (one per origin and quota)
_MAX_CLIENTS = 256


class Request(BaseModel):
    """What to send: ``method`` to ``url`` with ``headers``, ``params`` and a ``json``
    body; ``quota`` names a budget of ``HTTP_REQUEST_QUOTAS``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    body: Any = Field(default=None, alias="json")
    quota: str | None = None

    @field_validator("url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # the value may be a secret: say what is wrong, never what it is
            raise ValueError("must be an absolute http:// or https:// URL with a host")
        return value


class HttpRequestApi:
    """The clients ``http.request`` sends through, one per origin and quota, built on
    first use; ``transport`` and ``now`` are for tests."""

    def __init__(
        self,
        settings: HttpRequestSettings,
        redis: Any,
        *,
        transport: httpx.BaseTransport | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._redis = redis
        self._transport = transport
        self._now = now
        self._clients: dict[tuple[str, str | None], ApiClient] = {}

    def client(self, origin: str, quota: str | None) -> ApiClient:
        """The client for ``origin`` (``scheme://host[:port][/prefix]``) under ``quota``."""
        key = (origin, quota)
        found = self._clients.get(key)
        if found is not None:
            return found
        if len(self._clients) >= _MAX_CLIENTS:
            for old in self._clients.values():
                old.close()
            self._clients.clear()
        host = urlsplit(origin).hostname or origin
        made = ApiClient(
            service=f"{SERVICE} to {host}",
            base_url=origin,
            quota=self._quota(quota),
            timeout=self.settings.timeout_seconds,
            transport=self._transport,
            now=self._now,
        )
        self._clients[key] = made
        return made

    def _quota(self, name: str | None) -> Quota | None:
        if name is None:
            return None
        spec = self.settings.quotas.get(name)
        if spec is None:
            known = ", ".join(sorted(self.settings.quotas)) or "none"
            raise ConfigError(
                f"{SERVICE}: no quota '{name}' in HTTP_REQUEST_QUOTAS (known: {known})"
            )
        return RedisQuota(self._redis, Budget(f"http:{name}", spec.limit, spec.window_seconds))


def _target(url: str, send_to: str | None) -> tuple[str, str]:
    """The origin to send to (``send_to`` when set) and the path below it."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if send_to:
        return send_to, path
    return f"{parts.scheme}://{parts.netloc}", path


def _masked(error: UpstreamError | Throttled, origin: str, path: str) -> Exception:
    """``error`` without the request's path (it may hold a secret), same type and data."""
    prefix = urlsplit(origin).path.rstrip("/")
    text = str(error)
    for shown in (f"{prefix}/{path.lstrip('/')}", path):
        if shown not in ("", "/"):
            text = text.replace(shown, "/...")
    if isinstance(error, Throttled):
        return Throttled(text, key=error.key, wait=error.wait)
    if isinstance(error, RetryableError):
        return RetryableError(text, status=error.status, retry_after=error.retry_after)
    return FatalError(text, status=error.status)


def send_request(api: HttpRequestApi, args: Request) -> dict[str, Any]:
    """Send ``args``; ``{status, body}``, or the shared layer's typed error."""
    origin, path = _target(args.url, api.settings.send_to)
    client = api.client(origin, args.quota)
    query = dict(httpx.QueryParams(urlsplit(args.url).query))
    params = {**query, **{name: _param(value) for name, value in args.params.items()}}
    try:
        response = client.send(
            args.method,
            path,
            params=params or None,
            json=args.body,
            headers=args.headers or None,
        )
    except (UpstreamError, Throttled) as error:
        raise _masked(error, origin, path) from None
    return {"status": response.status_code, "body": _body(response)}


def _param(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return response.json()
        except ValueError:
            pass
    return response.text[:MAX_TEXT]
