"""Semantic checks: operations, arguments, references, scopes, secrets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hub.workflow.loader import WorkflowError, load_workflow_text
from hub.workflow.model import Step, Trigger, Workflow
from hub.workflow.validate import validate_workflow
from tests.support.registry import registered

from .fakes import ACME, OPERATION_NAMES, lookup


def _wf(*steps: dict[str, Any], **extra: Any) -> Workflow:
    return Workflow.model_validate(
        {"name": "w", "trigger": {"webhook": {"source": "crm"}}, "steps": list(steps), **extra}
    )


def _messages(wf: Workflow, **kwargs: Any) -> list[str]:
    found = validate_workflow(wf, lookup=lookup, **kwargs)
    assert all((p.line, p.column) == (0, 0) for p in found)  # built in code: no positions
    return [p.message for p in found]


def test_a_valid_workflow_has_no_problems() -> None:
    wf = _wf(
        {"id": "find", "uses": "acme.people.find", "with": {"query": {"e": "{{ event.e }}"}}},
        {
            "id": "create",
            "if": "not steps.find",
            "uses": "acme.people.create",
            "with": {
                "name": {"first": "{{ event.first }}", "last": "Lovelace"},
                "contactEmails": [{"address": "{{ event.e }}"}],
                "age": 36,
            },
        },
    )
    assert validate_workflow(wf, lookup=lookup) == []


def test_problems_without_positions_name_the_workflow() -> None:
    found = validate_workflow(_wf({"id": "a", "uses": "acme.nope"}), lookup=lookup)
    assert [str(p) for p in found] == [
        "<workflow w>: unknown operation 'acme.nope'; acme offers: notes.create, "
        "people.create, people.find, people.list"
    ]


def test_templates_are_accepted_wherever_a_value_stands() -> None:
    wf = _wf(
        {
            "id": "a",
            "uses": "acme.people.create",
            "with": {
                "name": "{{ event.name }}",
                "contactEmails": "{{ event.emails }}",
                "tags": ["x", "{{ event.tag }}"],
                "age": "{{ event.age | int }}",
            },
        },
        {"id": "b", "uses": "acme.people.find", "with": {"limit": "{{ event.n }}"}},
    )
    assert _messages(wf) == []


def test_literal_values_of_the_wrong_type_are_problems() -> None:
    wf = _wf(
        {
            "id": "a",
            "uses": "acme.people.create",
            "with": {"name": {"first": 5}, "age": "old", "tags": "not-a-list"},
        }
    )
    assert _messages(wf) == [
        "argument 'name.first' for acme.people.create: should be a valid string (got 5)",
        "argument 'tags' for acme.people.create: should be a valid list (got 'not-a-list')",
        "argument 'age' for acme.people.create: should be a valid integer, unable to parse "
        "string as an integer (got 'old')",
    ]


def test_unknown_arguments_are_found_in_nested_models_and_lists() -> None:
    wf = _wf(
        {
            "id": "a",
            "uses": "acme.people.create",
            "with": {
                "name": {"first": "A", "middle": "B"},
                "contactEmails": [{"address": "a@b"}, {"adress": "c@d"}],
                "contact_emails": [],
            },
        }
    )
    assert _messages(wf) == [
        "unknown argument 'name.middle' for acme.people.create; 'name' takes: first, last",
        "unknown argument 'contactEmails[1].adress' for acme.people.create; did you mean "
        "'address'?",
        "unknown argument 'contact_emails' for acme.people.create; did you mean 'contactEmails'?",
        "missing required argument 'contactEmails[1].address' for acme.people.create",
    ]


def test_unknown_arguments_are_reported_even_where_pydantic_ignores_them() -> None:
    wf = _wf({"id": "a", "uses": "acme.people.list", "with": {"updated_snce": "x"}})
    assert _messages(wf) == [
        "unknown argument 'updated_snce' for acme.people.list; did you mean 'updated_since'?"
    ]


def test_models_that_allow_extra_keys_accept_them() -> None:
    wf = _wf({"id": "a", "uses": "acme.notes.create", "with": {"text": "x", "colour": "red"}})
    assert _messages(wf) == []


def test_missing_required_arguments() -> None:
    wf = _wf(
        {"id": "a", "uses": "acme.people.create"},
        {"id": "b", "uses": "mail.send", "with": {"subject": "hi"}},
    )
    assert _messages(wf) == [
        "missing required argument 'name' for acme.people.create",
        "missing required argument 'to' for mail.send",
    ]


def test_unknown_connector_gets_a_hint_from_known_operations() -> None:
    wf = _wf({"id": "a", "uses": "mial.send", "with": {"to": "x"}})
    assert _messages(wf, known_operations=OPERATION_NAMES) == [
        "unknown connector 'mial' (known connectors: acme, mail); did you mean 'mail.send'?"
    ]


def test_a_connector_that_fails_to_import_is_a_problem_not_a_crash() -> None:
    def broken(uses: str) -> Any:
        raise ModuleNotFoundError("No module named 'connectors.acme'")

    found = validate_workflow(_wf({"id": "a", "uses": "acme.people.find"}), lookup=broken)
    assert [p.message for p in found] == [
        "cannot load the connector for 'acme.people.find' (ModuleNotFoundError: No module "
        "named 'connectors.acme'); check that the connector package is installed"
    ]


@pytest.fixture
def acme_in_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Register the test connector in the real registry, as an installed plug-in."""
    with registered(monkeypatch, {"acme": ACME}):
        yield


