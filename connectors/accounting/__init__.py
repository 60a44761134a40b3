"""Accounting: export rows to CSV / JSON Lines files and to an HTTP endpoint, exactly once.

``accounting.export`` writes one revision of a record (an invoice at its ``updatedAt``)
as one row, or, for a removed record, a reversal of the last exported row. Every row
carries its export key; a key already written is skipped, so redeliveries and the same
revision arriving by webhook and by poll make one row. See :mod:`.files` for how the
file sink stays exact across crashes, :mod:`.columns` for the column mapping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from connectors.accounting.files import FileSink
from connectors.accounting.http import HttpSink
from connectors.accounting.operations import OPERATIONS
from hub.connector.declaration import Connector
from hub.core.settings import Settings

__all__ = ["CONNECTOR", "AccountingApi", "export_dir"]


def export_dir(settings: Settings) -> Path:
    """ACCOUNTING_EXPORT_DIR, or ``exports`` in HUB_DATA_DIR when unset."""
    return settings.accounting_export_dir or settings.hub_data_dir / "exports"


class AccountingApi:
    """The sinks, built once per worker process."""

    def __init__(self, export_dir: Path, files: FileSink, http: HttpSink | None) -> None:
        self.export_dir = export_dir
        self.files = files
        self.http = http


def _build(
    settings: Settings,
    redis: Any,
    *,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], float] = time.time,
) -> AccountingApi:
    """The sinks; ``now`` gives the files' dates and the rows' ``exported_at``."""
    http = None
    if settings.accounting_url:
        token = settings.accounting_token
        http = HttpSink(
            redis,
            settings.accounting_url,
            token=token.get_secret_value() if token is not None else None,
            timeout=settings.accounting_timeout_seconds,
            transport=transport,
            now=now,
        )
    files = FileSink(redis, now=lambda: datetime.fromtimestamp(now(), UTC))
    return AccountingApi(export_dir(settings), files, http)


CONNECTOR = Connector(
    name="accounting", operations=OPERATIONS, build=_build, settings_prefix="ACCOUNTING_"
)
