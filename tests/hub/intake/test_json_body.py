"""Reading a body as RFC 8259 JSON: what is refused, and that the checks are exact."""

from __future__ import annotations

import json

import pytest

from hub.intake.json_body import BadBody, lone_surrogate, nesting_depth, parse_json


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "]]]"]', 1),
        ('{"a\\"[[": "\\\\", "b": [[]]}', 3),
        ("[" * 500 + "]" * 500, 500),
    ],
)
def test_nesting_depth_ignores_brackets_in_strings(text: str, depth: int) -> None:
    json.loads(text)  # each is valid JSON
    assert nesting_depth(text) == depth


@pytest.mark.parametrize(
    ("text", "half"),
    [
        ('"\\ud83d\\ude00"', None),  # an emoji, as a pair: fine
        ('"\\ud800"', "\\ud800"),
        ('"\\uDC00 after"', "\\uDC00"),
        ('"\\ud83d\\u0041"', "\\ud83d"),
        ('"\\\\ud800"', None),  # a backslash, then the letters ud800
        ('"\\\\\\ud800"', "\\ud800"),  # a backslash, then the escape
        ('"plain"', None),
    ],
)
def test_lone_surrogates_are_found_exactly(text: str, half: str | None) -> None:
    assert lone_surrogate(text) == half


def test_limits_are_the_callers() -> None:
    assert parse_json(b"[[1]]", max_depth=2)[0] == [[1]]
    with pytest.raises(BadBody, match="deeper than 1 levels"):
        parse_json(b"[[1]]", max_depth=1)


def test_the_text_is_returned_without_a_byte_order_mark() -> None:
    document, text = parse_json(b'\xef\xbb\xbf{"a": "\xc3\xa9"}')
    assert document == {"a": "é"} and text == '{"a": "é"}'


def test_numbers_that_fit_are_kept() -> None:
    assert parse_json(b"[1e308, -0.5, 12345678901234567890]")[0] == [
        1e308,
        -0.5,
        12345678901234567890,
    ]
