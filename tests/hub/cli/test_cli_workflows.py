"""The CLI's workflow commands: `hub schema`, and serve/worker refusing broken workflows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli.app import cli

ROOT = Path(__file__).resolve().parents[3]
BROKEN = """\
name: broken
trigger:
  webhook: { source: crm }
steps:
  - id: person
    uses: plutio.people.creat
    with: { name: { first: "{{ event.data.first }}" } }
"""


def test_schema_prints_the_workflow_json_schema() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    uses = schema["$defs"]["Step"]["properties"]["uses"]["enum"]
    assert {"core.log", "core.echo", "plutio.people.upsert"} <= set(uses)


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_refuse_to_start_on_an_invalid_workflow(
    tmp_path: Path, command: str
) -> None:
    (tmp_path / "broken.yaml").write_text(BROKEN)
    env = {
        **os.environ,
        "HUB_WORKFLOWS": str(tmp_path),
        "HUB_REDIS_URL": "redis://127.0.0.1:9/0",  # never reached: the check comes first
    }
    result = subprocess.run(
        [sys.executable, "-m", "hub", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert f"error: invalid workflows in {tmp_path}:" in result.stderr
    assert (
        f"{tmp_path / 'broken.yaml'}:6:11: unknown operation 'plutio.people.creat' "
        "(did you mean 'plutio.people.create'?)"
    ) in result.stderr
