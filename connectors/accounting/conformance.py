"""What the connector conformance suite (:mod:`hub.testing.conformance`) needs of the
accounting HTTP sink (the file sink has no upstream; it pages and reads nothing)."""

from __future__ import annotations

from typing import Any

from connectors.accounting import CONNECTOR, AccountingApi
from connectors.accounting.http import SERVICE
from connectors.accounting.sandbox import AccountingSandboxConfig, create_app
from connectors.accounting.settings import AccountingSettings
from hub.core import Settings, isolated
from hub.testing import Conformance, Probe

__all__ = ["CONFORMANCE"]

TOKEN = "conformance-token"
#: one row, posted to ``/ledger``
ROW = {
    "id": "inv-1",
    "revision": "2025-05-01T00:00:00Z",
    "columns": {"invoice": "INV-1", "amount": {"value": "12.50", "type": "amount"}},
    "http": {"path": "ledger"},
}


def _api(base_url: str, redis: Any, *, wrong_credential: str | None = None) -> AccountingApi:
    settings = isolated(
        AccountingSettings,
        {"ACCOUNTING_URL": base_url, "ACCOUNTING_TOKEN": wrong_credential or TOKEN},
    )
    api: AccountingApi = CONNECTOR.build(settings, isolated(Settings, {}), redis)
    return api


CONFORMANCE = Conformance(
    connector=CONNECTOR,
    service=SERVICE,
    sandbox=lambda: create_app(AccountingSandboxConfig(token=TOKEN)),
    api=_api,
    probe=Probe("export", ROW, path="/ledger", method="POST"),
    budget=False,  # the endpoint documents no limit: its client takes no slots
)
