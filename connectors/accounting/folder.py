"""The export folder on disk: its lock, its identity, safe names and durable writes.

- :func:`folder_lock`: an exclusive ``flock`` on ``<folder>/.lock`` for every process on
  the host (the kernel frees it when its holder dies, even by SIGKILL). It is waited
  for in short steps, up to ``wait`` seconds, then :class:`~hub.core.errors.LockBusy`
  re-schedules the step.
- :func:`ledger_id`: a random id kept in ``<folder>/.ledger-id``, so two folders never
  share an index even at the same path on two hosts, and a moved folder keeps its own.
- :func:`create_with`, :func:`append_line`: a new file appears whole (temp file, fsync,
  rename, fsync of the folder); a line is appended in one ``write`` and fsynced, and a
  failed write is cut back off.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hub.core import ConfigError, LockBusy, RetryableError

__all__ = [
    "append_line",
    "create_with",
    "folder_lock",
    "fsync_dir",
    "ledger_id",
    "safe_folder",
    "safe_name",
]

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]*$")


def safe_folder(base: Path, relative: str) -> Path:
    """``base/relative``, refusing absolute paths, ``..`` and odd characters."""
    parts = [p for p in relative.replace("\\", "/").split("/") if p not in ("", ".")]
    if relative.startswith("/") or not parts or not all(_SEGMENT.match(p) for p in parts):
        raise ConfigError(
            f"export folder {relative!r} must be a relative path of letters, digits, '.', '_' "
            "and '-' (it is placed under ACCOUNTING_EXPORT_DIR)"
        )
    return base.joinpath(*parts)


def safe_name(name: str) -> str:
    """``name`` if it is a plain file name (no folder, not hidden)."""
    if not _NAME.match(name) or len(name) > 200:
        raise ConfigError(
            f"export file name {name!r} must be letters, digits, '.', '_', '~' and '-' "
            "(at most 200), not starting with '.'"
        )
    return name


def fsync_dir(folder: Path) -> None:
    """Make the folder's entries (a new or renamed file) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def folder_lock(
    folder: Path,
    *,
    wait: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[None]:
    """Hold the folder's lock for the block; :class:`LockBusy` after ``wait`` seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = clock() + wait
        step = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if clock() >= deadline:
                    raise LockBusy(f"export folder {folder}", wait=0.5) from None
                sleep(step)
                step = min(step * 2, 0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def create_with(path: Path, content: bytes) -> None:
    """Create ``path`` holding ``content``, all at once (call with the folder lock held)."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    fsync_dir(path.parent)


def ledger_id(folder: Path) -> str:
    """The folder's id, made on first use (call with the folder lock held)."""
    marker = folder / ".ledger-id"
    try:
        return marker.read_text().strip()
    except FileNotFoundError:
        pass
    value = uuid.uuid4().hex
    create_with(marker, value.encode())
    return value


def append_line(path: Path, line: bytes) -> int:
    """Append ``line`` durably; the file's size after it. A failed write leaves no trace."""
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        before = os.fstat(fd).st_size
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(errno.EIO, f"short write: {written} of {len(line)} bytes")
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, before)
            os.fsync(fd)
            raise RetryableError(f"cannot write a row to {path}: {exc}") from exc
        size = before + written
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)
    return size
