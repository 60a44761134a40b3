"""Loading workflow files: positions, every problem at once, folders, the broken corpus."""

from __future__ import annotations

import hashlib
import pickle
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.core.errors import ConfigError
from hub.workflow.loader import (
    Problem,
    WorkflowError,
    load_folder,
    load_workflow,
    load_workflow_text,
    parse_workflow,
)
from hub.workflow.model import Workflow

from .fakes import OPERATION_NAMES, lookup

BROKEN = Path(__file__).parent / "broken"
_EXPECT = re.compile(r"^# expect: (\d+):(\d+): (.*)$")

GOOD = """\
name: crm-contact-to-person
trigger:
  webhook: { source: crm, event: contact.created }
if: "{{ event.data.email }}"
steps:
  - id: existing
    uses: acme.people.find
    with: { query: { email: "{{ event.data.email }}" } }
  - id: person
    if: "{{ not steps.existing }}"
    uses: acme.people.create
    with:
      name: { first: "{{ event.data.first_name }}", last: "{{ event.data.last_name }}" }
      contactEmails: [ { address: "{{ event.data.email }}", type: work } ]
"""


def _expected(path: Path) -> list[str]:
    found = []
    for line in path.read_text().splitlines():
        match = _EXPECT.match(line)
        if match is None:
            break
        found.append(f"{path}:{match[1]}:{match[2]}: {match[3]}")
    return found


def test_the_corpus_has_at_least_30_files_each_with_expectations() -> None:
    files = sorted(BROKEN.glob("*.yaml"))
    assert len(files) >= 30
    assert all(_expected(f) for f in files)


@pytest.mark.parametrize("path", sorted(BROKEN.glob("*.yaml")), ids=lambda p: p.stem)
def test_broken_workflow_reports_file_line_column_and_message(path: Path) -> None:
    with pytest.raises(WorkflowError) as caught:
        load_workflow(path, lookup=lookup, known_operations=OPERATION_NAMES)
    assert [str(p) for p in caught.value.problems] == _expected(path)
    assert all(p.path == str(path) for p in caught.value.problems)


def test_a_good_workflow_loads_with_its_source_and_revision() -> None:
    wf = load_workflow_text(GOOD, "crm.yaml", lookup=lookup)
    assert wf.name == "crm-contact-to-person"
    assert wf.steps[1].if_ == "{{ not steps.existing }}"
    assert wf.source_path == "crm.yaml" and wf.source_text == GOOD
    assert wf.revision == hashlib.sha256(GOOD.encode()).hexdigest()[:12]
    assert wf.positions is not None
    assert wf.positions.value(("steps", 1, "uses")).line == 11


def test_revision_hashes_the_text_so_file_and_text_agree(tmp_path: Path) -> None:
    path = tmp_path / "crm.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())  # with a UTF-8 byte order mark
    from_file = load_workflow(path, lookup=lookup)
    from_text = load_workflow_text(from_file.source_text, "other-name.yaml", lookup=lookup)
    assert from_file.revision == hashlib.sha256(GOOD.encode()).hexdigest()[:12]
    assert from_text.revision == from_file.revision
    assert from_file.source_path == str(path) and from_file.source_text == GOOD
    changed = load_workflow_text(GOOD + "# a comment\n", lookup=lookup)
    assert changed.revision != from_file.revision


def test_all_problems_come_at_once_sorted_by_position(problems: Callable[..., list[str]]) -> None:
    found = problems(
        """\
        name: Bad Name
        trigger:
          webhook: { source: crm }
        steps:
          - id: a
            uses: acme.people.find
            with: { query: "{{ evnt.x }}", limt: 3 }
          - id: b
            uses: acme.people.fnd
            if: "{{ steps.c }}"
          - id: a
            uses: mail.send
            with: { to: x@y, subject: "{{ oops( }}" }
        """
    )
    assert found == [
        "1:7: 'name': 'Bad Name' is not a valid workflow name; use lowercase letters, digits "
        "and dashes",
        "7:20: unknown name 'evnt' in template; did you mean 'event'? (names available here: "
        "event, run, secrets, steps, workflow)",
        "7:36: unknown argument 'limt' for acme.people.find; did you mean 'limit'?",
        "9:11: unknown operation 'acme.people.fnd' (did you mean 'acme.people.find'?); acme "
        "offers: notes.create, people.create, people.find, people.list",
        "10:9: 'steps.c' is not a step of this workflow (earlier steps: a)",
        "11:9: duplicate step id 'a' (also used at line 5, column 9); step ids must be unique "
        "in a workflow, on_failure steps included",
        "13:31: template syntax error: unexpected '}', expected ')'",
    ]


def test_yaml_syntax_error_position(problems: Callable[..., list[str]]) -> None:
    assert problems("name: x\ntrigger: [a\nsteps: []\n") == [
        "3:6: YAML syntax error: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence at line 2, column 10)"
    ]


