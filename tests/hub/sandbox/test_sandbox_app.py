from __future__ import annotations

from starlette.routing import Route

from hub.sandbox.app import SandboxConfig, build_core, sandbox_app
from hub.sandbox.clock import FakeClock
from hub.sandbox.records import Naming


class ThingConfig(SandboxConfig):
    quota_limit: int = 7


def test_core_and_app_from_a_config() -> None:
    config = ThingConfig(
        error_rate=0.25, random_seed=4, initial_data={"things": [{"id": "t1", "n": 1}]}
    )
    core = build_core(
        config,
        resources={"things"},
        default_namespace="ns",
        clock=FakeClock(),
        token_ttl_seconds=90,
        accept=Naming().take,
    )
    assert (core.quota.limit, core.quota.window) == (7, 3600)
    assert core.faults.snapshot()["error_rate"] == 0.25
    assert core.tokens.ttl_seconds == 90
    assert core.store.get("ns", "things", "t1") is not None  # seeded under the store's _id
    core.store.clear()
    core.reset()
    assert core.store.get("ns", "things", "t1") is not None  # and again on reset
    app = sandbox_app(core, config, [Route("/", lambda request: None)])
    assert app.state.sandbox is core and app.state.config is config
