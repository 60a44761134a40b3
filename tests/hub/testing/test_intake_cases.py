"""`hub test` sends each event through the production intake: the real source files,
signatures, type and id where the source says, dedupe and routing."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import redis

from hub.testing.suite import run_tests
from tests.hub.testing.cases import run_folder

WORKFLOW = """\
name: greet
trigger: { webhook: { source: app, event: user.create } }
if: "{{ event.name != 'nobody' }}"
steps:
  - { id: hello, uses: core.echo, with: { text: "hello {{ event.name }}" } }
"""
# signed with an HMAC of the body; the type in the body's 'action', the id in a header
SOURCE = """\
auth: { scheme: hmac, header: X-Signature, secret: "{{ secrets.APP_KEY }}" }
event_type: { path: action }
event_id: { header: X-Delivery, required: true }
"""


def _files(cases: str, source: str = SOURCE, workflow: str = WORKFLOW) -> dict[str, str]:
    return {"greet.yaml": workflow, "greet.test.yaml": cases, "sources/app.yaml": source}


def _run(tmp_path: Path, redis_client: redis.Redis, files: dict[str, str]) -> list[str]:
    (tmp_path / "sources").mkdir(exist_ok=True)
    return run_folder(tmp_path, redis_client, files)[1]


def test_a_repeated_id_is_a_duplicate_and_starts_no_second_run(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    cases = """\
        cases:
          - name: the same delivery twice
            events:
              - { id: d-1, body: { action: user.create, name: Ada } }
              - { id: d-1, body: { action: user.create, name: Ada } }
            expect: { status: duplicate, reason: "event id 'd-1' from 'app'" }
          - name: a duplicate is not a run
            events:
              - { id: d-1, body: { action: user.create, name: Ada } }
              - { id: d-1, body: { action: user.create, name: Grace } }
            expect: { status: succeeded, steps: { hello: { text: hello Grace } } }
          - name: ids are remembered per case
            event: { id: d-1, body: { action: user.create, name: Ada } }
            expect: { status: succeeded, steps: { hello: { text: hello Ada } } }
        """
    lines = _run(tmp_path, redis_client, _files(cases))
    test_file = tmp_path / "greet.test.yaml"
    assert lines == [
        f"PASS  {test_file}:2  the same delivery twice",
        f"FAIL  {test_file}:7  a duplicate is not a run",
        "      status: expected succeeded, got duplicate "
        "(event id 'd-1' from 'app' was accepted before)",
        "      steps.hello: the step did not run",
        f"PASS  {test_file}:12  ids are remembered per case",
        "2 passed, 1 failed",
    ]


def test_the_type_is_read_where_the_source_says_and_an_unrouted_one_is_skipped(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    cases = """\
        cases:
          - name: the body says change, the trigger listens to create
            event: { id: d-1, body: { action: user.change, name: Ada } }
            expect: { status: skipped, reason: no trigger matches app/user.change }
          - name: type is written where the source reads it, the body's action
            event: { type: user.create, id: d-2, body: { action: user.change, name: Ada } }
            expect: { status: succeeded, steps: { hello: { text: hello Ada } } }
          - name: without a type in the body, the trigger's event
            event: { id: d-3, body: { name: Ada } }
            expect: { status: succeeded }
          - name: the workflow's if keeps it out
            event: { id: d-4, body: { action: user.create, name: nobody } }
            expect: { status: skipped, reason: "if: false" }
        """
    lines = _run(tmp_path, redis_client, _files(cases))
    assert lines[-1] == "4 passed, 0 failed", "\n".join(lines)


def test_events_the_ingress_would_refuse_fail_their_case_with_its_answer(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    cases = """\
        cases:
          - name: no id for a source that requires one
            event: { body: { action: user.create, name: Ada } }
            expect: { status: succeeded }
          - name: a source nothing serves
            event: { source: nope, id: d-1, body: { action: user.create } }
            expect: { status: skipped }
          - name: not JSON
            event: { id: d-2, headers: { Content-Type: text/plain }, body: { name: Ada } }
            expect: { status: succeeded }
        """
    lines = _run(tmp_path, redis_client, _files(cases))
    failures = [line.strip() for line in lines if line.startswith("      event ")]
    assert failures == [
        "event 1: give the event an 'id': source 'app' requires one (a X-Delivery header), "
        "and the ingress refuses events without it",
        "event 1: the ingress answers 404: unknown source 'nope': nothing is configured to "
        "receive POST /hooks/nope; check the URL",
        "event 1: the ingress answers 415: Content-Type 'text/plain' is not JSON: send the "
        "event as application/json",
    ]
    assert lines[-1] == "0 passed, 3 failed"


def test_a_case_gives_headers_and_a_secret_for_the_sources_scheme(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    source = """\
        auth: { scheme: shared-secret, header: X-Token, secret: "{{ secrets.APP_KEY }}" }
        event_type: { header: X-Kind }
        event_id: { header: X-Delivery, required: true }
        """
    cases = """\
        secrets: { APP_KEY: s3cret }
        cases:
          - name: the type from a header the case gives
            event: { headers: { X-Kind: user.create, X-Delivery: d-1 }, body: { name: Ada } }
            expect: { status: succeeded, steps: { hello: { text: hello Ada } } }
        """
    lines = _run(tmp_path, redis_client, _files(cases, source))
    assert lines[-1] == "1 passed, 0 failed", "\n".join(lines)


def test_an_id_is_a_duplicate_only_within_its_sources_window_on_the_case_clock(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    workflow = """\
        name: greet
        trigger: { webhook: { source: app, event: user.create } }
        steps:
          - { id: people, uses: plutio.people.list }
        """
    cases = """\
        cases:
          - name: the first run waits 5 s on a 429, past the 2 s window
            given:
              plutio:
                faults:
                  scripts:
                    - { method: GET, path: /people, answers: [ { status: 429, retry_after: 5 } ] }
            events:
              - { id: d-1, body: { action: user.create } }
              - { id: d-1, body: { action: user.create } }
            expect: { status: succeeded, calls: { plutio: { "GET /people": 3 } } }
          - name: within the window
            events:
              - { id: d-1, body: { action: user.create } }
              - { id: d-1, body: { action: user.create } }
            expect: { status: duplicate, calls: { plutio: { "GET /people": 1 } } }
        """
    lines = _run(tmp_path, redis_client, _files(cases, SOURCE + "dedupe_seconds: 2\n", workflow))
    assert lines[-1] == "2 passed, 0 failed", "\n".join(lines)


def test_sources_can_come_from_another_folder(tmp_path: Path, redis_client: redis.Redis) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "app.yaml").write_text(SOURCE.replace("required: true", "required: false"))
    cases = """\
        cases:
          - name: no id needed by the source file elsewhere
            event: { body: { action: user.create, name: Ada } }
            expect: { status: succeeded }
        """
    folder = tmp_path / "workflows"
    (folder / "sources").mkdir(parents=True)
    for name, text in _files(cases).items():
        (folder / name).write_text(dedent(text))
    lines: list[str] = []
    assert not run_tests(folder, redis_client, echo=lines.append).ok
    report = run_tests(folder, redis_client, echo=lines.append, sources=elsewhere)
    assert report.ok, "\n".join(lines)


CONTACTS = """\
name: contacts
trigger: { webhook: { source: hubspot, event: contact.creation } }
steps:
  - { id: hello, uses: core.echo, with: { text: "contact {{ event.objectId }}" } }
