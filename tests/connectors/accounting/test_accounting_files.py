"""The file sink on a real folder and a real Redis: each export key once, whatever breaks."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from connectors.accounting.files import FileSink, FileTarget
from connectors.accounting.folder import safe_folder
from connectors.accounting.formats import CSV, JSONL
from connectors.accounting.ledger import Entry, export_key, reversal_key
from hub.core.errors import ConfigError, LockBusy


@pytest.fixture(scope="module", autouse=True)
def sandbox_mode() -> str:
    """No sandbox in these tests: they run once."""
    return "none"


ROOT = Path(__file__).resolve().parents[3]
T1, T2 = "2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z"
COLUMNS = ["invoice", "amount", "currency"]
AMOUNTS = {"amount"}


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def target(tmp_path: Path) -> FileTarget:
    return FileTarget(folder=tmp_path / "out", name="invoices-{day}", formats=(CSV, JSONL))


def _sink(redis_client: redis.Redis, clock: Clock, **kwargs: Any) -> FileSink:
    return FileSink(redis_client, now=clock, **kwargs)


def _row(invoice: str, amount: str) -> dict[str, str | None]:
    return {"invoice": invoice, "amount": amount, "currency": "EUR"}


def _csv_rows(folder: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def _jsonl_rows(folder: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_a_row_is_written_once_in_both_formats(
    redis_client: redis.Redis, clock: Clock, target: FileTarget
) -> None:
    sink = _sink(redis_client, clock)
    key = export_key("inv1", T1)
    first = sink.write(target, key, COLUMNS, _row("INV-1", "12.50"), AMOUNTS)
    again = sink.write(target, key, COLUMNS, _row("INV-1", "12.50"), AMOUNTS)
    assert [o.written for o in first] == [True, True]
    assert [o.written for o in again] == [False, False]
    assert all("already exported" in str(o.reason) for o in again)
    assert (target.folder / "invoices-2024-03-01.csv").read_text().splitlines() == [
        "invoice,amount,currency,entry_type,export_key,exported_at",
        f"INV-1,12.50,EUR,export,{key},2024-03-01T12:00:00.000Z",
    ]
    assert _jsonl_rows(target.folder) == [
        {
            "invoice": "INV-1",
            "amount": "12.50",
            "currency": "EUR",
            "entry_type": "export",
            "export_key": key,
            "exported_at": "2024-03-01T12:00:00.000Z",
        }
    ]


def test_a_crash_between_the_write_and_its_record_makes_no_second_row(
    redis_client: redis.Redis, clock: Clock, target: FileTarget
) -> None:
    class Crash(BaseException):
        pass

    def die(path: Path, entry: Entry) -> None:
        raise Crash

    key = export_key("inv1", T1)
    with pytest.raises(Crash):
        _sink(redis_client, clock, after_append=die).write(
            target, key, COLUMNS, _row("INV-1", "1.00"), AMOUNTS
        )
    # the row is in the CSV file, the index does not know it, JSON Lines never got it
    assert len(_csv_rows(target.folder)) == 1 and _jsonl_rows(target.folder) == []
    outcomes = _sink(redis_client, clock).write(
        target, key, COLUMNS, _row("INV-1", "1.00"), AMOUNTS
    )
    assert [(o.sink, o.written) for o in outcomes] == [("csv", False), ("jsonl", True)]
    assert len(_csv_rows(target.folder)) == 1 and len(_jsonl_rows(target.folder)) == 1


def test_a_process_killed_after_its_fsync_leaves_one_row(
    redis_server: Any, redis_client: redis.Redis, clock: Clock, target: FileTarget
) -> None:
    """A real process dies (``os._exit``, as SIGKILL would) right after the row is durable."""
    script = textwrap.dedent(
        f"""
        import os, redis
        from pathlib import Path
        from connectors.accounting.files import FileSink, FileTarget
        from connectors.accounting.formats import CSV, JSONL
        sink = FileSink(redis.Redis.from_url({redis_server.url!r}),
                        after_append=lambda path, entry: os._exit(9))
        target = FileTarget(Path({str(target.folder)!r}), "invoices-{{day}}", (CSV, JSONL))
        sink.write(target, "inv1:{T1}", ["invoice", "amount", "currency"],
                   {{"invoice": "INV-1", "amount": "5.00", "currency": "EUR"}}, {{"amount"}})
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=60)
    assert done.returncode == 9
    assert len(_csv_rows(target.folder)) == 1
    key = export_key("inv1", T1)
    for _ in range(2):  # the redelivery, and one more
        _sink(redis_client, clock).write(target, key, COLUMNS, _row("INV-1", "5.00"), AMOUNTS)
    assert [r["export_key"] for r in _csv_rows(target.folder)] == [key]
    assert [r["export_key"] for r in _jsonl_rows(target.folder)] == [key]


