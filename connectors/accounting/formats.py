"""The two file formats: CSV (a header line, then one line per row) and JSON Lines.

Each row is exactly one line ending in ``\\n``: CSV cells never hold a line break (one
is written as a space) and JSON escapes them. So a file is valid up to its last
newline, and anything after it is a row cut short by a crash.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from connectors.accounting.columns import Row

__all__ = ["CSV", "FORMATS", "JSONL", "FileFormat", "FormatName"]

FormatName = Literal["csv", "jsonl"]


def _one_line(value: str | None) -> str:
    if value is None:
        return ""
    return value.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


@dataclass(frozen=True)
class FileFormat:
    """How rows become lines in one kind of file."""

    name: FormatName
    ext: str
    has_header: bool

    def header(self, columns: Sequence[str]) -> bytes:
        """The first line of a new file (CSV only)."""
        return self._csv_line(list(columns))

    def parse_header(self, line: bytes) -> list[str]:
        return next(csv.reader([line.decode("utf-8")]))

    def encode(self, columns: Sequence[str], row: Row) -> bytes:
        """One line for ``row``, cells in ``columns`` order."""
        if self.name == "csv":
            return self._csv_line([_one_line(row.get(c)) for c in columns])
        cells = {c: row.get(c) for c in columns}
        return (json.dumps(cells, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    def decode(self, line: bytes, header: Sequence[str] | None) -> Row:
        """The cells of one complete line (``header``: a CSV file's columns)."""
        text = line.decode("utf-8")
        if self.name == "csv":
            cells = next(csv.reader([text]))
            if header is None or len(cells) != len(header):
                raise ValueError(f"{len(cells)} cells where the header names {len(header or [])}")
            return dict(zip(header, cells, strict=True))
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("a JSON Lines row must be an object")
        return {str(k): None if v is None else str(v) for k, v in value.items()}

    @staticmethod
    def _csv_line(cells: list[str]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(cells)
        return buffer.getvalue().encode("utf-8")


CSV = FileFormat("csv", "csv", has_header=True)
JSONL = FileFormat("jsonl", "jsonl", has_header=False)
FORMATS: dict[str, FileFormat] = {"csv": CSV, "jsonl": JSONL}
