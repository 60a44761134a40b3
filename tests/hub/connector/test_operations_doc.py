"""`hub operations` and README's operations section stay true."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from hub.cli.app import cli
from hub.connector.operations_doc import operations_listing, operations_table
from hub.connector.registry import all_operations
from hub.workflow.loader import load_workflow_text

ROOT = Path(__file__).resolve().parents[3]


def test_listing_names_every_operation_with_its_summary() -> None:
    lines = operations_listing().splitlines()
    assert sorted(line.split()[0] for line in lines) == all_operations()
    upsert = next(line for line in lines if line.startswith("plutio.people.upsert "))
    assert "Find a person by match, or create one from data" in upsert


def test_cli_prints_listing_and_table() -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["operations"])
    assert listed.exit_code == 0 and listed.output.strip() == operations_listing()
    table = runner.invoke(cli, ["operations", "--markdown"])
    assert table.exit_code == 0 and table.output.strip() == operations_table()


def test_readme_operations_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    assert (
        f"<!-- operations-table -->\n{operations_table()}\n<!-- /operations-table -->" in readme
    ), "README's operations table is stale: run `hub operations --markdown`"
    assert "`hub operations [--markdown]`" in readme


def test_readme_sample_steps_validate() -> None:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"```yaml\n(steps:\n  - id: person\n.*?)```", readme, re.S)
    assert match, "README's operations sample is missing"
    text = "name: readme-sample\ntrigger:\n  webhook: { source: crm }\n" + match.group(1)
    wf = load_workflow_text(text, "README.md")
    assert [s.uses for s in wf.steps] == [
        "plutio.people.upsert",
        "plutio.projects.create",
        "plutio.tasks.find",
    ]
    assert wf.steps[2].retry is not None and wf.steps[2].retry.max_attempts == 3
