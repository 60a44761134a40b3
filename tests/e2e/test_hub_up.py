"""`hub up --demo` as an operator runs it: the readable view, the second terminal, no
personal data in any log file."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hub.cli.up import local_sandboxes
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
#: the runs the sample events start (a redelivery and a draft invoice start none)
DEMO_RUNS = 5


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a new terminal: no hub or connector variables."""
    prefixes = ("HUB_", "PLUTIO_", "PLANE_", "PLUTORA_", "ACCOUNTING_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, **extra}


def _sample_people() -> tuple[set[str], set[str]]:
    """The emails and the names of people in the sample events."""
    emails, names = set(), set()
    for path in (ROOT / "workflows" / "samples").glob("*.json"):
        data = json.loads(path.read_text())["body"].get("data") or {}
        for person in [data, *(data.get("contacts") or [])]:
            if person.get("email"):
                emails.add(person["email"].lower())
            names |= {person[k] for k in ("first_name", "last_name") if person.get(k)}
    return emails, names


@dataclass
class Terminal:
    """`hub up --demo` running in a folder of its own, its output as lines."""

    proc: subprocess.Popen[str]
    folder: Path
    #: in its own process group, as a terminal's foreground job
    group: bool = False
    lines: list[str] = field(default_factory=list)

    def ctrl_c(self) -> None:
        """What a terminal's Ctrl-C sends: SIGINT to the foreground process group."""
        if self.group:
            os.killpg(self.proc.pid, signal.SIGINT)
        else:
            self.proc.send_signal(signal.SIGINT)

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def run_lines(self) -> list[str]:
        return [line for line in self.lines if " hub runs show " in line]

    def succeeded(self) -> set[str]:
        """The ids of the runs shown as succeeded."""
        return {
            line.split(" hub runs show ")[1].split()[0]
            for line in self.run_lines()
            if " succeeded " in line
        }


@pytest.fixture(params=["text", "json"])
def hub_up(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Terminal]:
    """In a folder with the sample workflows, every port 0 (picked free), logs as given."""
    (tmp_path / "workflows").symlink_to(ROOT / "workflows")
    # every sandbox's port too: two of these run side by side under the test processes
    sandbox_ports = [s.sandbox.port_setting for s in local_sandboxes()]
    ports = {
        name: "0"
        for name in (
            "HUB_EMBEDDED_REDIS_PORT",
            "HUB_INGRESS_PORT",
            "HUB_FLOWER_PORT",
            *(name for name in sandbox_ports if name),
        )
    }
    # text: started as a shell's background job is, SIGINT ignored (inherited), and the
    # Ctrl-C at the end sent to it alone; json: in a terminal's foreground, its own
    # process group, which the Ctrl-C reaches whole (every process hub up started)
    background = request.param == "text"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "up", "--demo"],
        cwd=tmp_path,
        env=_clean_env(**ports, HUB_LOG_FORMAT=request.param),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if background else None,
        start_new_session=not background,
    )
    terminal = Terminal(proc, tmp_path, group=not background)
    reader = threading.Thread(target=terminal.read, daemon=True)
    reader.start()
    try:
        yield terminal
    finally:
        if proc.poll() is None:
            terminal.ctrl_c()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        reader.join(10)


def _second_terminal(folder: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *command],
        cwd=folder,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_hub_up_reads_like_a_product_and_logs_no_personal_data(hub_up: Terminal) -> None:
    def demo_done() -> bool:
        if hub_up.proc.poll() is not None:
            raise AssertionError("hub up stopped:\n" + "\n".join(hub_up.lines))
        return len(hub_up.succeeded()) >= DEMO_RUNS

    wait_for(demo_done, 240, "the demo's runs", interval=0.5)
    shown = "\n".join(hub_up.lines)
    logs = hub_up.folder / ".hub" / "logs"
    assert hub_up.lines[0] == "hub up: starting; the whole log of every process goes to .hub/logs/"
    for part in ("redis", "ingress", "flower", "plutio sandbox", "accounting sandbox"):
        assert re.search(rf"^  {part} +\S+:(\d+)", shown, re.M), part  # ports picked and shown
    # the two runs for ada@example.com take turns with the upsert's lock: one may wait for it
    outcomes = {re.split(r"\s{2,}", line)[3] for line in hub_up.run_lines()}
    assert outcomes <= {"succeeded", "waiting for a key", "waiting for quota"}, shown
    assert len(hub_up.succeeded()) == DEMO_RUNS, shown
    assert not re.search(r"\b(INFO|celery\.app\.trace|Task \S+ (received|succeeded))\b", shown)
    assert {p.name for p in logs.iterdir()} >= {"worker.log", "ingress.log", "redis.log"}

    # a second terminal in the same folder, no variables set
    for command in (["status"], ["runs"], ["dlq", "list"], ["quota"]):
        result = _second_terminal(hub_up.folder, *command)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
    status = _second_terminal(hub_up.folder, "status").stdout
    assert re.search(r"worker +\S+: celery@\S+ \(4 processes\)", status), status
    assert f"runs in the last hour: {DEMO_RUNS} succeeded" in status

    hub_up.ctrl_c()
    try:
        hub_up.proc.wait(60)
    except subprocess.TimeoutExpired:
        shown = "\n".join(hub_up.lines[-20:])
        raise AssertionError(f"hub up did not stop on Ctrl-C:\n{shown}") from None
    time.sleep(0.5)  # the reader's last lines
    stopping = hub_up.lines[hub_up.lines.index("stopping ...") :]
    assert stopping == ["stopping ...", "stopped."], "\n".join(stopping)  # no warnings
    assert not (hub_up.folder / ".hub" / "local.json").exists()
    emails, names = _sample_people()
    assert emails and names
    for path in logs.iterdir():
        text = path.read_text(errors="replace")
        assert "accepted" in text or path.name != "ingress.log"  # the lines are there
        found = [e for e in emails if e in text.lower()]
        found += [n for n in names if re.search(rf"\b{re.escape(n)}\b", text)]
        assert not found, f"{path.name} holds {found}"
