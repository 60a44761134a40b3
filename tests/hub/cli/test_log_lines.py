"""Which lines of a process's output `hub up` shows: warnings and errors, not run chatter."""

from __future__ import annotations

import json

from hub.cli.log_lines import LineReader, Notice

STAMP = "2026-12-03 09:21:18,976"
RUN = "c7147c214287cb7494f646aba72830c2"


def _notices(*lines: str) -> list[Notice]:
    reader = LineReader()
    found = [notice for line in lines for notice in reader.read(line)]
    return found + reader.close()


def test_text_records_at_warning_and_above_are_notices() -> None:
    assert _notices(
        f"{STAMP} INFO hub.beat: beat: Starting",
        f"{STAMP} WARNING hub.ingress: source plane accepts deliveries without authentication",
        f"{STAMP} CRITICAL hub.worker: the end",
    ) == [
        Notice("warning", "hub.ingress", "source plane accepts deliveries without authentication"),
        Notice("error", "hub.worker", "the end"),
    ]


def test_json_records_alike() -> None:
    line = {"ts": "t", "level": "error", "logger": "hub.poll", "msg": "poll x: giving up"}
    info = {**line, "level": "info"}
    assert _notices(json.dumps(info), json.dumps(line)) == [
        Notice("error", "hub.poll", "poll x: giving up")
    ]


def test_lines_about_a_run_are_left_to_the_run_view() -> None:
    assert not _notices(
        f"{STAMP} WARNING hub.transitions: run {RUN} crm@abc failed",
        f"{STAMP} ERROR celery.app.trace: Task crm.person[t1] raised unexpected: FatalError()",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "hub.core.errors.FatalError: 400 refused",
        f"{STAMP} ERROR hub.worker: crm.person run {RUN} failed for good: 400 refused",
        json.dumps({"level": "warning", "msg": "run failed", "run_id": RUN}),
    )


def test_a_logged_exception_shows_once_its_traceback_does_not() -> None:
    assert _notices(
        f"{STAMP} ERROR hub.ingress: unexpected error on POST /hooks/crm",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "ValueError: a",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "x.py", line 2, in <module>',
        "KeyError: 'b'",
    ) == [Notice("error", "hub.ingress", "unexpected error on POST /hooks/crm")]


def test_a_crash_shows_its_exception_line() -> None:
    assert _notices(
        "Traceback (most recent call last):",
        '  File "hub/__main__.py", line 5, in <module>',
        "OSError: [Errno 98] Address already in use",
    ) == [Notice("error", "", "OSError: [Errno 98] Address already in use")]


def test_stopping_is_no_error() -> None:
    assert not _notices(
        "Exception ignored in: <module 'threading'>",
        "Traceback (most recent call last):",
        '  File "flower/command.py", line 27, in sigterm_handler',
        "SystemExit: 0",
        "Traceback (most recent call last):",
        '  File "hub/__main__.py", line 5, in <module>',
        "KeyboardInterrupt",
    )


def test_a_python_warning_reads_to_its_end() -> None:
    assert _notices(
        "/v/celery/platforms.py:893: SecurityWarning: You're running the worker with "
        "superuser privileges: this is",
        "absolutely not recommended!",
        "",
        "Please specify a different user using the --uid option.",
        "  _warn_or_raise_security_error(egid, euid, gid, uid,",
        f"{STAMP} INFO celery.apps.worker: celery@vm ready.",
        "/v/x.py:3: DeprecationWarning: old",
        f"{STAMP} WARNING hub.beat: nothing will fire",
    ) == [
        Notice(
            "warning",
            "SecurityWarning",
            "You're running the worker with superuser privileges: this is absolutely not "
            "recommended!",
        ),
        Notice("warning", "DeprecationWarning", "old"),
        Notice("warning", "hub.beat", "nothing will fire"),
    ]


def test_a_command_s_refusal_to_start_is_a_notice() -> None:
    assert _notices("error: cannot start the ingress:", "warning: no fsync") == [
        Notice("error", "", "cannot start the ingress:"),
        Notice("warning", "", "no fsync"),
    ]


def test_banners_and_info_are_not() -> None:
    assert not _notices(
        "celery beat v5.7.0 (collider) is starting.",
        " -------------- celery@vm v5.7.0 (collider)",
        "[tasks]",
        "  . hub.step",
        f"{STAMP} INFO uvicorn.error: Uvicorn running on http://127.0.0.1:8000",
    )
