"""`hub up`'s process output: every line to its file, each warning once to the terminal."""

from __future__ import annotations

import io
from pathlib import Path

from hub.cli.console import Console
from hub.cli.process_output import ProcessOutput

STAMP = "2026-12-03 09:21:18,976"
WARNING = f"{STAMP} WARNING hub.ingress: source plane accepts deliveries without authentication"
WORKER = [
    " -------------- celery@vm v5.7.0 (collider)",
    f"{STAMP} INFO celery.apps.worker: celery@vm ready.",
    WARNING,
    WARNING,
]


def _follow(output: ProcessOutput, name: str, lines: list[str]) -> None:
    stream = io.BytesIO("".join(f"{line}\n" for line in lines).encode())
    output.follow(name, stream).join(10)


def test_every_line_goes_to_the_process_s_file(tmp_path: Path) -> None:
    out = io.StringIO()
    output = ProcessOutput(tmp_path / "logs", Console(out), clock=lambda: 0.0)
    _follow(output, "worker", WORKER)
    assert output.log_file("worker").read_text().splitlines() == WORKER
    assert output.log_file("worker") == tmp_path / "logs" / "worker.log"


def test_the_terminal_shows_each_warning_once_whoever_says_it(tmp_path: Path) -> None:
    out = io.StringIO()
    output = ProcessOutput(tmp_path, Console(out, colour=False), clock=lambda: 0.0)
    _follow(output, "worker", WORKER)
    _follow(output, "ingress", [WARNING, f"{STAMP} ERROR hub.ingress: Redis refused an event"])
    shown = out.getvalue().splitlines()
    assert len(shown) == 2
    assert shown[0].endswith(
        "  warning    worker: source plane accepts deliveries without authentication"
    )
    assert shown[1].endswith("  error      ingress: Redis refused an event")


def test_verbose_streams_every_line_with_its_process_s_name(tmp_path: Path) -> None:
    out = io.StringIO()
    output = ProcessOutput(tmp_path, Console(out), verbose=True)
    _follow(output, "worker", WORKER)
    assert out.getvalue().splitlines() == [f"[ worker] {line}" for line in WORKER]
    assert output.log_file("worker").read_text().splitlines() == WORKER
