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

from connectors.accounting import sandbox
from connectors.accounting.files import FileSink
from connectors.accounting.http import HttpSink
from connectors.accounting.operations import OPERATIONS
from connectors.accounting.settings import AccountingSettings
from hub.connector import Connector
from hub.core import Settings
from hub.sandbox import Sandbox

__all__ = ["CONNECTOR", "SANDBOX", "AccountingApi", "export_dir"]


def export_dir(settings: AccountingSettings, hub: Settings) -> Path:
    """ACCOUNTING_EXPORT_DIR, or ``exports`` in HUB_DATA_DIR when unset."""
    return settings.export_dir or hub.hub_data_dir / "exports"


class AccountingApi:
    """The sinks, built once per worker process."""

    def __init__(self, export_dir: Path, files: FileSink, http: HttpSink | None) -> None:
        self.export_dir = export_dir
        self.files = files
        self.http = http


def _build(
    settings: AccountingSettings,
    hub: Settings,
    redis: Any,
    *,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], float] = time.time,
) -> AccountingApi:
    """The sinks; ``now`` gives the files' dates and the rows' ``exported_at``."""
    http = None
    if settings.url:
        token = settings.token
        http = HttpSink(
            redis,
            settings.url,
            token=token.get_secret_value() if token is not None else None,
            timeout=settings.timeout_seconds,
            transport=transport,
            now=now,
        )
    files = FileSink(redis, now=lambda: datetime.fromtimestamp(now(), UTC))
    return AccountingApi(export_dir(settings, hub), files, http)


def _sandbox_env(url: str, config: Any) -> dict[str, str]:
    """The HTTP sink posts to the sandbox at ``url``; with an export folder, the file sink
    writes into the folder the sandbox shows."""
    env = {"ACCOUNTING_URL": url}
    if config.token:
        env["ACCOUNTING_TOKEN"] = config.token
    if config.export_dir is not None:
        env["ACCOUNTING_EXPORT_DIR"] = str(config.export_dir)
    return env


SANDBOX: Sandbox[AccountingSettings] = Sandbox(
    create_app=sandbox.create_app,
    config=sandbox.AccountingSandboxConfig,
    env_prefix=sandbox.ENV_PREFIX,
    port=lambda settings: settings.sandbox_port,
    port_setting="HUB_ACCOUNTING_SANDBOX_PORT",
    configured=lambda settings: bool(settings.url),
    env=_sandbox_env,
    resources=frozenset(sandbox.RESOURCES),
    # `hub test` shows the rows the file sink wrote, in a folder of its own
    test_config=lambda: {"export_dir": sandbox.test_export_dir()},
)

CONNECTOR = Connector(
    name="accounting",
    operations=OPERATIONS,
    settings=AccountingSettings,
    build=_build,
    sandbox=SANDBOX,
)
