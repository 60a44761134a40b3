"""A connector added by installing a distribution, with nothing under ``hub/`` touched.

The tiny ``memo`` connector (:mod:`.example_connector`) is written into a temporary folder
as an installed distribution: its package and a ``*.dist-info`` registering it under the
``hub.connectors`` entry-point group. Each ``hub`` command runs in a process of its own
with that folder on ``PYTHONPATH``, so the connector is found the way a ``pip install``ed
one is: through the entry points. It then shows in ``hub operations`` and ``hub settings``,
``hub sandbox memo`` serves its sandbox on its port setting, and a ``hub test`` case calls
it against that sandbox; ``hub up`` would start that sandbox too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import httpx
import pytest

from hub.core.redis_server import free_port

from .example_connector import install

WORKFLOW = """\
name: memo-note
trigger: { webhook: { source: app, event: note.added } }
steps:
  - id: note
    uses: memo.notes.create
    with: { text: "{{ event.text }}" }
  - id: notes
    uses: memo.notes.list
"""

TESTS = """\
cases:
  - name: the note is written to the memo sandbox
    given:
      memo:
        notes: [ { text: first }, { text: second } ]
    event: { type: note.added, body: { text: hello } }
    expect:
      status: succeeded
      steps: { note: { text: hello } }
      upstream: { memo: { notes: { count: 3, contains: [ { text: hello } ] } } }
      calls: { memo: { "POST /notes": 1, "GET /notes": 2 } }
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the distribution is installed in."""
    return install(tmp_path_factory.mktemp("site"))


def _env(site: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMO_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH")) if p)
    return {**env, **extra}


def _hub(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=cwd,
        env=_env(site),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_installed_connector_is_in_hub_operations(site: Path, tmp_path: Path) -> None:
    listed = _hub(site, tmp_path, "operations")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert any(
        line.split() == ["memo.notes.create", "Write", "a", "memo", "note."] for line in lines
    )
    assert any(line.startswith("memo.notes.list ") for line in lines)
    assert any(line.startswith("plutio.people.create ") for line in lines)  # beside the rest


def test_its_settings_are_in_hub_settings(site: Path, tmp_path: Path) -> None:
    shown = _hub(site, tmp_path, "settings")
    assert shown.returncode == 0, shown.stderr
    assert "| `MEMO_API_KEY` | (unset) | Memo API key. |" in shown.stdout
    assert "| `MEMO_QUOTA_LIMIT` | `100` | Memo calls per window. |" in shown.stdout
    # after the hub's own settings
    assert shown.stdout.index("`HUB_REDIS_URL`") < shown.stdout.index("`MEMO_BASE_URL`")


@pytest.fixture
def served(site: Path, tmp_path: Path) -> Iterator[str]:
    """``hub sandbox memo`` in a process of its own, on its port setting."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "sandbox", "memo"],
        cwd=tmp_path,
        env=_env(site, MEMO_SANDBOX_PORT=str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"hub sandbox memo exited: {proc.stderr.read() if proc.stderr else ''}"
                )
            try:
                httpx.get(f"{url}/_sandbox/calls", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def test_hub_sandbox_serves_it_on_its_port_setting(served: str) -> None:
    key = {"X-Memo-Key": "memo-sandbox-key"}
    assert httpx.get(f"{served}/notes").status_code == 401
    created = httpx.post(f"{served}/notes", json={"text": "hi"}, headers=key)
    assert created.status_code == 200 and created.json()["text"] == "hi"
    assert [n["text"] for n in httpx.get(f"{served}/notes", headers=key).json()] == ["hi"]


def test_hub_up_would_start_its_sandbox_and_point_the_connector_at_it(
    site: Path, tmp_path: Path
) -> None:
    script = (
        "from hub.cli.up import local_sandboxes\n"
        "for s in local_sandboxes():\n"
        "    print(s.name, s.port, sorted(s.env().items()))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=_env(site, MEMO_SANDBOX_PORT="9345"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    [memo] = [line for line in shown.stdout.splitlines() if line.startswith("memo ")]
    expected = [("MEMO_API_KEY", "memo-sandbox-key"), ("MEMO_BASE_URL", "http://127.0.0.1:9345")]
    assert memo == f"memo 9345 {expected}"


def test_a_hub_test_case_calls_it_against_its_sandbox(site: Path, tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "memo-note.yaml").write_text(dedent(WORKFLOW))
    (folder / "memo-note.test.yaml").write_text(dedent(TESTS))
    ran = _hub(site, tmp_path, "test", str(folder))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.splitlines()[-2:] == [
        f"PASS  {folder / 'memo-note.test.yaml'}:2  the note is written to the memo sandbox",
        "1 passed, 0 failed",
    ]
