"""The file sink: rows appended to CSV and JSON Lines files, each export key once.

Writing one row, under the folder's lock (:func:`~connectors.accounting.folder.folder_lock`):

1. **Catch up**: every file of the format is compared with the offset its index holds;
   rows past it (written by a process that died before it recorded them, or left
   unindexed when Redis lost its last writes or all its data) are read into the index,
   and a last line without its newline (a write cut short) is cut off. A file smaller
   than its offset was rewritten by hand: that format's index is rebuilt from every file.
2. **Check**: the key already written, a stale revision, a removed record, a reversal
   with nothing to reverse: skip, with a log line saying why.
3. **Write**: the row, carrying its ``export_key``, is appended in one write and fsynced;
   only then is the key (with the row and the file's new offset) recorded in the index.

A crash after step 3's fsync and before its record leaves a row the index lacks; the
next writer's catch-up finds it before checking, so a redelivered event finds its key
and writes no second row. Rows go to ``<name>.csv``/``<name>.jsonl`` in the folder,
where ``{day}`` (``2024-03-01``) and ``{month}`` in the name are the UTC export date; a
CSV whose header differs from the columns (a changed mapping) is continued in
``<name>~2.csv`` and so on. A folder is one ledger: its files, subfolders included (move
old files to ``archive/``, not away), hold each export key once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from connectors.accounting.columns import SYSTEM_COLUMNS, Row
from connectors.accounting.folder import (
    append_line,
    create_with,
    folder_lock,
    ledger_id,
    safe_name,
)
from connectors.accounting.formats import FileFormat
from connectors.accounting.index import LedgerIndex
from connectors.accounting.ledger import Entry, RecordState, parse_key, reversal_row, skip_reason
from hub.core import FatalError, RetryableError

__all__ = ["BATCH", "FileSink", "FileTarget", "Outcome", "iso_now"]

log = logging.getLogger("hub.connectors.accounting")

#: rows indexed per Redis transaction while catching up
BATCH = 1000
_MAX_SPLITS = 100


def iso_now(moment: datetime) -> str:
    """``2024-03-01T10:00:00.000Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class FileTarget:
    """Where rows go: a folder, a file name pattern, the formats."""

    folder: Path
    name: str
    formats: tuple[FileFormat, ...]


@dataclass(frozen=True)
class Outcome:
    """What one sink did with a row: written (where), or skipped (why)."""

    sink: str
    written: bool
    reason: str | None = None
    location: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


AfterAppend = Callable[[Path, Entry], None]


