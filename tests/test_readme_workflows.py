"""The README's workflow and test-file examples are valid."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from hub.intake.sources import _parse as _parse_source
from hub.testing.spec import TestFile
from hub.workflow.loader import load_workflow_text

ROOT = Path(__file__).resolve().parent.parent


def _yaml_blocks() -> list[str]:
    return re.findall(r"(?ms)^```yaml\n(.*?)^```", (ROOT / "README.md").read_text())


def test_every_yaml_example_in_the_readme_is_a_valid_workflow_or_test_file() -> None:
    blocks = _yaml_blocks()
    workflows = [b for b in blocks if b.startswith("name:")]
    tests = [b for b in blocks if b.startswith("cases:")]
    assert len(workflows) >= 2 and len(tests) >= 1
    # a bare `steps:` snippet is wrapped into a workflow and checked in test_operations_doc
    snippets = [b for b in blocks if b.startswith("steps:")]
    sources = [b for b in blocks if b.startswith("# workflows/sources/")]
    assert len(workflows) + len(tests) + len(snippets) + len(sources) == len(blocks)
    for text in sources:
        config, problems = _parse_source(text, "README.md")
        assert config is not None and not problems, problems
    for text in workflows:
        load_workflow_text(text, "README.md")
    for text in tests:
        TestFile.model_validate(yaml.safe_load(text))
