"""The command line's set-up: which commands log at HUB_LOG_LEVEL."""

from __future__ import annotations

from hub.cli.app import _log_level


def test_processes_log_at_the_level_set() -> None:
    for command in ("up", "worker", "serve", "flower", "beat", "sandbox", "test"):
        assert _log_level(command, "INFO") == "INFO"
        assert _log_level(command, "DEBUG") == "DEBUG"


def test_one_shot_commands_show_warnings_and_errors_only() -> None:
    for command in ("pause", "resume", "runs", "dlq", "quota", "status", "send", None):
        assert _log_level(command, "INFO") == "WARNING"
        assert _log_level(command, "debug") == "WARNING"
        assert _log_level(command, "ERROR") == "ERROR"