def test_unknown_keys_get_a_hint_or_the_allowed_list(problems: Callable[..., list[str]]) -> None:
    found = problems(
        """\
        name: x
        trigger: { webhook: { source: crm } }
        steps:
          - id: a
            uses: acme.people.find
            wiht: {}
            retry: { max_attempt: 2, jitter: true }
        """
    )
    assert found == [
        "6:5: unknown field 'wiht' (did you mean 'with'?)",
        "7:14: unknown field 'max_attempt' (did you mean 'max_attempts'?)",
        "7:30: unknown field 'jitter' (allowed in retry: max_attempts, backoff_base_seconds, "
        "backoff_cap_seconds)",
    ]


def test_python_spelling_of_aliases_is_an_unknown_field(
    problems: Callable[..., list[str]],
) -> None:
    found = problems(
        """\
        name: x
        trigger: { webhook: { source: crm } }
        steps:
          - { id: a, uses: acme.people.find, with_: {}, if_: "true" }
        """
    )
    assert found == [
        "4:38: unknown field 'with_' (did you mean 'with'?)",
        "4:49: unknown field 'if_' (did you mean 'if'?)",
    ]


def test_wrong_types_point_at_the_value(problems: Callable[..., list[str]]) -> None:
    found = problems(
        """\
        name: x
        description: [not, text]
        trigger: { webhook: { source: crm } }
        steps:
          - { id: a, uses: acme.people.find, with: [1], foreach: 5 }
        """
    )
    assert found == [
        "2:14: 'description' should be a valid string",
        "5:44: 'steps[0].with' should be a valid dictionary",
        "5:58: 'steps[0].foreach' should be a valid string (got 5)",
    ]


def test_missing_keys_point_at_the_mapping(problems: Callable[..., list[str]]) -> None:
    found = problems(
        """\
        name: x
        trigger:
          webhook: { event: contact.created }
        steps:
          - id: a
        """
    )
    assert found == [
        "3:12: the webhook trigger is missing the required field 'source'",
        "5:5: the step is missing the required field 'uses'",
    ]


def test_duplicate_keys_are_problems_even_when_the_rest_is_valid(
    problems: Callable[..., list[str]],
) -> None:
    found = problems(GOOD.replace("name: crm-contact-to-person\n", "name: a\nname: b\n"))
    assert found == [
        "2:1: duplicate key 'name' (first at line 1, column 1); YAML would keep only the "
        "last one: remove one"
    ]


def test_foreach_defines_item_and_index_in_with_and_if(load: Callable[[str], Workflow]) -> None:
    wf = load(
        """\
        name: x
        trigger: { webhook: { source: crm } }
        steps:
          - id: people
            foreach: "{{ event.data.people }}"
            if: "item.email and index < 10"
            uses: acme.people.create
            with: { name: { first: "{{ item.first }}" }, tags: ["{{ index }}"] }
        """
    )
    assert wf.steps[0].foreach == "{{ event.data.people }}"


def test_on_failure_steps_read_error_and_earlier_steps(load: Callable[[str], Workflow]) -> None:
    wf = load(
        """\
        name: x
        trigger: { webhook: { source: crm } }
        steps:
          - id: find
            uses: acme.people.find
          - id: create
            uses: acme.people.create
            with: { name: { first: x } }
            on_failure:
              - id: tell
                uses: mail.send
                with: { to: ops@x, subject: "{{ error.message }} {{ steps.find | length }}" }
        on_failure:
          - id: alert
            uses: mail.send
            with: { to: ops@x, subject: "{{ error }} after {{ steps.create }}" }
          - id: alert2
            uses: mail.send
            with: { to: ops@x, subject: "{{ steps.alert }}" }
        """
    )
    assert [s.id for s in wf.on_failure] == ["alert", "alert2"]


def test_schedule_and_poll_triggers_load(load: Callable[[str], Workflow]) -> None:
    base = "name: x\nsteps:\n  - { id: a, uses: acme.people.find }\n"
    cron = load(base + "trigger: { schedule: { cron: '0 9 * * mon-fri' } }\n")
    assert cron.trigger.schedule is not None
    assert cron.trigger.schedule.cron_fields == ("0", "9", "*", "*", "mon-fri")
    poll = load(
        base + "trigger:\n  poll:\n    uses: acme.people.list\n"
        "    with: { updated_since: '{{ cursor }}', limit: 50 }\n"
        "    cursor: updatedAt\n    every: 2m\n"
    )
    assert poll.trigger.poll is not None and poll.trigger.poll.every_seconds == 120


