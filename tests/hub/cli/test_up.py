"""`hub up` wires in a sandbox for each connector that has no real credentials."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hub.cli.local_hub import LocalHub, local_hub_file, write_local_hub
from hub.cli.up import Embedded
from hub.connector.configure import from_values
from hub.core.errors import ConfigError
from hub.core.settings import Settings


def _embedded(**env: Any) -> Embedded:
    """``hub up`` with connector settings ``env`` (environment names) and nothing else."""
    return Embedded(Settings(hub_redis_url="redis://127.0.0.1:1/0"), from_values(env))


def test_without_credentials_every_sandbox_is_wired_in() -> None:
    embedded = _embedded()
    assert [s.name for s in embedded.sandboxes()] == [
        "accounting",
        "http",
        "hubspot",
        "plane",
        "plutio",
        "plutora",
    ]
    env = embedded.environment()
    assert env["PLUTIO_BASE_URL"] == "http://127.0.0.1:9100"
    assert env["PLANE_BASE_URL"] == "http://127.0.0.1:9101"
    assert env["PLANE_API_KEY"] == "plane_api_sandbox"
    assert env["PLUTORA_AUTH_URL"] == "http://127.0.0.1:9102/oauth/token"
    assert env["PLUTORA_BASE_URL"] == "http://127.0.0.1:9102"
    assert env["ACCOUNTING_URL"] == "http://127.0.0.1:9103"
    assert env["HUBSPOT_BASE_URL"] == "http://127.0.0.1:9104"
    assert env["HTTP_REQUEST_SEND_TO"] == "http://127.0.0.1:9105"  # alerts stay local
    assert set(embedded.urls()) >= {
        "plutio sandbox",
        "plane sandbox",
        "plutora sandbox",
        "hubspot sandbox",
    }
    # each sandbox's own defaults accept the credentials wired in
    from connectors.hubspot.sandbox import HubSpotSandboxConfig
    from connectors.plane.sandbox import PlaneSandboxConfig
    from connectors.plutora.sandbox import PlutoraSandboxConfig

    assert env["PLANE_API_KEY"] in PlaneSandboxConfig().api_keys
    assert env["HUBSPOT_ACCESS_TOKEN"] in HubSpotSandboxConfig().tokens
    plutora = PlutoraSandboxConfig()
    assert plutora.users[env["PLUTORA_USERNAME"]] == env["PLUTORA_PASSWORD"]
    assert (plutora.client_id, plutora.client_secret) == (
        env["PLUTORA_CLIENT_ID"],
        env["PLUTORA_CLIENT_SECRET"],
    )


def test_a_sandbox_serves_on_its_port_setting_under_its_old_name() -> None:
    embedded = _embedded(HUB_SANDBOX_PORT="9200", HUB_PLANE_SANDBOX_PORT="9201")
    ports = {s.name: s.port for s in embedded.sandboxes()}
    assert (ports["plutio"], ports["plane"], ports["plutora"]) == (9200, 9201, 9102)
    assert embedded.environment()["PLUTIO_BASE_URL"] == "http://127.0.0.1:9200"


def test_a_configured_connector_talks_to_its_real_api() -> None:
    embedded = _embedded(
        PLANE_API_KEY="plane_api_real",
        PLANE_WORKSPACE_SLUG="acme",
        PLANE_BASE_URL="https://plane.example.com",
    )
    assert "plane" not in [s.name for s in embedded.sandboxes()]
    assert "plane sandbox" not in embedded.urls()
    assert embedded.environment().get("PLANE_BASE_URL") != "http://127.0.0.1:9101"
    assert len(embedded.sandboxes()) == 5
    # http.request goes to its real URLs only when told
    live = _embedded(HTTP_REQUEST_LIVE="true")
    assert "http" not in [s.name for s in live.sandboxes()]
    assert "HTTP_REQUEST_SEND_TO" not in live.environment()


def test_every_port_is_named_by_the_setting_that_moves_it() -> None:
    embedded = Embedded(Settings(hub_redis_url=None), from_values({}))
    settings = {p.part: p.setting for p in embedded.port_settings()}
    assert settings == {
        "redis": "HUB_EMBEDDED_REDIS_PORT",
        "accounting sandbox": "HUB_ACCOUNTING_SANDBOX_PORT",
        "http sandbox": "HUB_HTTP_SANDBOX_PORT",
        "hubspot sandbox": "HUB_HUBSPOT_SANDBOX_PORT",
        "plane sandbox": "HUB_PLANE_SANDBOX_PORT",
        "plutio sandbox": "HUB_SANDBOX_PORT",
        "plutora sandbox": "HUB_PLUTORA_SANDBOX_PORT",
        "ingress": "HUB_INGRESS_PORT",
        "flower": "HUB_FLOWER_PORT",
    }
    assert "redis" not in {p.part for p in _embedded().port_settings()}  # HUB_REDIS_URL set


def test_each_sandbox_s_port_setting_sets_its_port() -> None:
    for sandbox in _embedded().sandboxes():
        setting = sandbox.sandbox.port_setting
        assert setting is not None, sandbox.name
        moved = _embedded(**{setting: "19999"})
        assert {s.name: s.port for s in moved.sandboxes()}[sandbox.name] == 19999


def test_ports_of_zero_are_picked_and_used_everywhere() -> None:
    embedded = Embedded(
        Settings(hub_redis_url="redis://127.0.0.1:1/0", hub_ingress_port=0, hub_flower_port=0),
        from_values({"HUB_SANDBOX_PORT": "0"}),
    )
    embedded.prepare()
    urls = embedded.urls()
    for part in ("ingress", "flower", "plutio sandbox"):
        port = embedded.ports[part]
        assert port > 0 and urls[part].endswith(f":{port}")
    assert embedded.environment()["PLUTIO_BASE_URL"] == urls["plutio sandbox"]


def test_a_second_hub_up_from_the_same_data_folder_is_refused(tmp_path: Path) -> None:

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        hub = LocalHub("redis://127.0.0.1:1/0", "http://127.0.0.1:2", other.pid)
        write_local_hub(local_hub_file(tmp_path), hub)
        embedded = Embedded(Settings(hub_data_dir=tmp_path), from_values({}))
        with pytest.raises(ConfigError, match=f"already running from {tmp_path} \\(process"):
            embedded.prepare()
    finally:
        other.kill()
        other.wait()


def test_a_busy_port_stops_hub_up_in_one_line_before_anything_starts(tmp_path: Path) -> None:

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env.update(HUB_DATA_DIR=str(tmp_path / "data"), HUB_INGRESS_PORT=str(port))
        result = subprocess.run(
            [sys.executable, "-m", "hub", "up"],
            cwd=Path(__file__).resolve().parents[3],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: port {port} (ingress) is in use: stop what listens there, or set "
        "HUB_INGRESS_PORT to another port (0: any free one)"
    ]
    assert result.stdout == ""
    assert not (tmp_path / "data").exists()  # no Redis, no logs: nothing started


def test_hub_up_runs_its_processes_in_local_mode() -> None:
    # local trust is this flag, which only `hub up` sets, never the bind address
    assert _embedded().environment()["HUB_LOCAL_MODE"] == "true"
    assert Settings().hub_local_mode is False
