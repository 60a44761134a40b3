"""The invoice export workflows on real parts: Redis, sandbox, ingress, a worker, beat.

Each case uses its own invoices (ids from its own range), so the cases share one hub.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
import redis

from hub.core.redis_server import RedisServer
from tests.support.processes import HubProcesses, wait_for
from tests.workflows.invoice_export import Hub, fast_workflows, invoice, ts

pytestmark = pytest.mark.e2e

#: a schedule trigger: a row per tick, in its own folder
TICKER = """
name: ticker
trigger:
  schedule: { every: 1s }
steps:
  - id: tick
    uses: accounting.export
    with:
      id: "{{ event.workflow }}"
      revision: "{{ event.scheduled_at }}"
      files: { folder: ticks, formats: [jsonl] }
      columns: { at: { value: "{{ event.scheduled_at }}", type: datetime } }
"""


@pytest.fixture(scope="module")
def hub(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    redis.Redis.from_url(redis_server.url).flushdb()
    base = tmp_path_factory.mktemp("export")
    exports = base / "exports"
    workflows = fast_workflows(base / "workflows")
    (workflows / "ticker.yaml").write_text(TICKER)
    procs = HubProcesses(
        redis_url=redis_server.url,
        log_dir=base,
        workflows=workflows,
        extra_env={
            "ACCOUNTING_EXPORT_DIR": str(exports),
            "HUB_DATA_DIR": str(base / "data"),
            "HUB_RETRY_BASE_SECONDS": "0.2",
            "HUB_POLL_OVERLAP_SECONDS": "5",
        },
    )
    try:
        procs.start_sandbox()
        procs.start_ingress()
        procs.start_worker(concurrency=2)
        procs.start_beat()
        yield Hub(procs, exports)
    finally:
        procs.stop()


def _skipped(hub: Hub, key: str) -> bool:
    return f"skip: {key} is already exported" in hub.logs("worker")


def test_webhook_path_exports_a_paid_invoice_once(hub: Hub) -> None:
    body = invoice(1, second=10_000, amount=1234.5, currency="eur")
    first = hub.hook("invoice.create", body)
    assert first.status_code == 202, first.text
    assert [r["workflow"] for r in first.json()["runs"]] == ["plutio-invoice-to-accounting-export"]
    (row,) = hub.wait_rows(("inv00001",), 1)
    assert row["total"] == "1234.50" and row["currency"] == "EUR"  # exact, in the currency's unit
    assert row["export_key"] == f"inv00001:{ts(10_000)}" and row["entry_type"] == "export"
    assert row["issue_date"] == "2024-01-01" and row["paid_at"] == ts(10_000)
    csv_rows = [r for r in hub.rows("csv") if r["invoice_id"] == "inv00001"]
    assert [r["export_key"] for r in csv_rows] == [row["export_key"]]


def test_a_duplicate_webhook_writes_no_second_row(hub: Hub) -> None:
    body = invoice(2, second=10_001)
    assert hub.hook("invoice.create", body).status_code == 202
    hub.wait_rows(("inv00002",), 1)
    # Plutio retries: the ingress sees a new delivery (no event id), the export step skips it
    assert hub.hook("invoice.create", body).status_code == 202
    # and with an event id the ingress drops the repeat itself
    tagged = {"X-Event-Id": f"plutio-invoice:inv00002:{ts(10_001)}"}
    assert hub.hook("invoice.create", body, **tagged).status_code == 202
    again = hub.hook("invoice.create", body, **tagged)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    wait_for(lambda: _skipped(hub, f"inv00002:{ts(10_001)}"), 30, "the skip line")
    assert len(hub.rows_of("inv00002")) == 1


def test_drafts_are_skipped(hub: Hub) -> None:
    answer = hub.hook("invoice.create", invoice(3, second=10_002, status="draft"))
    assert answer.status_code == 202
    assert answer.json()["runs"] == []
    assert answer.json()["skipped"] == [
        {"workflow": "plutio-invoice-to-accounting-export", "reason": "if: false"}
    ]


def test_edit_after_export_writes_the_new_revision_and_not_a_stale_one(hub: Hub) -> None:
    hub.hook("invoice.create", invoice(4, second=10_003, amount=50))
    hub.wait_rows(("inv00004",), 1)
    hub.hook("invoice.edit", invoice(4, second=10_004, amount=75.5))
    rows = hub.wait_rows(("inv00004",), 2)
    assert [(r["revision"], r["total"]) for r in rows] == [
        (ts(10_003), "50.00"),
        (ts(10_004), "75.50"),
    ]
    hub.hook("invoice.edit", invoice(4, second=10_003, amount=50))  # late redelivery of rev 1
    wait_for(lambda: _skipped(hub, f"inv00004:{ts(10_003)}"), 30, "the stale revision's skip")
    assert len(hub.rows_of("inv00004")) == 2


def test_remove_writes_a_reversal_of_the_last_exported_row(hub: Hub) -> None:
    hub.hook("invoice.create", invoice(5, second=10_005, amount=20, subTotal=18))
    hub.wait_rows(("inv00005",), 1)
    removed = hub.hook("invoice.remove", invoice(5, second=10_005, amount=20, subTotal=18))
    assert [r["workflow"] for r in removed.json()["runs"]] == [
        "plutio-invoice-removed-to-accounting-reversal"
    ]
    rows = hub.wait_rows(("inv00005",), 2)
    reversal = rows[1]
    assert reversal["entry_type"] == "reversal"
    assert (reversal["total"], reversal["subtotal"]) == ("-20.00", "-18.00")
    assert reversal["export_key"] == f"inv00005:removed:{ts(10_005)}"
    hub.hook("invoice.remove", invoice(5, second=10_005))  # delivered twice
    hub.hook("invoice.remove", invoice(6, second=10_006))  # never exported
    wait_for(
        lambda: "inv00006 was never exported: nothing to reverse" in hub.logs("worker"),
        30,
        "the never-exported skip",
    )
    assert len(hub.rows_of("inv00005")) == 2 and hub.rows_of("inv00006") == []


def test_poll_path_exports_changed_paid_invoices_and_moves_the_cursor(hub: Hub) -> None:
    records = [invoice(n, second=20_000 + n) for n in range(100, 130)]
    records[3]["status"] = "draft"
    hub.seed(records)
    ids = tuple(r["_id"] for r in records)
    rows = hub.wait_rows(ids, 29)
    assert len({r["export_key"] for r in rows}) == 29
    assert "inv00103" not in {r["invoice_id"] for r in rows}
    shown = subprocess.run(
        [sys.executable, "-m", "hub", "cursors"],
        env=hub.procs.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    line = next(x for x in shown.stdout.splitlines() if x.startswith("plutio-invoice-poll"))
    assert ts(20_129) in line, shown.stdout


def test_both_paths_at_once_write_each_revision_once(hub: Hub) -> None:
    records = [invoice(n, second=30_000 + n) for n in range(200, 240)]
    hub.seed(records)
    for record in records:  # the same revisions also arrive by webhook, meanwhile
        assert hub.hook("invoice.edit", record).status_code == 202
    ids = tuple(r["_id"] for r in records)
    hub.wait_rows(ids, 40)
    keys = [f"{r['_id']}:{r['updatedAt']}" for r in records]
    # every revision came twice: once written, once skipped; wait for both, then count
    wait_for(lambda: all(_skipped(hub, k) for k in keys), 60, "the second path's skips")
    rows = hub.rows_of(*ids)
    assert sorted(r["export_key"] for r in rows) == sorted(keys)


def test_an_upstream_500_during_the_poll_loses_nothing(hub: Hub) -> None:
    httpx.post(
        f"{hub.procs.sandbox_url}/_sandbox/faults",
        json={"scripts": [{"method": "GET", "path": "/invoices", "answers": [500, 503, 500]}]},
    ).raise_for_status()
    records = [invoice(n, second=40_000 + n) for n in range(300, 320)]
    hub.seed(records)
    rows = hub.wait_rows(tuple(r["_id"] for r in records), 20, timeout=60)
    assert len({r["export_key"] for r in rows}) == 20
    calls = httpx.get(f"{hub.procs.sandbox_url}/_sandbox/calls").json()["calls"]
    failed = [c for c in calls if c["path"] == "/invoices" and c["status"] >= 500]
    assert len(failed) == 3
    assert "poll plutio-invoice-poll-to-accounting-export: Plutio answered 50" in hub.logs("worker")


def test_a_redelivered_step_after_its_row_was_written_is_skipped(hub: Hub) -> None:
    """What a worker killed between the write and the ack leads to: the same task again."""
    from hub.core.settings import Settings
    from hub.worker.celery_app import create_celery
    from hub.workflow.compiler import compile_run
    from hub.workflow.context import new_context
    from hub.workflow.loader import load_workflow

    body = invoice(7, second=10_007)
    hub.hook("invoice.create", body)
    hub.wait_rows(("inv00007",), 1)
    wf = load_workflow(hub.procs.workflows / "plutio-invoice-to-accounting-export.yaml")
    celery = create_celery(Settings(hub_redis_url=hub.procs.redis_url))
    ctx = new_context(
        event=body,
        event_id="redelivered",
        source="plutio",
        event_type="invoice.create",
        run_id="r" * 32,
    )
    compile_run(celery, wf, ctx, event_id="redelivered", run_id="r" * 32).apply_async()
    compile_run(celery, wf, ctx, event_id="redelivered", run_id="r" * 32).apply_async()
    key = f"inv00007:{ts(10_007)}"
    # the first delivery reaches the sink, which finds the row (both formats); the second,
    # same run and step, is stopped earlier by the step ledger, or else by the sink again
    wait_for(
        lambda: hub.logs("worker").count(f"skip: {key} is already exported") >= 2,
        30,
        "the redelivery skipped in both formats",
    )
    wait_for(lambda: hub.logs("worker").count("succeeded") >= 3, 30, "both redeliveries to end")
    assert len(hub.rows_of("inv00007")) == 1


def test_a_schedule_trigger_starts_a_run_each_tick(hub: Hub) -> None:
    ticks = hub.folder.parent / "ticks"

    def rows() -> int:
        return sum(p.read_text().count("\n") for p in ticks.glob("*.jsonl"))

    wait_for(lambda: rows() >= 2, 30, "two scheduled runs")
    assert "Sending due task schedule ticker (hub.schedule)" in hub.logs("beat")
