from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path

from hub.core.logs import JsonFormatter, PeriodicFlushHandler, TextFormatter


def test_json_lines_keep_extra_fields() -> None:
    record = logging.makeLogRecord(
        {
            "name": "hub.worker",
            "levelname": "INFO",
            "levelno": 20,
            "msg": "step %s done",
            "args": ("person",),
            "event_id": "e1",
            "run_id": "r1",
        }
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "step person done"
    assert line["event_id"] == "e1" and line["run_id"] == "r1"
    assert line["level"] == "info" and line["logger"] == "hub.worker"


def test_text_lines_read_as_the_standard_formatter_writes_them() -> None:
    standard = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    mine = TextFormatter()
    for created in (1795420000.001, 1795420000.999, 1795420001.5, 1795420001.5, 1795420123.25):
        record = logging.makeLogRecord(
            {"name": "hub.ingress", "levelname": "INFO", "msg": "event %s", "args": ("e1",)}
        )
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert mine.format(record) == standard.format(record)


def test_buffered_lines_are_written_by_the_interval_warnings_at_once(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    with path.open("w") as stream:
        handler = PeriodicFlushHandler(stream, interval=0.3)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        log = logging.getLogger("hub.test.buffered")
        log.propagate, log.handlers = False, [handler]
        log.setLevel(logging.INFO)
        try:
            log.info("first")
            log.info("second")
            assert path.read_text() == ""  # held in the buffer, no write per line
            log.warning("trouble")  # flushes everything up to it at once
            assert path.read_text() == "INFO first\nINFO second\nWARNING trouble\n"
            log.info("later")
            deadline = time.monotonic() + 5
            while "later" not in path.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert path.read_text().endswith("INFO later\n")  # by the flusher thread
            log.info("last words")
        finally:
            handler.close()  # as logging.shutdown does at exit
        assert path.read_text().endswith("INFO last words\n")
        log.handlers = []


def test_a_stream_without_a_file_still_gets_every_line() -> None:
    stream = io.StringIO()  # as under a test runner's capture: no file descriptor
    handler = PeriodicFlushHandler(stream, interval=60)
    handler.setFormatter(logging.Formatter("%(message)s"))
    try:
        handler.handle(logging.makeLogRecord({"msg": "kept", "levelno": logging.INFO}))
    finally:
        handler.close()
    assert stream.getvalue() == "kept\n"
