"""Where values are read: headers, dotted paths with list indexes, formats and their inverse."""

from __future__ import annotations

import pytest

from hub.intake.extract import Format, Locator, check_path

BODY = {
    "type": "contact.created",
    "meta": {"entity": "person", "action": "create", "id": 42},
    "events": [{"id": "e1"}, {"id": "e2"}],
    "flag": True,
}


def test_headers_first_then_paths_then_formats() -> None:
    locator = Locator(
        ("X-Event-Type",), ("missing", "type"), (Format.parse("{meta.entity}.{meta.action}"),)
    )
    assert locator.read({"x-event-type": "from.header"}, BODY) == "from.header"
    assert locator.read({}, BODY) == "contact.created"
    assert locator.read({}, {"meta": BODY["meta"]}) == "person.create"
    assert locator.read({}, {}) is None


def test_an_empty_header_is_not_a_value() -> None:
    assert Locator(("X-Id",), ("type",)).read({"x-id": ""}, BODY) == "contact.created"


def test_paths_take_list_indexes() -> None:
    assert Locator((), ("events.1.id",)).read({}, BODY) == "e2"
    assert Locator((), ("events.2.id",)).read({}, BODY) is None
    assert Locator((), ("events.x",)).read({}, BODY) is None


def test_a_format_reads_headers_and_paths_and_needs_all_its_parts() -> None:
    fmt = Format.parse("{header:X-Plane-Event}.{action}")
    assert fmt.read({"x-plane-event": "issue"}, {"action": "created"}) == "issue.created"
    assert fmt.read({}, {"action": "created"}) is None
    assert Format.parse("{meta.id}").read({}, BODY) == "42"
    assert Format.parse("{flag}").read({}, BODY) is None  # true/false is no id


def test_a_list_of_formats_falls_back_to_the_next() -> None:
    locator = Locator(
        formats=(Format.parse("{header:X-GitHub-Event}.{action}"), Format.parse("{header:X}"))
    )
    assert locator.read({"x-github-event": "issues", "x": "issues"}, {"action": "opened"}) == (
        "issues.opened"
    )
    assert locator.read({"x": "ping"}, {}) == "ping"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("entity.action", "has no placeholder"),
        ("{meta..entity}", "is not a path"),
        ("{header:}", "name the header"),
        ("{a}.{b", "a brace that opens no placeholder"),
    ],
)
def test_a_broken_format_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Format.parse(text)


def test_a_format_read_backwards_gives_each_part() -> None:
    fmt = Format.parse("{meta.entity}.{meta.action}")
    assert fmt.split("person.create") == [
        (False, "meta.entity", "person"),
        (False, "meta.action", "create"),
    ]
    assert fmt.split("nodot") is None
    plane = Format.parse("{header:X-Plane-Event}.{action}")
    assert plane.split("issue.created") == [
        (True, "x-plane-event", "issue"),
        (False, "action", "created"),
    ]


def test_describe_names_every_place() -> None:
    locator = Locator(("X-Event-Type",), ("type",), (Format.parse("{a}.{b}"),))
    assert locator.describe() == "a X-Event-Type header or a 'type' field or '{a}.{b}'"


@pytest.mark.parametrize("path", ["", "a.", ".a", "a..b", " "])
def test_check_path_refuses_empty_parts(path: str) -> None:
    with pytest.raises(ValueError, match="is not a path"):
        check_path(path)
