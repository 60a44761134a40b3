"""The terminal ``hub up`` writes to: whole lines from several threads, coloured on a TTY."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

import typer

__all__ = ["Console"]


class Console:
    """Writes lines to ``out`` one at a time; ``colour`` (default: when ``out`` is a
    terminal) lets :meth:`style` colour words."""

    def __init__(self, out: TextIO | None = None, *, colour: bool | None = None) -> None:
        self._out = out if out is not None else sys.stdout
        self._lock = threading.Lock()
        if colour is None:
            colour = bool(getattr(self._out, "isatty", lambda: False)())
        self.colour = colour

    def echo(self, line: str = "") -> None:
        """Write ``line`` and a newline, not interleaved with another thread's."""
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()

    def style(self, text: str, colour: str | None) -> str:
        """``text`` in ``colour`` (a click colour name) when colouring, else as it is."""
        if not self.colour or colour is None:
            return text
        return typer.style(text, fg=colour)
