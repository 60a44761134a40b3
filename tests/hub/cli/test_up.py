"""`hub up` wires in a sandbox for each connector that has no real credentials."""

from __future__ import annotations

from pydantic import SecretStr

from hub.cli.up import SANDBOXES, Embedded
from hub.core.settings import Settings


def _embedded(**values: object) -> Embedded:
    return Embedded(Settings(hub_redis_url="redis://127.0.0.1:1/0", **values))  # type: ignore[arg-type]


def test_without_credentials_every_sandbox_is_wired_in() -> None:
    embedded = _embedded(
        plutio_client_id=None, plane_api_key=None, plutora_client_id=None, accounting_url=None
    )
    assert [s.name for s in embedded.sandboxes()] == ["plutio", "plane", "plutora", "accounting"]
    env = embedded.environment()
    assert env["PLUTIO_BASE_URL"] == "http://127.0.0.1:9100"
    assert env["PLANE_BASE_URL"] == "http://127.0.0.1:9101"
    assert env["PLANE_API_KEY"] == "plane_api_sandbox"
    assert env["PLUTORA_AUTH_URL"] == "http://127.0.0.1:9102/oauth/token"
    assert env["PLUTORA_BASE_URL"] == "http://127.0.0.1:9102"
    assert env["ACCOUNTING_URL"] == "http://127.0.0.1:9103"
    assert set(embedded.urls()) >= {"plutio sandbox", "plane sandbox", "plutora sandbox"}
    # each sandbox's own defaults accept the credentials wired in
    from connectors.plane.sandbox import PlaneSandboxConfig
    from connectors.plutora.sandbox import PlutoraSandboxConfig

    assert env["PLANE_API_KEY"] in PlaneSandboxConfig().api_keys
    plutora = PlutoraSandboxConfig()
    assert plutora.users[env["PLUTORA_USERNAME"]] == env["PLUTORA_PASSWORD"]
    assert (plutora.client_id, plutora.client_secret) == (
        env["PLUTORA_CLIENT_ID"],
        env["PLUTORA_CLIENT_SECRET"],
    )


def test_a_configured_connector_talks_to_its_real_api() -> None:
    embedded = _embedded(
        plane_api_key=SecretStr("plane_api_real"),
        plane_workspace_slug="acme",
        plane_base_url="https://plane.example.com",
        plutio_client_id=None,
        plutora_client_id=None,
    )
    assert "plane" not in [s.name for s in embedded.sandboxes()]
    assert "plane sandbox" not in embedded.urls()
    assert embedded.environment().get("PLANE_BASE_URL") != "http://127.0.0.1:9101"
    assert len(SANDBOXES) == 4


def test_hub_up_runs_its_processes_in_local_mode() -> None:
    # local trust is this flag, which only `hub up` sets, never the bind address
    assert _embedded().environment()["HUB_LOCAL_MODE"] == "true"
    assert Settings().hub_local_mode is False