def test_a_partial_last_row_is_cut_off_before_the_next_write(
    redis_client: redis.Redis, clock: Clock, target: FileTarget
) -> None:
    sink = _sink(redis_client, clock)
    sink.write(target, export_key("inv1", T1), COLUMNS, _row("INV-1", "1.00"), AMOUNTS)
    jsonl = target.folder / "invoices-2024-03-01.jsonl"
    with jsonl.open("ab") as handle:
        handle.write(b'{"invoice":"INV-2","amo')  # a write that died half way
    sink.write(target, export_key("inv2", T1), COLUMNS, _row("INV-2", "2.00"), AMOUNTS)
    assert [r["invoice"] for r in _jsonl_rows(target.folder)] == ["INV-1", "INV-2"]


def test_a_lost_redis_is_rebuilt_from_the_files(
    redis_client: redis.Redis, clock: Clock, target: FileTarget
) -> None:
    sink = _sink(redis_client, clock)
    for n in range(5):
        sink.write(target, export_key(f"inv{n}", T1), COLUMNS, _row(f"INV-{n}", "1.00"), AMOUNTS)
    redis_client.flushdb()
    outcomes = sink.write(target, export_key("inv3", T1), COLUMNS, _row("INV-3", "1.00"), AMOUNTS)
    assert not any(o.written for o in outcomes)
    assert len(_csv_rows(target.folder)) == 5 and len(_jsonl_rows(target.folder)) == 5
    # the removal of a record exported before the loss still finds its last row
    outcomes = sink.write(target, reversal_key("inv2", T2), COLUMNS, {}, AMOUNTS)
    assert all(o.written for o in outcomes)
    assert _csv_rows(target.folder)[-1]["amount"] == "-1.00"


def test_an_index_that_lost_its_last_writes_catches_up(
    redis_client: redis.Redis, clock: Clock, target: FileTarget
) -> None:
    sink = _sink(redis_client, clock)
    sink.write(target, export_key("inv1", T1), COLUMNS, _row("INV-1", "1.00"), AMOUNTS)
    snapshot = {k: redis_client.dump(k) for k in redis_client.keys("hub:accounting:*")}
    sink.write(target, export_key("inv2", T1), COLUMNS, _row("INV-2", "1.00"), AMOUNTS)
    for k, v in snapshot.items():  # Redis comes back with the state before the second row
        assert v is not None
        redis_client.restore(k, 0, v, replace=True)
    outcomes = sink.write(target, export_key("inv2", T1), COLUMNS, _row("INV-2", "1.00"), AMOUNTS)
    assert not any(o.written for o in outcomes)
    assert len(_csv_rows(target.folder)) == 2


def test_edit_remove_and_stale_events(
    redis_client: redis.Redis, clock: Clock, target: FileTarget
) -> None:
    sink = _sink(redis_client, clock)
    sink.write(target, export_key("inv1", T1), COLUMNS, _row("INV-1", "10.00"), AMOUNTS)
    sink.write(target, export_key("inv1", T2), COLUMNS, _row("INV-1", "12.00"), AMOUNTS)
    stale = sink.write(
        target,
        export_key("inv1", "2023-12-31T00:00:00.000Z"),
        COLUMNS,
        _row("INV-1", "9.00"),
        AMOUNTS,
    )
    assert "older than the exported" in str(stale[0].reason)
    sink.write(target, reversal_key("inv1", T2), COLUMNS, {}, AMOUNTS)
    again = sink.write(target, reversal_key("inv1", T2), COLUMNS, {}, AMOUNTS)
    assert "already written" in str(again[0].reason)
    never = sink.write(target, reversal_key("inv9", T2), COLUMNS, {}, AMOUNTS)
    assert "never exported" in str(never[0].reason)
    late = sink.write(target, export_key("inv1", T2), COLUMNS, _row("INV-1", "12.00"), AMOUNTS)
    assert not late[0].written
    rows = _csv_rows(target.folder)
    assert [(r["entry_type"], r["amount"]) for r in rows] == [
        ("export", "10.00"),
        ("export", "12.00"),
        ("reversal", "-12.00"),
    ]
    assert rows[-1]["export_key"] == f"inv1:removed:{T2}" and rows[-1]["invoice"] == "INV-1"


def test_files_turn_over_each_day_and_keys_hold_across_them(
    redis_client: redis.Redis, clock: Clock, target: FileTarget
) -> None:
    sink = _sink(redis_client, clock)
    sink.write(target, export_key("inv1", T1), COLUMNS, _row("INV-1", "1.00"), AMOUNTS)
    clock.moment = datetime(2024, 3, 2, 0, 0, 1, tzinfo=UTC)
    sink.write(target, export_key("inv1", T1), COLUMNS, _row("INV-1", "1.00"), AMOUNTS)
    sink.write(target, export_key("inv2", T1), COLUMNS, _row("INV-2", "1.00"), AMOUNTS)
    names = sorted(p.name for p in target.folder.glob("*.csv"))
    assert names == ["invoices-2024-03-01.csv", "invoices-2024-03-02.csv"]
    assert [r["invoice"] for r in _csv_rows(target.folder)] == ["INV-1", "INV-2"]


