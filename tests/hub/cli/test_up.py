"""`hub up` wires in a sandbox for each connector that has no real credentials."""

from __future__ import annotations

from typing import Any

from hub.cli.up import Embedded
from hub.connector.configure import from_values
from hub.core.settings import Settings


def _embedded(**env: Any) -> Embedded:
    """``hub up`` with connector settings ``env`` (environment names) and nothing else."""
    return Embedded(Settings(hub_redis_url="redis://127.0.0.1:1/0"), from_values(env))


def test_without_credentials_every_sandbox_is_wired_in() -> None:
    embedded = _embedded()
    assert [s.name for s in embedded.sandboxes()] == [
        "accounting",
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
    assert len(embedded.sandboxes()) == 4