"""
HUBSPOT = 'preset: hubspot\nsecret: "{{ secrets.HUBSPOT_CLIENT_SECRET }}"\n'


def test_a_batch_source_runs_each_element_and_dedupes_each(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    cases = """\
        cases:
          - name: three elements, three runs; the last one's outcome is checked
            event:
              body:
                - { eventId: 1, subscriptionType: contact.creation, objectId: 11 }
                - { eventId: 2, subscriptionType: contact.creation, objectId: 12 }
                - { eventId: 3, subscriptionType: contact.creation, objectId: 13 }
            expect: { status: succeeded, runs: 3, steps: { hello: { text: contact 13 } } }
          - name: a redelivered batch with one new element starts one run
            events:
              - body: [ { eventId: 1, subscriptionType: contact.creation, objectId: 11 } ]
              - body:
                  - { eventId: 2, subscriptionType: contact.creation, objectId: 12 }
                  - { eventId: 1, subscriptionType: contact.creation, objectId: 11 }
            expect: { status: duplicate, runs: 2 }
          - name: one element as a mapping, its type and id written into it
            event: { type: contact.creation, id: "9", body: { objectId: 19 } }
            expect: { status: succeeded, runs: 1, steps: { hello: { text: contact 19 } } }
          - name: the count is checked
            event: { body: [ { eventId: 1, subscriptionType: contact.creation, objectId: 1 } ] }
            expect: { runs: 2 }
        """
    files = {
        "contacts.yaml": CONTACTS,
        "contacts.test.yaml": cases,
        "sources/hubspot.yaml": HUBSPOT,
    }
    lines = _run(tmp_path, redis_client, files)
    assert lines[-2:] == ["      runs: expected 2 started, got 1", "3 passed, 1 failed"], "\n".join(
        lines
    )


def test_a_handshake_is_answered_and_starts_no_run(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    workflow = """\
        name: slack-any
        trigger: { webhook: { source: slack } }
        steps:
          - { id: hello, uses: core.echo, with: { text: hi } }
        """
    cases = """\
        cases:
          - name: url_verification
            event: { body: { type: url_verification, challenge: c-123 } }
            expect: { status: answered, reason: c-123, runs: 0 }
        """
    source = 'preset: slack\nsecret: "{{ secrets.SLACK_SIGNING_SECRET }}"\n'
    files = {"slack-any.yaml": workflow, "slack-any.test.yaml": cases, "sources/slack.yaml": source}
    lines = _run(tmp_path, redis_client, files)
    assert lines[-1] == "1 passed, 0 failed", "\n".join(lines)


ALERT = """\
name: alert
trigger: { webhook: { source: hub, event: "run.*" } }
steps:
  - { id: say, uses: core.echo, with: { text: "{{ event.count }} of {{ event.workflow }}" } }
"""


def test_a_case_of_a_hub_event_workflow_is_sent_as_the_hub_emits_it(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    cases = """\
        cases:
          - name: a run.failed event
            event: { type: run.failed, body: { workflow: sync, count: 3 } }
            expect: { status: succeeded, steps: { say: { text: 3 of sync } } }
          - name: another type is not routed
            event: { type: quota.exhausted, body: { budget: b } }
            expect: { status: skipped }
          - name: no type and a glob trigger
            event: { body: { workflow: sync } }
            expect: { status: succeeded }
          - name: headers
            event: { type: run.failed, headers: { X-Any: "1" }, body: { workflow: sync } }
            expect: { status: succeeded }
        """
    files = {"alert.yaml": ALERT, "alert.test.yaml": dedent(cases)}
    lines = _run(tmp_path, redis_client, files)
    failures = [line.strip() for line in lines if line.startswith("      event ")]
    assert failures == [
        "event 1: give the hub event's type (run.failed, quota.exhausted, ...)",
        "event 1: a hub event comes without headers: give only its type and body",
    ]
    assert lines[-1] == "2 passed, 2 failed"