@pytest.mark.usefixtures("acme_in_registry")
def test_the_default_lookup_is_the_registry() -> None:
    wf = _wf(
        {"id": "a", "uses": "acme.people.find"},
        {"id": "b", "uses": "acme.people.fnd"},
        {"id": "c", "uses": "acmee.people.find"},
    )
    assert [p.message for p in validate_workflow(wf)] == [
        "unknown operation 'acme.people.fnd' (did you mean 'acme.people.find'?); acme offers: "
        "notes.create, people.create, people.find, people.list",
        "unknown connector 'acmee' (known connectors: acme); did you mean 'acme.people.find'?",
    ]


def test_steps_may_read_only_earlier_steps() -> None:
    wf = _wf(
        {"id": "a", "uses": "acme.people.find", "with": {"query": {"x": "{{ steps.b }}"}}},
        {"id": "b", "uses": "acme.people.find", "if": "steps.a and steps.b"},
        {"id": "c", "uses": "acme.people.find", "if": "{{ steps.a and steps.bb }}"},
    )
    assert _messages(wf) == [
        "'steps.b' refers to step 'b', which is not an earlier step here; a step can only "
        "read steps that ran before it (there are no earlier steps)",
        "'steps.b' is this step itself; a step can only read steps that ran before it "
        "(earlier steps: a)",
        "'steps.bb' is not a step of this workflow; did you mean 'b'? (earlier steps: a, b)",
    ]


def test_record_keys_starting_with_underscore_are_data() -> None:
    wf = _wf(
        {"id": "a", "uses": "acme.people.find"},
        {"id": "b", "uses": "acme.people.find", "with": {"query": {"id": "{{ steps.a._id }}"}}},
    )
    assert _messages(wf) == []


def test_python_internals_are_refused_statically() -> None:
    wf = _wf(
        {"id": "a", "uses": "mail.send", "with": {"to": "{{ event._Foo__bar }}"}},
        {"id": "b", "uses": "mail.send", "with": {"to": "{{ event.data.__dict__ }}"}},
    )
    assert _messages(wf) == [
        "access to '_Foo__bar' is not allowed in templates",
        "access to '__dict__' is not allowed in templates",
    ]


def test_step_ids_are_unique_across_on_failure_steps() -> None:
    wf = _wf(
        {
            "id": "a",
            "uses": "acme.people.find",
            "on_failure": [{"id": "alert", "uses": "mail.send", "with": {"to": "x"}}],
        },
        on_failure=[{"id": "alert", "uses": "mail.send", "with": {"to": "x"}}],
    )
    assert _messages(wf) == [
        "duplicate step id 'alert' (also used by an earlier step); step ids must be unique in "
        "a workflow, on_failure steps included"
    ]


def test_item_and_index_only_inside_foreach_steps() -> None:
    wf = _wf(
        {
            "id": "each",
            "foreach": "event.rows",
            "if": "index < 5",
            "uses": "mail.send",
            "with": {"to": "{{ item.email }}", "subject": "{{ index }}"},
        },
        {"id": "after", "uses": "mail.send", "with": {"to": "{{ item.email }}"}},
        {"id": "self", "foreach": "{{ item }}", "uses": "mail.send", "with": {"to": "x"}},
    )
    assert _messages(wf) == [
        "'item' is only defined in the 'with' and 'if' of a step with 'foreach'",
        "'item' is only defined in the 'with' and 'if' of a step with 'foreach'",
    ]


def test_error_only_in_on_failure_steps() -> None:
    wf = _wf(
        {
            "id": "a",
            "uses": "mail.send",
            "with": {"to": "x", "subject": "{{ error.message }}"},
            "on_failure": [
                {"id": "b", "uses": "mail.send", "with": {"to": "x", "subject": "{{ error }}"}}
            ],
        },
        on_failure=[{"id": "c", "uses": "mail.send", "with": {"to": "{{ error.step }}"}}],
    )
    assert _messages(wf) == ["'error' is only defined in on_failure steps"]


