from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path

from hub.core.logs import (
    JsonFormatter,
    PeriodicFlushHandler,
    TaskDataFilter,
    TextFormatter,
    configure_logging,
)


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


def _celery_line(logger: str, fmt: str, context: dict[str, object]) -> logging.LogRecord:
    """A record as Celery logs a task line: the format, its context, and ``data``."""
    log = logging.getLogger(logger)
    extra = {"data": context}
    return log.makeRecord(logger, logging.INFO, __file__, 1, fmt, (context,), None, extra=extra)


CONTEXT = {"event": {"data": {"first_name": "Ada", "email": "ada@example.com"}}}


def test_celery_success_lines_lose_the_return_value_and_arguments() -> None:
    from celery.app.trace import LOG_SUCCESS

    context = {
        "id": "t1",
        "name": "crm-contact.person",
        "return_value": repr(CONTEXT),
        "runtime": 0.25,
        "args": repr((CONTEXT,)),
        "kwargs": "{'item': {'email': 'ada@example.com'}}",
    }
    for formatter in (TextFormatter(), JsonFormatter()):
        record = _celery_line("celery.app.trace", LOG_SUCCESS, dict(context))
        assert TaskDataFilter().filter(record)
        line = formatter.format(record)
        assert "ada@example.com" not in line and "Ada" not in line
        assert "Task crm-contact.person[t1] succeeded in 0.25s" in line
    assert json.loads(line)["data"] == {"id": "t1", "name": "crm-contact.person", "runtime": 0.25}


def test_celery_received_and_failed_lines_keep_ids_and_the_error() -> None:
    from celery.app.trace import LOG_FAILURE, LOG_RECEIVED

    received = {"id": "t1", "name": "wf.step", "args": repr((CONTEXT,)), "kwargs": "{}"}
    failed = {**received, "exc": "FatalError('400 refused')", "description": "raised unexpected"}
    for logger, fmt, context in (
        ("celery.worker.strategy", LOG_RECEIVED, received),
        ("celery.app.trace", LOG_FAILURE, failed),
    ):
        record = _celery_line(logger, fmt, dict(context))
        TaskDataFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))
        assert "ada@example.com" not in json.dumps(line)
        assert line["msg"].startswith("Task wf.step[t1]")
    assert line["msg"].endswith("raised unexpected: FatalError")  # its text is cut


def test_other_lines_pass_the_filter_as_they_are() -> None:
    record = logging.makeLogRecord(
        {"name": "hub.workflow", "msg": "%(args)s", "args": {"args": "kept"}}
    )
    assert TaskDataFilter().filter(record)
    assert record.getMessage() == "kept"


def test_every_configured_handler_filters_task_data() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("json", "INFO")
        assert any(isinstance(f, TaskDataFilter) for f in root.handlers[0].filters)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_celery_lines_name_an_upstream_refusal_without_its_text() -> None:
    from celery.app.trace import LOG_FAILURE, LOG_RETRY

    from hub.core import FatalError, RetryableError

    refusal = FatalError("400 email ada@example.com is taken", status=400)
    failed = {
        "id": "t1",
        "name": "wf.step",
        "exc": repr(refusal),
        "traceback": f"Traceback ...\nFatalError: {refusal}",
        "description": "raised unexpected",
    }
    record = _celery_line("celery.app.trace", LOG_FAILURE, dict(failed))
    record.exc_info = (FatalError, refusal, None)
    TaskDataFilter().filter(record)
    for formatter in (TextFormatter(), JsonFormatter()):
        line = formatter.format(record)
        assert "ada@example.com" not in line
    assert record.getMessage() == "Task wf.step[t1] raised unexpected: FatalError (HTTP 400)"

    # a retry line has no exc_info: the repr inside Celery's Retry text is cut to its class
    busy = RetryableError("503 ada@example.com busy", status=503)
    retried = {"id": "t2", "name": "wf.step", "exc": f"Retry in 3s: {busy!r}"}
    record = _celery_line("celery.app.trace", LOG_RETRY, dict(retried))
    TaskDataFilter().filter(record)
    assert record.getMessage() == "Task wf.step[t2] retry: Retry in 3s: RetryableError"


def test_celery_lines_keep_a_bugs_text_and_traceback() -> None:
    from celery.app.trace import LOG_FAILURE

    bug = KeyError("steps")
    failed = {"id": "t1", "name": "wf.step", "exc": repr(bug), "description": "raised"}
    record = _celery_line("celery.app.trace", LOG_FAILURE, dict(failed))
    record.exc_info = (KeyError, bug, None)
    TaskDataFilter().filter(record)
    assert record.getMessage() == "Task wf.step[t1] raised: KeyError('steps')"
    assert record.exc_info is not None
