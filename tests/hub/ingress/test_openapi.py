"""Schemathesis against the ingress's own OpenAPI document: no 5xx, answers as documented."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from starlette.testclient import TestClient

from .conftest import write_source, write_workflow

#: what a delivery needs beyond "any JSON" (an event type, a signature) depends on each
#: source's file, which the document states in words: a valid-looking body may get a 4xx
SKIPPED = [positive_data_acceptance]
OPEN = "auth: { scheme: none }\nmax_body_bytes: 512\n"
CRM = 'auth: { scheme: standard-webhooks, secret: "{{ secrets.CRM_SIGNING_KEY }}" }\n'
MANY = "auth: { scheme: none }\nbatch: true\nmax_body_bytes: 512\n"


def test_the_ingress_answers_as_documented(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    write_workflow(tmp_path, "anything-open", "open", "*")
    write_workflow(tmp_path, "crm-contact", "crm", "contact.*")
    write_source(tmp_path, "open", OPEN)
    write_source(tmp_path, "crm", CRM)
    write_source(tmp_path, "many", MANY)
    app = make_client(tmp_path).app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert {op.path for op in operations} >= {"/hooks/{source}", "/healthz", "/events"}
    calls: dict[str, set[int]] = {}

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def run(case: Any) -> None:
            responses = [case.call_and_validate(excluded_checks=SKIPPED)]
            if case.operation.path == "/hooks/{source}" and case.operation.method == "post":
                # also through sources that take anyone, so bodies reach parsing and routing
                for source in ("open", "many"):
                    case.path_parameters = {"source": source}
                    responses.append(case.call_and_validate(excluded_checks=SKIPPED))
            for response in responses:
                assert response.status_code < 500, response.text
                calls.setdefault(case.operation.path, set()).add(response.status_code)

        run()
    # the fuzzing got past authentication and parsing into acceptance
    assert calls["/hooks/{source}"] & {200, 202}, calls
