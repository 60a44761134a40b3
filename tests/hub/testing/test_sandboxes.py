"""`hub test` sandboxes: one per connector, started on need, records as each API shows them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
import redis

from hub.cli.up import SANDBOXES as LOCAL_SANDBOXES
from hub.sandbox.clock import FakeClock
from hub.testing.checks import load_spec
from hub.testing.runner import WorkflowTester
from hub.testing.sandboxes import SANDBOXES, RunningSandboxes
from hub.workflow.loader import load_workflow


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[RunningSandboxes]:
    running = RunningSandboxes(FakeClock())
    yield running
    running.close()


def test_every_sandbox_hub_up_runs_can_play_in_hub_test() -> None:
    assert set(SANDBOXES) == {local.name for local in LOCAL_SANDBOXES}


@pytest.mark.parametrize(
    ("connector", "resource", "record", "id_field"),
    [
        ("plutio", "people", {"_id": "p-1", "name": {"first": "Ada"}}, "_id"),
        ("plane", "projects", {"id": "p-1", "name": "Web", "identifier": "WEB"}, "id"),
        ("plutora", "releases", {"id": "p-1", "identifier": "R-1", "name": "Spring"}, "id"),
    ],
)
def test_records_are_given_and_read_back_as_the_api_shows_them(
    sandboxes: RunningSandboxes,
    connector: str,
    resource: str,
    record: dict[str, Any],
    id_field: str,
) -> None:
    core = sandboxes.core(connector)
    core.reset()
    sandboxes.seed(connector, {resource: [record]})
    assert core.store.get(core.default_namespace, resource, "p-1") is not None  # the API finds it
    [shown] = sandboxes.state(connector)[resource]
    assert shown[id_field] == "p-1"
    assert {k: shown[k] for k in record} == record


def test_only_the_sandboxes_a_workflow_uses_are_started(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    workflow = tmp_path / "who.yaml"
    workflow.write_text(
        dedent(
            """\
            name: who
            trigger: { webhook: { source: app, event: ping } }
            steps:
              - { id: me, uses: plane.me }
            """
        )
    )
    spec = tmp_path / "who.test.yaml"
    spec.write_text(
        dedent(
            """\
            cases:
              - name: the Plane key of the sandbox is accepted
                event: { body: {} }
                expect:
                  status: succeeded
                  steps: { me: { display_name: sandbox } }
                  calls: { plane: { "GET /api/v1/users/me/": 1 } }
            """
        )
    )
    wf = load_workflow(workflow)
    loaded = load_spec(spec, {wf.name: wf}, {n: k.resources for n, k in SANDBOXES.items()})
    tester = WorkflowTester(redis_client)
    try:
        [result] = tester.run_spec(loaded)
        assert result.failures == []
        assert tester.sandboxes.started() == ["plane"]
    finally:
        tester.close()
