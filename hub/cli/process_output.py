"""Where the output of ``hub up``'s processes goes: a log file each, and the terminal.

Every line a process prints goes to ``<folder>/<name>.log`` (started afresh by each
``hub up``). The terminal gets the warnings and errors among them, each once however
often or by however many processes it is said (:mod:`hub.cli.log_lines`), or, with
``verbose``, every line as it comes, prefixed with the process's name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from hub.cli.console import Console
from hub.cli.log_lines import LineReader, Notice

__all__ = ["ProcessOutput"]

_LEVEL_COLOURS = {"warning": "yellow", "error": "red"}


class ProcessOutput:
    """The log files in ``folder``, and what of them ``console`` shows."""

    def __init__(
        self,
        folder: Path,
        console: Console,
        *,
        verbose: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.folder = folder
        self._console = console
        self._verbose = verbose
        self._clock = clock
        self._shown: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def log_file(self, name: str) -> Path:
        """The file process ``name`` writes to."""
        return self.folder / f"{name}.log"

    def follow(self, name: str, stream: IO[bytes]) -> threading.Thread:
        """Copy ``stream`` (process ``name``'s output) to its file and the terminal, in a
        thread, until the stream ends."""
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.log_file(name).open("wb")
        thread = threading.Thread(
            target=self._copy, args=(name, stream, log), name=f"output-{name}", daemon=True
        )
        thread.start()
        return thread

    def _copy(self, name: str, stream: IO[bytes], log: IO[bytes]) -> None:
        reader = LineReader()
        with log:
            for raw in iter(stream.readline, b""):
                log.write(raw)
                log.flush()
                self.line(name, raw.decode(errors="replace").rstrip("\r\n"), reader)
        self.show(name, reader.close())

    def line(self, name: str, text: str, reader: LineReader) -> None:
        """Show ``text``, a line of process ``name`` read through its ``reader``, as the
        terminal should."""
        if self._verbose:
            self._console.echo(f"[{name:>7}] {text}")
            return
        self.show(name, reader.read(text))

    def show(self, name: str, notices: list[Notice]) -> None:
        """Show each of ``notices`` of process ``name`` not shown before."""
        for notice in notices:
            if self._first(notice):
                self._console.echo(self._format(name, notice))

    def _first(self, notice: Notice) -> bool:
        key = (notice.level, notice.message)
        with self._lock:
            if key in self._shown:
                return False
            self._shown.add(key)
            return True

    def _format(self, name: str, notice: Notice) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self._clock()))
        level = self._console.style(f"{notice.level:<9}", _LEVEL_COLOURS.get(notice.level))
        return f"{stamp}  {level}  {name}: {notice.message}"