class FileSink:
    """Appends rows to the files of a :class:`FileTarget`, each export key once."""

    def __init__(
        self,
        redis: Any,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        lock_wait: float = 10.0,
        after_append: AfterAppend | None = None,
    ) -> None:
        self._redis = redis
        self._now = now
        self._lock_wait = lock_wait
        self._after_append = after_append

    def write(
        self, target: FileTarget, key: str, columns: Sequence[str], row: Row, amounts: set[str]
    ) -> list[Outcome]:
        """Write the row with ``key`` in every format (a reversal's cells come from the
        last exported row, its ``amounts`` negated); one outcome per format.

        Redis unreachable is retriable: the retry's catch-up finds what was written.
        """
        clash = set(columns) & set(SYSTEM_COLUMNS)
        if clash:
            raise FatalError(f"columns {sorted(clash)} are written by the sink; rename them")
        try:
            with folder_lock(target.folder, wait=self._lock_wait):
                lid = ledger_id(target.folder)
                exported_at = iso_now(self._now())
                return [
                    self._write_one(target, fmt, lid, key, list(columns), row, amounts, exported_at)
                    for fmt in target.formats
                ]
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise RetryableError(f"Redis unreachable while exporting {key}: {exc}") from exc

    def _write_one(
        self,
        target: FileTarget,
        fmt: FileFormat,
        lid: str,
        key: str,
        columns: list[str],
        row: Row,
        amounts: set[str],
        exported_at: str,
    ) -> Outcome:
        index = LedgerIndex(self._redis, f"{lid}:{fmt.name}")
        self.catch_up(target.folder, fmt, index)
        record_id, entry_type, _ = parse_key(key)
        state = index.state(record_id)
        reason = skip_reason(state, key, written=index.written(key))
        if reason is not None:
            log.info("accounting %s %s: skip: %s", fmt.name, target.folder, reason)
            return Outcome(fmt.name, False, reason=reason)
        cells = row
        if entry_type == "reversal":
            cells = reversal_row(state or RecordState(), columns, amounts)
        full: Row = {
            **cells,
            "entry_type": entry_type,
            "export_key": key,
            "exported_at": exported_at,
        }
        all_columns = [*columns, *SYSTEM_COLUMNS]
        path = self._file_for(target, fmt, all_columns)
        size = append_line(path, fmt.encode(all_columns, full))
        entry = Entry(key, full)
        if self._after_append is not None:
            self._after_append(path, entry)
        index.commit([entry], {_name(target.folder, path): size})
        log.info("accounting %s: wrote %s to %s", fmt.name, key, path)
        return Outcome(fmt.name, True, location=str(path))

    def _file_for(self, target: FileTarget, fmt: FileFormat, columns: list[str]) -> Path:
        moment = self._now().astimezone(UTC)
        base = target.name.replace("{day}", moment.strftime("%Y-%m-%d"))
        base = safe_name(base.replace("{month}", moment.strftime("%Y-%m")))
        for n in range(1, _MAX_SPLITS + 1):
            suffix = "" if n == 1 else f"~{n}"
            path = target.folder / f"{base}{suffix}.{fmt.ext}"
            if not fmt.has_header:
                return path
            if not path.exists():
                create_with(path, fmt.header(columns))
                return path
            with path.open("rb") as handle:
                if fmt.parse_header(handle.readline()) == columns:
                    return path
        raise FatalError(
            f"{target.folder}: {_MAX_SPLITS} files named {base}~N.csv have other columns"
        )

    def catch_up(self, folder: Path, fmt: FileFormat, index: LedgerIndex) -> int:
        """Index the rows past each file's offset; how many rows that was."""
        known = index.offsets()
        files = _ledger_files(folder, fmt)
        if any(p.stat().st_size < known.get(_name(folder, p), 0) for p in files):
            log.warning("accounting %s %s: a file shrank; rebuilding its index", fmt.name, folder)
            index.clear()
            known = {}
        found = 0
        for path in files:
            name = _name(folder, path)
            offset = known.get(name, 0)
            if path.stat().st_size == offset:
                continue
            for entries, end in _scan(path, offset, fmt):
                index.commit(entries, {name: end})
                found += len(entries)
        if found:
            log.warning(
                "accounting %s %s: indexed %d row(s) found in the files", fmt.name, folder, found
            )
        return found


def _ledger_files(folder: Path, fmt: FileFormat) -> list[Path]:
    """The format's files in the folder and its subfolders (an ``archive/`` stays part of
    the ledger), hidden names left out."""
    found = []
    for path in folder.rglob(f"*.{fmt.ext}"):
        parts = path.relative_to(folder).parts
        if path.is_file() and not any(part.startswith(".") for part in parts):
            found.append(path)
    return sorted(found)


def _name(folder: Path, path: Path) -> str:
    return path.relative_to(folder).as_posix()


def _scan(path: Path, offset: int, fmt: FileFormat) -> Iterator[tuple[list[Entry], int]]:
    """Batches of the complete rows after ``offset``, with the offset after each batch.

    A last line without its newline is cut off the file (the lock holder is the only
    writer, so it is a write that died half way).
    """
    with path.open("rb") as handle:
        header: list[str] | None = None
        if fmt.has_header:
            first = handle.readline()
            if not first.endswith(b"\n"):
                raise FatalError(f"{path}: the header line is incomplete; move the file away")
            header = fmt.parse_header(first)
            offset = max(offset, len(first))
        handle.seek(offset)
        position, batch = offset, []
        for line in handle:
            if not line.endswith(b"\n"):
                log.warning(
                    "accounting: %s ends in a partial row (%d bytes); cutting it off",
                    path,
                    len(line),
                )
                _cut(path, position)
                break
            batch.append(_entry(path, position, line[:-1], fmt, header))
            position += len(line)
            if len(batch) >= BATCH:
                yield batch, position
                batch = []
        yield batch, position


def _cut(path: Path, size: int) -> None:
    """Cut ``path`` back to ``size`` bytes, durably."""
    try:
        with path.open("r+b") as handle:
            handle.truncate(size)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise FatalError(f"{path} ends in a partial row that cannot be cut off: {exc}") from exc


def _entry(
    path: Path, position: int, line: bytes, fmt: FileFormat, header: list[str] | None
) -> Entry:
    try:
        row = fmt.decode(line, header)
        key = row.get("export_key")
        if not key:
            raise ValueError("no export_key")
        parse_key(key)
    except ValueError as exc:
        raise FatalError(
            f"{path} at byte {position}: not a row this sink wrote ({exc}); fix or move the file"
        ) from None
    return Entry(key, row)
