"""Shared parts of the invoice export tests: workflows made fast, rows read back."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import ROOT, HubProcesses, wait_for

__all__ = ["EXPORT_WORKFLOWS", "Hub", "fast_workflows", "invoice", "ts"]

EXPORT_WORKFLOWS = (
    "plutio-invoice-to-accounting-export.yaml",
    "plutio-invoice-poll-to-accounting-export.yaml",
    "plutio-invoice-removed-to-accounting-reversal.yaml",
)


def fast_workflows(folder: Path, *, every: str = "1s", limit: int = 100) -> Path:
    """The sample export workflows, polling every ``every`` with pages of ``limit``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in EXPORT_WORKFLOWS:
        text = (ROOT / "workflows" / name).read_text()
        text = text.replace("every: 1m", f"every: {every}")
        text = text.replace("with: { limit: 100 }", f"with: {{ limit: {limit} }}")
        (folder / name).write_text(text)
    return folder


def ts(second: float) -> str:
    """An ISO time ``second`` seconds after 2024-01-01T00:00:00Z, as Plutio writes it."""
    whole = int(second)
    millis = round((second - whole) * 1000)
    return f"2024-01-01T{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{millis:03d}Z"


def invoice(n: int, *, second: float | None = None, **fields: Any) -> dict[str, Any]:
    """A paid invoice ``inv<n>`` updated at ``ts(second)`` (default: n)."""
    stamp = ts(n if second is None else second)
    record: dict[str, Any] = {
        "_id": f"inv{n:05d}",
        "invoiceId": f"INV-{n:05d}",
        "name": f"Invoice {n}",
        "status": "paid",
        "currency": "EUR",
        "amount": 100 + n + 0.25,
        "subTotal": 100 + n,
        "issueDate": "2024-01-01T00:00:00.000Z",
        "paidAt": stamp,
        "createdAt": stamp,
        "updatedAt": stamp,
    }
    record.update(fields)
    return record


class Hub:
    """A running hub (sandbox, ingress, worker, beat) and its export folder."""

    def __init__(self, procs: HubProcesses, export_dir: Path) -> None:
        self.procs = procs
        self.folder = export_dir / "invoices"

    def hook(self, event: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        return httpx.post(
            f"{self.procs.ingress_url}/hooks/plutio",
            json=body,
            headers={"X-Event-Type": event, **headers},
            timeout=10,
        )

    def seed(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 500):
            httpx.post(
                f"{self.procs.sandbox_url}/_sandbox/seed",
                json={"invoices": records[start : start + 500]},
                timeout=30,
            ).raise_for_status()

    def rows(self, fmt: str = "jsonl") -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for path in sorted(self.folder.glob(f"*.{fmt}")):
            if fmt == "jsonl":
                rows += [json.loads(line) for line in path.read_text().splitlines()]
            else:
                with path.open(newline="") as handle:
                    rows += list(csv.DictReader(handle))
        return rows

    def rows_of(self, *ids: str) -> list[dict[str, Any]]:
        return [r for r in self.rows() if r["invoice_id"] in ids]

    def wait_rows(self, ids: tuple[str, ...], count: int, timeout: float = 30) -> list[Any]:
        try:
            wait_for(lambda: len(self.rows_of(*ids)) >= count, timeout, f"{count} row(s)")
        except TimeoutError:
            print(self.procs.logs())
            raise
        return self.rows_of(*ids)

    def logs(self, name: str) -> str:
        return (self.procs.log_dir / f"{name}.log").read_text(errors="replace")
