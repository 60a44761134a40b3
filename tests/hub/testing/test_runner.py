"""`hub test`: the sample workflows' tests pass, failures and bad test files are reported."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest
import redis
import yaml

from hub.testing.suite import run_tests

ROOT = Path(__file__).resolve().parents[3]

WORKFLOW = """\
name: greet
trigger:
  webhook: { source: app, event: user.created }
steps:
  - id: hello
    uses: core.echo
    with: { text: "hello {{ event.name }}", count: "{{ event.tags | length }}" }
  - id: check
    if: "{{ event.name == 'bad' }}"
    uses: core.fail
    with: { message: "bad name {{ secrets.TOKEN }}" }
on_failure:
  - id: note
    uses: core.echo
    with: { failed: "{{ error.step }}: {{ error.message }}" }
"""


def _run(folder: Path, redis_client: redis.Redis) -> tuple[int, list[str]]:
    lines: list[str] = []
    report = run_tests(folder, redis_client, echo=lines.append)
    return (0 if report.ok else 1), lines


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(dedent(text))
    return path


def test_the_sample_workflows_pass_their_tests() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub", "test", "workflows"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    cases = sum(
        len(yaml.safe_load(p.read_text())["cases"])
        for p in (ROOT / "workflows").glob("*.test.yaml")
    )
    assert cases >= 12
    assert lines[-1] == f"{cases} passed, 0 failed"
    assert sum(line.startswith("PASS  ") for line in lines) == cases
    assert len(lines) == cases + 1, "only the PASS lines and the summary"
    assert result.stderr == "", "no log lines without --logs"
    assert len(list((ROOT / "workflows").glob("*.test.yaml"))) == len(
        [p for p in (ROOT / "workflows").glob("*.yaml") if not p.name.endswith(".test.yaml")]
    ), "every sample workflow ships tests"


def test_logs_shows_the_hubs_log_lines_while_cases_run() -> None:
    workflow = "workflows/crm-contact-to-plutio-person.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "hub", "test", "--logs", workflow],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " INFO hub.transitions: run " in result.stderr
    assert result.stdout.strip().splitlines()[-1].endswith(" passed, 0 failed")


def test_passing_and_failing_cases_are_reported_line_by_line(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    _write(tmp_path, "greet.yaml", WORKFLOW)
    _write(
        tmp_path,
        "greet.test.yaml",
        """\
        secrets: { TOKEN: s3cret }
        cases:
          - name: greets
            event: { body: { name: Ada, tags: [a, b] } }
            expect: { status: succeeded, steps: { hello: { text: hello Ada, count: 2 } } }
          - name: wrong on purpose
            event: { body: { name: Ada, tags: [] } }
            expect: { status: failed, steps: { hello: { count: 1 } } }
          - name: a failure runs on_failure without showing the secret
            event: { body: { name: bad, tags: [] } }
            expect:
              status: failed
              error: { step: check, type: FatalError, message: "bad name ***" }
              steps: { note: { failed: "check: bad name ***" }, check: null }
          - name: other events start nothing
            event: { type: user.deleted, body: {} }
            expect: { status: skipped }
        """,
    )
    code, lines = _run(tmp_path, redis_client)
    assert code == 1
    test_file = tmp_path / "greet.test.yaml"
    assert lines == [
        f"PASS  {test_file}:3  greets",
        f"FAIL  {test_file}:6  wrong on purpose",
        "      status: expected failed, got succeeded",
        "      steps.hello.count: expected 1, got 0",
        f"PASS  {test_file}:9  a failure runs on_failure without showing the secret",
        f"PASS  {test_file}:15  other events start nothing",
        "3 passed, 1 failed",
    ]


def test_a_broken_test_file_is_refused_with_positions(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    _write(tmp_path, "greet.yaml", WORKFLOW)
    _write(tmp_path, "other.yaml", WORKFLOW.replace("name: greet", "name: other"))
    _write(
        tmp_path,
        "greet.test.yaml",
        """\
        cases:
          - name: typo
            event: { body: {} }
            expect: { steps: { helo: {} }, upstream: { plutio: { peopel: { count: 0 } } } }
            given: { settings: { HUB_REDIS_URL: "redis://elsewhere" } }
          - name: no check
            event: { body: {} }
            expect: { stauts: failed }
        """,
    )
    code, lines = _run(tmp_path, redis_client)
    assert code == 1
    assert f"note: {tmp_path / 'other.yaml'} has no tests (other.test.yaml)" in lines
    unknown = "unknown field 'stauts' (did you mean 'status'?)"
    assert f"error: {tmp_path / 'greet.test.yaml'}:8:15: {unknown}" in lines
    assert lines[-1] == "0 passed, 0 failed"
    _write(
        tmp_path,
        "greet.test.yaml",
        (tmp_path / "greet.test.yaml").read_text().replace("stauts", "status"),
    )
    code, lines = _run(tmp_path, redis_client)
    path = tmp_path / "greet.test.yaml"
    problems = [line for line in lines if line.startswith("error: ")]
    allowed = (
        "HUB_EVENT_ID_PATH, HUB_EVENT_TYPE_PATH, HUB_RETRY_BASE_SECONDS, "
        "HUB_RETRY_CAP_SECONDS, HUB_STEP_MAX_ATTEMPTS"
    )
    assert problems == [
        f"error: {path}:4:24: the workflow has no step 'helo'; did you mean 'hello'? "
        "(steps: hello, check, note)",
        f"error: {path}:4:58: the plutio sandbox has no resource 'peopel'; did you mean 'people'?",
        f"error: {path}:5:26: setting 'HUB_REDIS_URL' cannot be set here (allowed: {allowed})",
    ]


def test_a_test_file_must_name_a_workflow_it_can_find(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    _write(tmp_path, "greet.yaml", WORKFLOW)
    _write(
        tmp_path,
        "lonely.test.yaml",
        "cases: [ { name: a, event: { body: {} }, expect: { status: succeeded } } ]\n",
    )
    code, lines = _run(tmp_path, redis_client)
    assert code == 1
    assert any(
        re.fullmatch(
            r"error: .*lonely\.test\.yaml:1:1: no workflow file lonely\.yaml next to .*", line
        )
        for line in lines
    ), lines


@pytest.mark.parametrize("name", ["greet.yaml", "greet.test.yaml"])
def test_a_single_file_runs_its_own_cases(
    tmp_path: Path, redis_client: redis.Redis, name: str
) -> None:
    _write(tmp_path, "greet.yaml", WORKFLOW)
    _write(
        tmp_path,
        "greet.test.yaml",
        "cases: [ { name: a, event: { body: { name: x, tags: [] } },\n"
        "           expect: { status: succeeded } } ]\n",
    )
    code, lines = _run(tmp_path / name, redis_client)
    assert (code, lines[-1]) == (0, "1 passed, 0 failed")
