"""The workflow schema: fields, aliases, triggers, durations, cron, matching."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from hub.workflow.model import (
    PollTrigger,
    RetryOverride,
    ScheduleTrigger,
    Step,
    Trigger,
    WebhookTrigger,
    Workflow,
    revision_of,
)
from hub.workflow.timing import cron_fields, parse_duration


def _workflow(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "crm-contact-to-person",
        "trigger": {"webhook": {"source": "crm", "event": "contact.*"}},
        "if": "{{ event.data.email }}",
        "steps": [
            {
                "id": "existing",
                "uses": "acme.people.find",
                "with": {"query": {"email": "{{ event.data.email }}"}},
            },
            {
                "id": "person",
                "if": "{{ not steps.existing }}",
                "uses": "acme.people.create",
                "with": {"name": {"first": "{{ event.data.first_name }}"}},
                "retry": {"max_attempts": 3, "backoff_cap_seconds": 60},
                "on_failure": [{"id": "tell", "uses": "mail.send", "with": {"to": "ops@x"}}],
            },
        ],
    }
    data.update(overrides)
    return data


def test_dump_uses_the_yaml_names_and_round_trips() -> None:
    wf = Workflow.model_validate(_workflow())
    dumped = wf.model_dump(by_alias=True)
    assert dumped["steps"][1]["if"] == "{{ not steps.existing }}"
    assert dumped["steps"][0]["with"] == {"query": {"email": "{{ event.data.email }}"}}
    assert "with_" not in dumped["steps"][0] and "if_" not in dumped
    assert dumped["trigger"] == {"webhook": {"source": "crm", "event": "contact.*"}}
    again = Workflow.model_validate(dumped, by_name=False)
    assert again.model_dump(by_alias=True) == dumped
    assert wf.model_dump() == dumped  # aliases are the default when dumping
    assert Workflow.model_validate_json(wf.model_dump_json()).model_dump() == dumped


def test_steps_can_be_built_in_code_by_python_names() -> None:
    step = Step(id="a", uses="acme.people.find", with_={"limit": 1}, if_="true")
    assert step.model_dump()["with"] == {"limit": 1}
    assert step.model_dump()["if"] == "true"


def test_yaml_spelling_with_underscore_is_refused_when_validating_by_alias() -> None:
    with pytest.raises(ValidationError) as caught:
        Step.model_validate({"id": "a", "uses": "acme.x", "with_": {}}, by_name=False)
    assert caught.value.errors()[0]["type"] == "extra_forbidden"


def test_unknown_fields_are_refused_everywhere() -> None:
    cases: list[tuple[type[BaseModel], dict[str, Any]]] = [
        (Workflow, _workflow(colour="red")),
        (Step, {"id": "a", "uses": "a.b", "usess": 1}),
        (WebhookTrigger, {"source": "crm", "evnt": "x"}),
        (RetryOverride, {"attempts": 2}),
        (Trigger, {"webhook": {"source": "crm"}, "cron": "x"}),
    ]
    for model, data in cases:
        with pytest.raises(ValidationError) as caught:
            model.model_validate(data)
        assert "extra_forbidden" in {e["type"] for e in caught.value.errors()}


def test_null_with_and_on_failure_mean_empty_and_booleans_are_conditions() -> None:
    step = Step.model_validate({"id": "a", "uses": "a.b", "with": None, "on_failure": None})
    assert step.with_ == {} and step.on_failure == []
    assert Step.model_validate({"id": "a", "uses": "a.b", "if": False}).if_ == "false"


@pytest.mark.parametrize("name", ["Crm", "crm_to", "-crm", "crm-", "crm--x", "", "crm\n"])
def test_workflow_name_must_be_a_slug(name: str) -> None:
    with pytest.raises(ValidationError, match="not a valid workflow name"):
        Workflow.model_validate(_workflow(name=name))


@pytest.mark.parametrize("step_id", ["1st", "_x", "a.b", "a b", ""])
def test_step_id_must_start_with_a_letter(step_id: str) -> None:
    with pytest.raises(ValidationError, match="not a valid step id"):
        Step.model_validate({"id": step_id, "uses": "acme.x"})


@pytest.mark.parametrize("uses", ["acme", "acme.", ".x", "Acme.x", "acme x"])
def test_uses_must_be_connector_dot_operation(uses: str) -> None:
    with pytest.raises(ValidationError, match=r"connector\.operation"):
        Step.model_validate({"id": "a", "uses": uses})


def test_workflow_needs_steps_a_priority_and_positive_concurrency() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        Workflow.model_validate(_workflow(steps=[]))
    with pytest.raises(ValidationError, match="'interactive', 'default' or 'bulk'"):
        Workflow.model_validate(_workflow(priority="urgent"))
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        Workflow.model_validate(_workflow(concurrency={"key": "{{ event.id }}", "limit": 0}))
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Workflow.model_validate(_workflow(concurrency={"keys": "a"}))
    concurrency = {"key": "{{ event.id }}", "limit": 2}
    wf = Workflow.model_validate(_workflow(priority="bulk", concurrency=concurrency))
    assert (wf.priority, wf.description, wf.on_failure) == ("bulk", "", [])
    assert wf.concurrency is not None
    assert (wf.concurrency.key, wf.concurrency.limit) == ("{{ event.id }}", 2)
    assert Workflow.model_validate(_workflow()).concurrency is None


def test_a_step_takes_a_concurrency_key_whose_limit_defaults_to_one() -> None:
    step = Step.model_validate({"id": "a", "uses": "acme.x", "concurrency": {"key": "k"}})
    assert step.concurrency is not None
    assert (step.concurrency.key, step.concurrency.limit) == ("k", 1)
    assert step.model_dump()["concurrency"] == {"key": "k", "limit": 1}


@pytest.mark.parametrize(
    "trigger",
    [{}, {"webhook": {"source": "a"}, "schedule": {"every": "5m"}}, {"webhook": None}],
)
def test_trigger_needs_exactly_one_kind(trigger: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="exactly one of 'webhook', 'schedule' or 'poll'"):
        Trigger.model_validate(trigger)


def test_trigger_kind_and_dump_leave_out_unset_kinds() -> None:
    poll = Trigger.model_validate({"poll": {"uses": "acme.people.list", "cursor": "updatedAt"}})
    assert poll.kind == "poll"
    assert poll.model_dump() == {
        "poll": {"uses": "acme.people.list", "with": {}, "cursor": "updatedAt", "every": "5m"}
    }
    assert poll.poll is not None and poll.poll.every_seconds == 300
    assert Trigger.model_validate({"schedule": {"cron": "0 * * * *"}}).kind == "schedule"


def test_webhook_event_defaults_to_every_event() -> None:
    assert WebhookTrigger(source="crm").event == "*"
    with pytest.raises(ValidationError, match="not a valid webhook source"):
        WebhookTrigger(source="CRM hooks")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("1d", 86400),
        ("1.5h", 5400),
        (45, 45),
        ("90", 90),
    ],
)
def test_durations_parse_to_seconds(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds
    if isinstance(text, str):
        assert ScheduleTrigger(every=text).every_seconds == seconds


def test_a_numeric_every_is_seconds_and_dumps_as_text() -> None:
    trigger = ScheduleTrigger.model_validate({"every": 300})
    assert trigger.every == "300s" and trigger.every_seconds == 300
    assert trigger.model_dump() == {"every": "300s"}


@pytest.mark.parametrize("text", ["5x", "m", "0s", "-5m", "five minutes", ""])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="duration"):
        ScheduleTrigger(every=text)


def test_schedule_needs_exactly_one_of_every_or_cron() -> None:
    for data in ({}, {"every": "5m", "cron": "* * * * *"}):
        with pytest.raises(ValidationError, match="exactly one of 'every' or 'cron'"):
            ScheduleTrigger.model_validate(data)


@pytest.mark.parametrize(
    "cron",
    ["*/5 * * * *", "0 9 * * mon-fri", "0,30 8-18 1 jan,jul 0", "15 3 */2 * sun", "@daily"],
)
def test_valid_cron_expressions(cron: str) -> None:
    trigger = ScheduleTrigger(cron=cron)
    assert trigger.cron_fields is not None and len(trigger.cron_fields) == 5
    assert trigger.every_seconds is None


def test_cron_macros_expand_to_five_fields() -> None:
    assert cron_fields("@hourly") == ("0", "*", "*", "*", "*")


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("* * * *", "has 4 fields; it needs 5"),
        ("60 * * * *", "minute 60 is out of range 0-59"),
        ("* 24 * * *", "hour 24 is out of range 0-23"),
        ("* * 0 * *", "day of month 0 is out of range 1-31"),
        ("* * * 13 *", "month 13 is out of range 1-12"),
        ("* * * * 7", "day of week 7 is out of range 0-6"),
        ("*/0 * * * *", "a step of 0 is not allowed"),
        ("5-1 * * * *", "runs backwards"),
        ("* * * * funday", "'funday' is not a number"),
        ("? * * * *", "not valid cron syntax"),
    ],
)
def test_invalid_cron_names_the_field(cron: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ScheduleTrigger(cron=cron)


def test_poll_trigger_needs_a_cursor_field_path() -> None:
    with pytest.raises(ValidationError, match="Field required"):
        PollTrigger.model_validate({"uses": "acme.people.list"})
    with pytest.raises(ValidationError, match="not a valid cursor field"):
        PollTrigger.model_validate({"uses": "acme.people.list", "cursor": "updated at"})
    poll = PollTrigger.model_validate(
        {"uses": "acme.people.list", "cursor": "meta.updatedAt", "every": "1m"}
    )
    assert poll.every_seconds == 60


def test_retry_override_fields_are_optional_and_checked() -> None:
    assert RetryOverride().model_dump() == {
        "max_attempts": None,
        "backoff_base_seconds": None,
        "backoff_cap_seconds": None,
    }
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        RetryOverride(max_attempts=0)
    with pytest.raises(ValidationError, match="must not be below backoff_base_seconds"):
        RetryOverride(backoff_base_seconds=10, backoff_cap_seconds=5)


def test_matches_event_globs_for_webhook_workflows() -> None:
    wf = Workflow.model_validate(_workflow())
    assert wf.webhook is not None and wf.webhook.source == "crm"
    assert wf.matches("crm", "contact.created")
    assert wf.matches("crm", "contact.deleted")
    assert not wf.matches("crm", "invoice.created")
    assert not wf.matches("plutio", "contact.created")
    star = Workflow.model_validate(_workflow(trigger={"webhook": {"source": "crm"}}))
    assert star.matches("crm", "anything.at.all")


def test_schedule_workflows_match_no_webhook() -> None:
    wf = Workflow.model_validate(_workflow(trigger={"schedule": {"every": "5m"}}))
    assert wf.webhook is None
    assert not wf.matches("crm", "contact.created")


def test_loader_attributes_stay_out_of_dumps_and_schema() -> None:
    wf = Workflow.model_validate(_workflow())
    wf.attach_source(path="w.yaml", text="name: x", revision="abc123def456")
    assert (wf.source_path, wf.source_text, wf.revision) == ("w.yaml", "name: x", "abc123def456")
    for hidden in ("revision", "source_path", "source_text", "positions"):
        assert hidden not in wf.model_dump()
        assert hidden not in str(Workflow.model_json_schema())


def test_revision_without_a_file_hashes_the_content() -> None:
    one = Workflow.model_validate(_workflow())
    two = Workflow.model_validate(_workflow())
    other = Workflow.model_validate(_workflow(description="changed"))
    assert len(one.revision) == 12 and int(one.revision, 16) >= 0
    assert one.revision == two.revision != other.revision
    assert revision_of(b"abc") == "ba7816bf8f01"  # sha256("abc")


def test_all_steps_lists_nested_on_failure_steps_with_locations() -> None:
    wf = Workflow.model_validate(
        _workflow(on_failure=[{"id": "alert", "uses": "mail.send", "with": {"to": "a@b"}}])
    )
    assert [(loc, step.id) for loc, step in wf.all_steps()] == [
        (("steps", 0), "existing"),
        (("steps", 1), "person"),
        (("steps", 1, "on_failure", 0), "tell"),
        (("on_failure", 0), "alert"),
    ]
