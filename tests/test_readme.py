"""README stays true: its commands exist, its settings table is complete, and its sandbox
endpoints and fault fields are the routes and fields there are."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import get_args

from starlette.routing import BaseRoute, Mount, Route

from hub.connector.registry import sandboxes, settings_classes
from hub.core.env_settings import env_names
from hub.core.settings_doc import settings_table
from hub.intake.presets import all_presets
from hub.intake.sources import Scheme
from hub.sandbox.faults import FaultConfig

ROOT = Path(__file__).resolve().parent.parent


def test_settings_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    table = settings_table(settings_classes())
    assert table in readme, "README's settings table is stale: run `hub settings`"
    for settings_cls in settings_classes():
        for name in env_names(settings_cls):
            assert f"`{name}`" in readme


def test_ci_runs_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "deploy/dev test" in readme
    assert "deploy/dev test" in ci


def test_dev_script_is_valid_bash() -> None:
    result = subprocess.run(["bash", "-n", str(ROOT / "deploy" / "dev")], capture_output=True)
    assert result.returncode == 0, result.stderr


def _first_cells(readme: str, marker: str) -> set[str]:
    """The first column of the table between ``<!-- marker -->`` and its end, unquoted."""
    table = readme.split(f"<!-- {marker} -->", 1)[1].split(f"<!-- /{marker} -->", 1)[0]
    rows = [line for line in table.strip().splitlines()[2:] if line.startswith("|")]
    return {re.sub(r"^\| `([^`]+)` \|.*$", r"\1", row) for row in rows}


def _control_endpoints(routes: Iterable[BaseRoute], prefix: str = "") -> set[str]:
    found = set()
    for route in routes:
        if isinstance(route, Mount):
            found |= _control_endpoints(route.routes, prefix + route.path)
        elif isinstance(route, Route) and (prefix + route.path).startswith("/_sandbox/"):
            methods = sorted(set(route.methods or ()) - {"HEAD"})
            found |= {f"{method} {prefix}{route.path}" for method in methods}
    return found


def test_the_sandbox_endpoints_table_is_every_sandbox_s_control_routes() -> None:
    documented = _first_cells((ROOT / "README.md").read_text(), "sandbox-endpoints")
    assert "POST /_sandbox/faults" in documented
    for name, sandbox in sandboxes().items():
        routed = _control_endpoints(sandbox.app_from_env().routes)
        assert routed == documented, f"{name}: README's sandbox endpoints are stale"


def test_the_fault_fields_table_is_every_fault_field() -> None:
    documented = _first_cells((ROOT / "README.md").read_text(), "sandbox-faults")
    assert documented == set(FaultConfig.model_fields)


def test_every_preset_and_scheme_is_in_the_webhook_sources_tables() -> None:
    readme = (ROOT / "README.md").read_text()
    assert _first_cells(readme, "presets-table") == set(all_presets())
    for scheme in get_args(Scheme):
        assert f"| `{scheme}` |" in readme, scheme