def test_poll_operation_is_checked(problems: Callable[..., list[str]]) -> None:
    found = problems(
        """\
        name: x
        trigger: { poll: { uses: acme.people.lists, cursor: updatedAt } }
        steps:
          - { id: a, uses: acme.people.find }
        """
    )
    assert found == [
        "2:26: unknown operation 'acme.people.lists' (did you mean 'acme.people.list'?); acme "
        "offers: notes.create, people.create, people.find, people.list"
    ]


def test_yaml_features_that_stay_plain(load: Callable[[str], Workflow]) -> None:
    wf = load(
        """\
        name: x
        trigger: { webhook: { source: crm } }
        steps:
          - &base
            id: a
            uses: acme.people.create
            with: { name: { first: Ada }, role: 2024-05-01, tags: ["yes", "on"] }
          - <<: *base
            id: b
          - id: c
            uses: acme.people.find
            with: { query: { on: yes, 2: x, "null": ~ } }
        """
    )
    assert wf.steps[2].with_["query"] == {"on": True, "2": "x", "null": None}  # keys stay text
    assert wf.steps[0].with_["role"] == "2024-05-01"  # dates stay text
    assert wf.steps[0].with_["tags"] == ["yes", "on"]
    assert wf.steps[1].uses == "acme.people.create"  # merged from the anchor


def test_recursive_aliases_are_refused(problems: Callable[..., list[str]]) -> None:
    found = problems("name: x\ntrigger: &t { webhook: *t }\nsteps: [{ id: a, uses: mail.send }]\n")
    assert "2:10: recursive YAML alias: an anchor may not contain itself" in found


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 7)]
    with pytest.raises(WorkflowError, match="aliases expand past 100000 nodes"):
        load_workflow_text("\n".join(lines) + "\n", lookup=lookup)


def test_files_that_are_not_utf8_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: x\ndescription: caf\xe9\n")
    with pytest.raises(WorkflowError) as caught:
        load_workflow(path, lookup=lookup)
    assert str(caught.value) == f"{path}:2:17: the file is not UTF-8 text; save it as UTF-8"


def test_a_missing_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match="cannot read workflow file: No such file"):
        load_workflow(tmp_path / "nope.yaml", lookup=lookup)


def test_workflow_error_is_a_config_error_one_problem_per_line() -> None:
    problems = [Problem("b.yaml", 2, 1, "second"), Problem("a.yaml", 5, 3, "first")]
    error = WorkflowError(problems)
    assert isinstance(error, ConfigError)
    assert str(error) == "a.yaml:5:3: first\nb.yaml:2:1: second"
    assert str(Problem("w", 0, 0, "no position")) == "w: no position"
    again = pickle.loads(pickle.dumps(error))
    assert again.problems == error.problems and str(again) == str(error)


def test_parse_workflow_returns_problems_without_raising() -> None:
    wf, found = parse_workflow(GOOD, "a.yaml", lookup=lookup)
    assert wf is not None and found == []
    wf, found = parse_workflow("name: [", "b.yaml", lookup=lookup)
    assert wf is None and found[0].path == "b.yaml"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_load_folder_loads_yaml_and_yml_and_skips_tests_and_subfolders(tmp_path: Path) -> None:
    _write(tmp_path, "b.yml", GOOD.replace("crm-contact-to-person", "second"))
    _write(tmp_path, "a.yaml", GOOD)
    _write(tmp_path, "a.test.yaml", "this: [is not a workflow")
    _write(tmp_path, "b.test.yml", "neither: [is this")
    _write(tmp_path, "notes.txt", "ignored")
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", "c.yaml", "broken: [")
    workflows = load_folder(tmp_path, lookup=lookup)
    assert [wf.name for wf in workflows] == ["crm-contact-to-person", "second"]


def test_load_folder_reports_problems_of_every_file_and_duplicate_names(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", GOOD)
    _write(tmp_path, "b.yaml", GOOD)
    _write(tmp_path, "c.yaml", "name: [")
    _write(tmp_path, "d.yaml", GOOD.replace("acme.people.find", "acme.people.fnd"))
    with pytest.raises(WorkflowError) as caught:
        load_folder(tmp_path, lookup=lookup)
    lines = str(caught.value).splitlines()
    assert len(lines) == 3
    assert lines[0] == (
        f"{tmp_path / 'b.yaml'}:1:7: workflow name 'crm-contact-to-person' is already used "
        f"by {tmp_path / 'a.yaml'}; names must be unique: rename one"
    )
    assert lines[1].startswith(f"{tmp_path / 'c.yaml'}:1:8: YAML syntax error: ")
    assert lines[2].startswith(f"{tmp_path / 'd.yaml'}:7:11: unknown operation 'acme.people.fnd'")


def test_load_folder_of_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match="workflow folder does not exist"):
        load_folder(tmp_path / "nope", lookup=lookup)


def test_an_empty_folder_has_no_workflows(tmp_path: Path) -> None:
    assert load_folder(tmp_path, lookup=lookup) == []
