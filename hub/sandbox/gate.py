"""The path every API call takes through a sandbox, before and after its handler.

1. The API client behind the call is identified (by the sandbox's ``identify``).
2. Latency is added (injected faults).
3. The client's quota is counted; over it, the call gets 429 with ``Retry-After`` (none
   when the sandbox passes ``retry_after=False``: an upstream that documents none).
4. An injected fault may answer instead: a scripted answer, a 429 storm, a dropped
   connection, a random server error.
5. Otherwise the handler answers.

Answers for an identified client carry rate-limit headers (``X-RateLimit-*`` by default;
a sandbox passes ``rate_headers`` for its upstream's own, or none). Every call is logged,
whatever happened. A call whose client cannot be identified is not metered. Error answers
the gate makes (quota refusals, injected errors) take the sandbox's error shape when it
passes ``refused`` and ``error``; the kit's ``{"code", "message"}`` otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.sandbox.calllog import CallRecord
from hub.sandbox.clock import iso_utc
from hub.sandbox.core import SandboxCore
from hub.sandbox.faults import FaultDecision
from hub.sandbox.quota import QuotaDecision, rate_limit_headers
from hub.sandbox.responses import DroppedResponse, json_error

__all__ = ["ErrorResponse", "Gate", "Handler", "Identify", "RateHeaders", "Refusal"]

#: the API client behind a request, or ``None`` when it cannot be told
Identify = Callable[[Request], Awaitable[str | None]]
#: answers a request, given the identified client
Handler = Callable[[Request, str | None], Awaitable[Response]]
#: the rate-limit headers an answer carries, from the quota decision for its call
RateHeaders = Callable[[QuotaDecision], Mapping[str, str]]
#: the answer to a call the quota refused (it must carry ``Retry-After``)
Refusal = Callable[[QuotaDecision], Response]
#: an error answer in the sandbox's shape: status, message (``None``: the reason), headers
ErrorResponse = Callable[[int, str | None, dict[str, str] | None], Response]


class Gate:
    """Wraps API handlers with identification, latency, quota, faults and the call log."""

    def __init__(
        self,
        core: SandboxCore,
        identify: Identify,
        *,
        rate_headers: RateHeaders = rate_limit_headers,
        refused: Refusal | None = None,
        error: ErrorResponse = json_error,
        retry_after: bool = True,
    ) -> None:
        self.core = core
        self.identify = identify
        self.rate_headers = rate_headers
        self.refused = refused or self._quota_refused
        self.error = error
        self._retry_after = retry_after

    def endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """A Starlette endpoint running ``handler`` behind the gate."""

        async def run(request: Request) -> Response:
            return await self.handle(request, handler)

        return run

    async def handle(self, request: Request, handler: Handler) -> Response:
        """Answer ``request`` through the gate."""
        core = self.core
        seq = core.calls.next_seq()
        arrived = core.clock.monotonic()
        wall = iso_utc(core.clock.now())
        client: str | None = None
        quota: QuotaDecision | None = None
        fault: FaultDecision | None = None
        response: Response | None = None
        try:
            client = await self.identify(request)
            delay = core.faults.latency()
            if delay > 0:
                await core.clock.sleep(delay)
            if client is not None:
                quota = core.quota.acquire(client, arrived)
            if quota is not None and not quota.allowed:
                response = self.refused(quota)
                if not self._retry_after:
                    del response.headers["Retry-After"]
            else:
                fault = core.faults.decide(request.method, request.url.path, request.url.query)
                if fault is not None and fault.delay > 0:
                    await core.clock.sleep(fault.delay)
                response = await self._answer(request, client, fault, handler)
            if quota is not None:
                response.headers.update(self.rate_headers(quota))
            return response
        finally:
            dropped = isinstance(response, DroppedResponse)
            status = None if dropped else (response.status_code if response else 500)
            core.calls.append(
                CallRecord(
                    seq=seq,
                    t=arrived,
                    wall=wall,
                    method=request.method,
                    path=request.url.path,
                    query=request.url.query,
                    client_id=client,
                    status=status,
                    quota_refused=quota is not None and not quota.allowed,
                    fault=fault.kind if fault is not None else None,
                    duration=core.clock.monotonic() - arrived,
                )
            )

    def _quota_refused(self, quota: QuotaDecision) -> Response:
        limit = self.core.quota
        window = f"{limit.window:g}"
        return json_error(
            429,
            f"Too many requests: the limit is {limit.limit} calls per {window} seconds.",
            headers={"Retry-After": quota.retry_after_header},
        )

    async def _answer(
        self, request: Request, client: str | None, fault: FaultDecision | None, handler: Handler
    ) -> Response:
        if fault is None or (fault.status is None and not fault.drop):
            return await handler(request, client)
        if fault.drop:
            return DroppedResponse()
        assert fault.status is not None
        headers = {"X-Sandbox-Fault": fault.kind}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(math.ceil(fault.retry_after))
        if fault.body is not None:
            body: Any = fault.body
            return JSONResponse(body, status_code=fault.status, headers=headers)
        return self.error(fault.status, fault.message, headers)