def test_a_changed_mapping_continues_in_a_new_csv(
    redis_client: redis.Redis, clock: Clock, target: FileTarget
) -> None:
    sink = _sink(redis_client, clock)
    sink.write(target, export_key("inv1", T1), COLUMNS, _row("INV-1", "1.00"), AMOUNTS)
    sink.write(
        target, export_key("inv2", T1), ["invoice", "amount"], _row("INV-2", "2.00"), AMOUNTS
    )
    names = sorted(p.name for p in target.folder.glob("*.csv"))
    assert names == ["invoices-2024-03-01.csv", "invoices-2024-03-01~2.csv"]
    assert (target.folder / names[1]).read_text().startswith("invoice,amount,entry_type,")


def test_writers_in_many_processes_write_each_key_once(
    redis_server: Any, redis_client: redis.Redis, target: FileTarget
) -> None:
    script = textwrap.dedent(
        f"""
        import random, sys, redis
        from pathlib import Path
        from connectors.accounting.files import FileSink, FileTarget
        from connectors.accounting.formats import CSV, JSONL
        sink = FileSink(redis.Redis.from_url({redis_server.url!r}))
        target = FileTarget(Path({str(target.folder)!r}), "invoices-{{day}}", (CSV, JSONL))
        keys = list(range(40))
        random.Random(int(sys.argv[1])).shuffle(keys)
        for n in keys:
            sink.write(target, f"inv{{n}}:{T1}", ["invoice", "amount", "currency"],
                       {{"invoice": str(n), "amount": "1.00", "currency": "EUR"}}, {{"amount"}})
        """
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", script, str(seed)], cwd=ROOT) for seed in range(4)
    ]
    assert [w.wait(120) for w in writers] == [0, 0, 0, 0]
    for rows in (_csv_rows(target.folder), _jsonl_rows(target.folder)):
        keys = [r["export_key"] for r in rows]
        assert len(keys) == 40 and len(set(keys)) == 40


def test_a_held_lock_defers_the_write(
    redis_client: redis.Redis, clock: Clock, target: FileTarget
) -> None:
    target.folder.mkdir(parents=True)
    fd = os.open(target.folder / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(LockBusy):
            _sink(redis_client, clock, lock_wait=0.05).write(
                target, export_key("inv1", T1), COLUMNS, _row("INV-1", "1.00"), AMOUNTS
            )
    finally:
        os.close(fd)
    assert not list(target.folder.glob("*.csv"))


@pytest.mark.parametrize("bad", ["/etc", "../up", "a/../../b", "", "sp ace"])
def test_folders_stay_under_the_export_dir(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match="relative path"):
        safe_folder(tmp_path, bad)
    assert safe_folder(tmp_path, "a/b_c.d") == tmp_path / "a" / "b_c.d"


def test_files_moved_to_a_subfolder_stay_in_the_ledger(
    redis_client: redis.Redis, clock: Clock, target: FileTarget
) -> None:
    sink = _sink(redis_client, clock)
    sink.write(target, export_key("inv1", T1), COLUMNS, _row("INV-1", "1.00"), AMOUNTS)
    archive = target.folder / "archive" / "2024"
    archive.mkdir(parents=True)
    for path in list(target.folder.glob("*.*sv")) + list(target.folder.glob("*.jsonl")):
        path.rename(archive / path.name)
    redis_client.flushdb()  # and Redis forgets everything: the archive still counts
    clock.moment = datetime(2024, 3, 2, tzinfo=UTC)
    outcomes = sink.write(target, export_key("inv1", T1), COLUMNS, _row("INV-1", "1.00"), AMOUNTS)
    assert not any(o.written for o in outcomes)
    assert not list(target.folder.glob("*.csv"))


def test_redis_unreachable_is_retriable_and_the_retry_writes_no_second_row(
    redis_client: redis.Redis, clock: Clock, target: FileTarget
) -> None:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from hub.core.errors import RetryableError
    from hub.core.redis_server import free_port

    down = redis.Redis(port=free_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    key = export_key("inv1", T1)
    with pytest.raises(RetryableError, match="Redis unreachable"):
        _sink(down, clock).write(target, key, COLUMNS, _row("INV-1", "1.00"), AMOUNTS)
    _sink(redis_client, clock).write(target, key, COLUMNS, _row("INV-1", "1.00"), AMOUNTS)
    assert len(_csv_rows(target.folder)) == 1


def test_read_only_archived_files_are_read(
    redis_client: redis.Redis, clock: Clock, target: FileTarget
) -> None:
    sink = _sink(redis_client, clock)
    sink.write(target, export_key("inv1", T1), COLUMNS, _row("INV-1", "1.00"), AMOUNTS)
    for path in target.folder.glob("invoices-*"):
        path.chmod(0o444)
    redis_client.flushdb()
    clock.moment = datetime(2024, 3, 2, tzinfo=UTC)
    outcomes = sink.write(target, export_key("inv1", T1), COLUMNS, _row("INV-1", "1.00"), AMOUNTS)
    assert not any(o.written for o in outcomes)
