"""`hub test` sandboxes: one per connector, started on need, records as each API shows them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
import redis

from hub.connector.registry import connectors, sandboxes
from hub.sandbox.clock import FakeClock
from hub.testing.checks import load_spec
from hub.testing.runner import WorkflowTester, upstreams
from hub.testing.sandboxes import RunningSandboxes
from hub.workflow.loader import load_workflow, load_workflow_text


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandboxes]:
    running = RunningSandboxes(FakeClock())
    yield running
    running.close()


def test_every_connector_with_an_upstream_declares_a_sandbox() -> None:
    assert set(sandboxes()) == {c.name for c in connectors() if c.upstream}
    assert set(sandboxes()) >= {"plutio", "plane", "plutora", "accounting"}


def test_only_connectors_that_call_an_upstream_need_a_sandbox() -> None:
    wf = load_workflow_text(
        dedent(
            """\
            name: mixed
            trigger: { webhook: { source: app, event: ping } }
            steps:
              - { id: me, uses: plane.me }
              - { id: note, uses: core.log, with: { message: hi } }
            """
        ),
        "mixed.yaml",
    )
    assert upstreams(wf) == {"plane"}


def test_a_sandbox_tells_its_connector_where_it_is_and_who_to_be(
    running: RunningSandboxes,
) -> None:
    env = running.env(["plutio", "accounting"])
    assert env["PLUTIO_BASE_URL"].startswith("http://127.0.0.1:")
    assert (env["PLUTIO_CLIENT_ID"], env["PLUTIO_BUSINESS"]) == ("sandbox-client", "sandbox")
    # the file sink writes where the accounting sandbox reads its rows
    assert env["ACCOUNTING_URL"].startswith("http://127.0.0.1:")
    folder = Path(env["ACCOUNTING_EXPORT_DIR"])
    (folder / "books.jsonl").write_text('{"amount": 5}\n')
    assert running.state("accounting")["rows"] == [{"_file": "books.jsonl", "amount": 5}]
    running.core("accounting").reset()
    assert not folder.exists() or not any(folder.iterdir())


@pytest.mark.parametrize(
    ("connector", "resource", "record", "id_field"),
    [
        ("plutio", "people", {"_id": "p-1", "name": {"first": "Ada"}}, "_id"),
        ("plane", "projects", {"id": "p-1", "name": "Web", "identifier": "WEB"}, "id"),
        ("plutora", "releases", {"id": "p-1", "identifier": "R-1", "name": "Spring"}, "id"),
    ],
)
def test_records_are_given_and_read_back_as_the_api_shows_them(
    running: RunningSandboxes,
    connector: str,
    resource: str,
    record: dict[str, Any],
    id_field: str,
) -> None:
    core = running.core(connector)
    core.reset()
    running.seed(connector, {resource: [record]})
    assert core.store.get(core.default_namespace, resource, "p-1") is not None  # the API finds it
    [shown] = running.state(connector)[resource]
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
    tester = WorkflowTester(redis_client)
    loaded = load_spec(spec, {wf.name: wf}, tester.sandboxes.resources())
    try:
        [result] = tester.run_spec(loaded)
        assert result.failures == []
        assert tester.sandboxes.started() == ["plane"]
    finally:
        tester.close()
