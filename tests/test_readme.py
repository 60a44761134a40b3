"""README stays true: its commands exist and its settings table is complete."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import get_args

from hub.connector.registry import settings_classes
from hub.core.env_settings import env_names
from hub.core.settings_doc import settings_table
from hub.intake.presets import all_presets
from hub.intake.sources import Scheme

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


def _section(readme: str, marker: str) -> str:
    start = readme.index(f"<!-- {marker} -->")
    return readme[start : readme.index(f"<!-- /{marker} -->", start)]


def test_every_preset_and_scheme_is_in_the_webhook_sources_tables() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = [
        line for line in _section(readme, "presets-table").splitlines() if line.startswith("| `")
    ]
    assert sorted(row.split("`")[1] for row in rows) == sorted(all_presets())
    for scheme in get_args(Scheme):
        assert f"| `{scheme}` |" in readme, scheme
