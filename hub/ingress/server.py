"""Serving the ingress: logging set up for a line per delivery, uvicorn with the hub's
options, on a settled heap.

``hub serve`` and ``bench/ingress.py`` both go through :func:`prepare_process` and
:func:`run`, so the bench measures what is deployed.
"""

from __future__ import annotations

import gc

import uvicorn
from starlette.types import ASGIApp

from hub.core import Settings, configure_logging, lean_log_records

__all__ = ["prepare_process", "run", "settle_heap"]


def prepare_process(settings: Settings) -> None:
    """Logging for a process that logs a line per delivery: lines written in batches
    every ``HUB_INGRESS_LOG_FLUSH_SECONDS``, records without what no format shows."""
    configure_logging(
        settings.hub_log_format,
        settings.hub_log_level,
        flush_seconds=settings.hub_ingress_log_flush_seconds or None,
    )
    lean_log_records()


def settle_heap() -> None:
    """Collect start-up garbage, then freeze what start-up built.

    The ingress holds ~90,000 tracked objects once its workflows, templates and Celery
    app are built; each full pass of Python's cycle collector walked them all, a ~35 ms
    stall of the event loop, which set the ingress's p99. Frozen objects are never
    walked again, so a full pass only sees what requests created.
    """
    gc.collect()
    gc.freeze()


def run(app: ASGIApp, *, host: str, port: int, log_level: str = "info") -> None:
    """Serve ``app`` until stopped.

    uvicorn's access log is off: the hub logs one line per delivery itself (accepted,
    duplicate or refused, with the source and event id), and an access line for every
    request would double that cost and log health probes. So are its proxy headers
    (which it trusts from 127.0.0.1 by default): the hub reads forwarded headers from
    ``HUB_TRUSTED_PROXIES`` alone, for the URL a sender called
    (:mod:`hub.ingress.public_url`) and the client's address
    (:mod:`hub.ingress.client_address`). uvicorn leaves the process's logging as
    :func:`prepare_process` set it (``log_config=None``): its own setup would close the
    root handler, whose batched lines were then never written.
    """
    settle_heap()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