def test_unknown_top_level_names_get_a_hint() -> None:
    wf = _wf({"id": "a", "uses": "mail.send", "with": {"to": "{{ wokflow.name }} {{ zzz }}"}})
    assert _messages(wf) == [
        "unknown name 'wokflow' in template; did you mean 'workflow'? (names available here: "
        "event, run, secrets, steps, workflow)",
        "unknown name 'zzz' in template (names available here: event, run, secrets, steps, "
        "workflow)",
    ]


def test_globals_and_template_locals_are_not_unknown_names() -> None:
    wf = _wf(
        {
            "id": "a",
            "uses": "mail.send",
            "with": {
                "to": "{% for r in event.rows %}{{ r.email }}{{ loop.index }}{% endfor %}",
                "subject": "{% set n = 2 %}{{ n }} {{ now() }} {{ range(3) | join(',') }}",
            },
        }
    )
    assert _messages(wf) == []


def test_secret_names_are_checked() -> None:
    wf = _wf(
        {"id": "a", "uses": "mail.send", "with": {"to": "{{ secrets.CRM_TOKEN }}"}},
        {"id": "b", "uses": "mail.send", "with": {"to": "{{ secrets.CRM_TOKN }}"}},
    )
    assert _messages(wf) == []
    assert _messages(wf, known_secrets=["CRM_TOKEN", "PLUTIO_KEY"]) == [
        "unknown secret 'CRM_TOKN'; did you mean 'CRM_TOKEN'? (known secrets: CRM_TOKEN, "
        "PLUTIO_KEY)"
    ]


def test_workflow_if_sees_the_event_but_no_steps() -> None:
    wf = _wf({"id": "a", "uses": "mail.send", "with": {"to": "x"}}, **{"if": "event.ok"})
    assert _messages(wf) == []
    wf = _wf({"id": "a", "uses": "mail.send", "with": {"to": "x"}}, **{"if": "steps.a"})
    assert _messages(wf) == [
        "'steps' is not available here: the workflow's 'if' is checked before any step runs"
    ]
    wf = _wf({"id": "a", "uses": "mail.send", "with": {"to": "x"}}, **{"if": "secrets.K"})
    assert _messages(wf) == ["unknown name 'secrets' in template (names available here: event)"]


def test_poll_trigger_arguments_see_the_cursor_only() -> None:
    wf = _wf({"id": "a", "uses": "mail.send", "with": {"to": "{{ event.data.email }}"}})
    wf.trigger = Trigger.model_validate(
        {
            "poll": {
                "uses": "acme.people.list",
                "with": {"updated_since": "{{ cursor }}", "limit": "{{ steps.a }}"},
                "cursor": "updatedAt",
            }
        }
    )
    assert _messages(wf) == ["'steps' is not available here: a poll trigger runs before any step"]


def test_template_syntax_errors_in_if_foreach_and_with() -> None:
    wf = _wf(
        {"id": "a", "uses": "mail.send", "if": "a ==", "with": {"to": "x"}},
        {"id": "b", "uses": "mail.send", "foreach": "{{ [1, }}", "with": {"to": "{% if %}"}},
    )
    assert _messages(wf) == [
        "template syntax error: unexpected 'end of template'",
        "template syntax error: unexpected '}', expected ']'",
        "template syntax error: Expected an expression, got 'end of statement block'",
    ]


def test_steps_built_in_code_validate_like_loaded_ones() -> None:
    wf = Workflow(
        name="w",
        trigger=Trigger.model_validate({"webhook": {"source": "crm"}}),
        steps=[Step(id="a", uses="mail.send", with_={"to": "{{ evnt }}"})],
    )
    assert _messages(wf) == [
        "unknown name 'evnt' in template; did you mean 'event'? (names available here: "
        "event, run, secrets, steps, workflow)"
    ]


def test_loader_passes_known_secrets_through() -> None:
    text = (
        "name: x\ntrigger: { webhook: { source: crm } }\nsteps:\n"
        "  - { id: a, uses: mail.send, with: { to: '{{ secrets.NOPE }}' } }\n"
    )
    with pytest.raises(WorkflowError) as caught:
        load_workflow_text(text, "s.yaml", lookup=lookup, known_secrets=["TOKEN"])
    assert str(caught.value) == (
        "s.yaml:4:43: unknown secret 'NOPE'; check the hub settings (known secrets: TOKEN)"
    )
