"""Templates: native values, text, errors naming where, the sandbox, filters, secrets."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import SecretStr

from hub.core.errors import TemplateError
from hub.workflow.jinja_env import compile_template
from hub.workflow.templates import (
    Secret,
    check_syntax,
    evaluate,
    redact,
    referenced_names,
    render,
    secrets_context,
    truthy,
)

WHERE = "workflow 'crm-contact-to-plutio-person' step 'person' field 'with'"


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {
        "event": {
            "id": "ev-1",
            "created": 1_700_000_000,
            "data": {
                "email": "Ada@Example.com",
                "first_name": " Ada ",
                "count": 3,
                "price": 9.5,
                "tags": ["a", "b"],
                "address": {"city": "Oslo"},
                "nothing": None,
                "active": True,
                "when": "2024-05-01T10:30:00Z",
                "ms": 1_714_559_400_000,
            },
        },
        "steps": {"existing": [], "person": {"_id": "p1"}},
        "secrets": {"CRM_TOKEN": SecretStr("tok-123456"), "PLAIN": "plain-secret"},
    }


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ event.data.count }}", 3),
        ("{{ event.data.price }}", 9.5),
        ("{{ event.data.tags }}", ["a", "b"]),
        ("{{ event.data.address }}", {"city": "Oslo"}),
        ("{{ event.data.nothing }}", None),
        ("{{ event.data.active }}", True),
        ("  {{ event.data.count + 1 }}\n", 4),
        ("{{- event.data.count -}}", 3),
        ("{{ steps.existing }}", []),
        ("{{ [event.data.count, 'x'] }}", [3, "x"]),
        ("{{ {'n': event.data.count} }}", {"n": 3}),
        ("{{ '}}' }}", "}}"),
    ],
)
def test_a_single_expression_keeps_its_type(
    ctx: dict[str, Any], template: str, expected: Any
) -> None:
    result = render(template, ctx, where=WHERE)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hi {{ event.data.first_name | trim }}!", "Hi Ada!"),
        ("{{ event.data.count }} items", "3 items"),
        ("{{ event.data.count }}{{ event.data.count }}", "33"),
        ("n={{ event.data.nothing }}", "n="),
        ("active={{ event.data.active }}", "active=true"),
        ("tags={{ event.data.tags }}", 'tags=["a","b"]'),
        ("{% if event.data.count > 2 %}many{% else %}few{% endif %}", "many"),
        ("{% for t in event.data.tags %}{{ loop.index }}{{ t }}{% endfor %}", "1a2b"),
    ],
)
def test_mixed_strings_render_to_text(ctx: dict[str, Any], template: str, expected: str) -> None:
    assert render(template, ctx, where=WHERE) == expected


def test_render_walks_mappings_and_lists_and_leaves_other_values(ctx: dict[str, Any]) -> None:
    value = {
        "name": {"first": "{{ event.data.first_name | trim }}", "last": "Lovelace"},
        "contactEmails": [{"address": "{{ event.data.email | lower }}", "type": "work"}],
        "limit": 10,
        "flag": False,
        "none": None,
    }
    assert render(value, ctx, where=WHERE) == {
        "name": {"first": "Ada", "last": "Lovelace"},
        "contactEmails": [{"address": "ada@example.com", "type": "work"}],
        "limit": 10,
        "flag": False,
        "none": None,
    }


def test_plain_strings_are_returned_as_they_are(ctx: dict[str, Any]) -> None:
    text = "no markup here: {single} braces } {"
    assert render(text, ctx, where=WHERE) is text


def test_undefined_names_say_where_and_what(ctx: dict[str, Any]) -> None:
    with pytest.raises(TemplateError) as caught:
        render("{{ event.data.emial }}", ctx, where=WHERE)
    assert str(caught.value) == (
        f"{WHERE}: 'event.data.emial' is undefined (event.data has: active, address, "
        "count, email, first_name, ms, nothing, price, tags, when)"
    )


def test_undefined_inside_nested_value_names_the_full_field(ctx: dict[str, Any]) -> None:
    value = {"name": {"first": "{{ event.data.frist_name }}"}}
    with pytest.raises(TemplateError) as caught:
        render(value, ctx, where=WHERE)
    message = str(caught.value)
    assert message.startswith(
        "workflow 'crm-contact-to-plutio-person' step 'person' field 'with.name.first': "
        "'event.data.frist_name' is undefined"
    )
    with pytest.raises(TemplateError, match=r"field 'with.tags\[1\]': 'evnt' is undefined"):
        render({"tags": ["ok", "{{ evnt.id }}"]}, ctx, where=WHERE)


def test_undefined_top_level_name_lists_available_names(ctx: dict[str, Any]) -> None:
    with pytest.raises(TemplateError) as caught:
        render("Hi {{ evnt.data }}", ctx, where="w")
    assert str(caught.value) == "w: 'evnt' is undefined (names available: event, secrets, steps)"


def test_undefined_inside_a_list_literal_is_caught(ctx: dict[str, Any]) -> None:
    with pytest.raises(TemplateError, match=r"'event\.nope' is undefined"):
        render("{{ [event.nope] }}", ctx, where=WHERE)


def test_default_filter_covers_undefined(ctx: dict[str, Any]) -> None:
    assert render("{{ event.data.phone | default('n/a') }}", ctx, where=WHERE) == "n/a"
    assert render("{{ event.data.phone is defined }}", ctx, where=WHERE) is False


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ ''.__class__.__mro__ }}", "access to '__class__' is not allowed in templates"),
        ("{{ event.__class__.__subclasses__() }}", "access to '__class__' is not allowed"),
        ("{{ event.data.tags.__class__.__base__.__subclasses__() }}", "'__class__'"),
        ("{{ now.__globals__ }}", "access to '__globals__' is not allowed in templates"),
        ("{{ x.__globals__ }}", "'x' is undefined"),
        ("{{ cycler.__init__.__globals__ }}", "access to '__init__' is not allowed"),
        ("{{ lipsum.__globals__ }}", "'lipsum' is undefined"),
        ("{{ joiner }}{{ namespace }}", "'joiner' is undefined"),
        ("{{ self._TemplateReference__context }}", "access to '_TemplateReference__context'"),
        ("{{ event.data.tags.append(1) }}", "access to 'append' is not allowed in templates"),
        ("{{ event.data.update({}) }}", "access to 'update' is not allowed in templates"),
        ("{{ ('a' * 1000000) }}", "result would exceed 100000 items"),
        ("{{ 9 ** 99999 }}", "exponent 99999 is too large"),
        ("{{ '%999999s' % 'x' }}", "'%' formatting with a width of 1000 or more"),
        ("{{ range(100000) | length }}", "range() may give at most 1000 numbers"),
        ("{% import 'os' as os %}", "'{% import %}' is not allowed in templates"),
        ("{% from 'x' import y %}", "'{% from ... import %}' is not allowed in templates"),
        ("{% include '/etc/passwd' %}", "'{% include %}' is not allowed in templates"),
        ("{% extends 'base' %}", "'{% extends %}' is not allowed in templates"),
    ],
)
def test_sandbox_refuses_escapes(ctx: dict[str, Any], template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render(template, ctx, where=WHERE)
    assert str(caught.value).startswith(f"{WHERE}: ")
    assert message in str(caught.value)


def test_syntax_errors_name_where(ctx: dict[str, Any]) -> None:
    with pytest.raises(TemplateError) as caught:
        render("Hi {{ event.data.email ", ctx, where=WHERE)
    assert str(caught.value).startswith(f"{WHERE}: template syntax error: ")


def test_a_function_is_not_data(ctx: dict[str, Any]) -> None:
    with pytest.raises(TemplateError, match=r"gives a function, not data .*call it with \(\)"):
        render("{{ now }}", ctx, where=WHERE)


def test_filter_errors_name_where(ctx: dict[str, Any]) -> None:
    with pytest.raises(TemplateError, match=r"^w: ValueError: cannot read a date from 'soon'"):
        render("{{ 'soon' | date }}", ctx, where="w")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ event.data.nothing | default('x', true) }}", "x"),
        ("{{ event.data.email | lower }}", "ada@example.com"),
        ("{{ event.data.email | upper }}", "ADA@EXAMPLE.COM"),
        ("{{ event.data.tags | join(', ') }}", "a, b"),
        ("{{ event.data.address | json }}", '{"city":"Oslo"}'),
        ("{{ {'a': [1, 'é']} | json }}", '{"a":[1,"é"]}'),
        ("{{ event.created | date('%Y-%m-%d') }}", "2023-11-14"),
        ("{{ event.data.when | date }}", "2024-05-01"),
        ("{{ event.data.when | date('%d/%m/%Y %H:%M') }}", "01/05/2024 10:30"),
        ("{{ event.data.ms | datetime }}", "2024-05-01T10:30:00Z"),
        ("{{ '2024-05-01T12:30:00+02:00' | datetime }}", "2024-05-01T10:30:00Z"),
        ("{{ event.created | datetime('%H:%M') }}", "22:13"),
        ("{{ '42' | int }}", 42),
        ("{{ '2.5' | float }}", 2.5),
        ("{{ event.data.count | string }}", "3"),
        ("{{ event.data.first_name | trim }}", "Ada"),
        ("{{ event.data.tags | length }}", 2),
        ("{{ event.data.tags | first }}", "a"),
        ("{{ event.data.tags | last }}", "b"),
        ("{{ event.data.email | replace('@', ' at ') }}", "Ada at Example.com"),
        ("{{ range(3) }}", [0, 1, 2]),
    ],
)
def test_filters(ctx: dict[str, Any], template: str, expected: Any) -> None:
    assert render(template, ctx, where=WHERE) == expected


def test_now_is_utc_iso_to_the_second(ctx: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", render("{{ now() }}", ctx, where="w"))


def test_secrets_render_their_plain_value_as_secret_strings(ctx: dict[str, Any]) -> None:
    token = render("{{ secrets.CRM_TOKEN }}", ctx, where=WHERE)
    assert token == "tok-123456" and isinstance(token, Secret)
    assert repr(token) == "Secret('***')" and "tok" not in repr({"t": token})
    header = render("Bearer {{ secrets.CRM_TOKEN }}", ctx, where=WHERE)
    assert header == "Bearer tok-123456"
    assert render("{{ secrets.PLAIN }}", ctx, where=WHERE) == "plain-secret"


def test_a_missing_secret_is_an_error_naming_the_secret(ctx: dict[str, Any]) -> None:
    with pytest.raises(TemplateError, match=r"'secrets.NOPE' is undefined \(secrets has:"):
        render("{{ secrets.NOPE }}", ctx, where=WHERE)


def test_secrets_context_wraps_values() -> None:
    wrapped = secrets_context({"A": SecretStr("x"), "B": "y"})
    assert wrapped == {"A": "x", "B": "y"}
    assert all(isinstance(v, Secret) for v in wrapped.values())


def test_redact_replaces_secret_text_anywhere(ctx: dict[str, Any]) -> None:
    rendered = render(
        {
            "headers": {"Authorization": "Bearer {{ secrets.CRM_TOKEN }}"},
            "raw": "{{ secrets.PLAIN }}",
            "n": 1,
        },
        ctx,
        where=WHERE,
    )
    secrets: dict[str, SecretStr | str] = {
        "CRM_TOKEN": SecretStr("tok-123456"),
        "PLAIN": "plain-secret",
    }
    assert redact(rendered, secrets) == {
        "headers": {"Authorization": "Bearer ***"},
        "raw": "***",
        "n": 1,
    }
    nested = ["x tok-123456 y", ("plain-secret",), {"tok-123456": None}, 5, None]
    assert redact(nested, secrets) == ["x *** y", ("***",), {"***": None}, 5, None]
    assert redact(Secret("unlisted"), {}) == "***"
    assert redact("nothing to hide", {"EMPTY": ""}) == "nothing to hide"


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("{{ not steps.existing }}", True),
        ("not steps.existing", True),
        ("steps.person", True),
        ("event.data.count > 5", False),
        ("{{ event.data.count > 2 and event.data.active }}", True),
        ("true", True),
        ("false", False),
        ("{{ event.data.nothing }}", False),
        ("{{ 'false' }}", False),
        ("{{ event.data.email }}", True),
        ("x{{ '' }}", True),
        ("{{ '' }}{{ 'No' }}", False),
        ("{{ '0' }}", False),
    ],
)
def test_truthy_accepts_templates_and_bare_expressions(
    ctx: dict[str, Any], condition: str, expected: bool
) -> None:
    assert truthy(condition, ctx, where="step 'x' field 'if'") is expected


def test_evaluate_gives_native_values(ctx: dict[str, Any]) -> None:
    assert evaluate("event.data.tags", ctx, where="w") == ["a", "b"]
    assert evaluate("{{ event.data.tags | length }}", ctx, where="w") == 2
    with pytest.raises(TemplateError, match=r"^step 'x' field 'if': 'steps.nope' is undefined"):
        evaluate("steps.nope", ctx, where="step 'x' field 'if'")
    with pytest.raises(TemplateError, match="template syntax error"):
        evaluate("not not", ctx, where="w")


def test_referenced_names_reads_dotted_paths() -> None:
    template = (
        "{{ steps.existing.id }} {{ event.data['email'] }} {{ steps['my-step'].x }}"
        "{% for row in event.rows %}{{ row.a }}{{ loop.index }}{% endfor %}"
        "{% set local = 1 %}{{ local }}{{ event.list[0].name }}{{ steps[event.key].y }}"
        "{{ now() }}{{ range(2) }}{{ (item or {}).z }}"
    )
    assert referenced_names(template) == {
        ("steps", "existing", "id"),
        ("event", "data", "email"),
        ("steps", "my-step", "x"),
        ("event", "rows"),
        ("event", "list"),
        ("event", "key"),
        ("steps",),
        ("item",),
    }
    assert referenced_names("not steps.existing", condition=True) == {("steps", "existing")}
    assert referenced_names("plain text") == set()
    with pytest.raises(TemplateError, match="template syntax error"):
        referenced_names("{{ a + }}")


def test_check_syntax_reports_or_returns_none() -> None:
    assert check_syntax("Hi {{ event.data.email }}") is None
    assert check_syntax("no markup {") is None
    assert check_syntax("{{ a + }}") == "template syntax error: unexpected 'end of print statement'"
    assert check_syntax("{% if x %}no end") is not None
    assert check_syntax("a and", condition=True) is not None
    assert check_syntax("a and b", condition=True) is None
    assert check_syntax("a b", condition=True) == (
        "template syntax error: unexpected 'b' after the expression"
    )
    message = check_syntax("line one\n{% include 'x' %}")
    assert message is not None and "'{% include %}' is not allowed" in message


def test_compiled_templates_are_cached(ctx: dict[str, Any]) -> None:
    template = "{{ event.data.count * 7 }} cached"
    render(template, ctx, where="w")
    before = compile_template.cache_info().hits
    for _ in range(5):
        assert render(template, ctx, where="w") == "21 cached"
    assert compile_template.cache_info().hits == before + 5


def test_a_mapping_key_wins_over_the_dict_method_of_that_name() -> None:
    ctx = {"event": {"items": [1, 2], "keys": "k", "data": {"a": 1}}}
    assert evaluate("event.items", ctx, where="w") == [1, 2]
    assert render("{{ event.keys }}", ctx, where="w") == "k"
    text = "{% for k, v in event.data.items() %}{{ k }}={{ v }}{% endfor %}"
    assert render(text, ctx, where="w") == "a=1"


def test_validation_refuses_an_unknown_filter_even_in_a_branch_not_taken() -> None:
    text = "{% if event.x %}{{ event.y | no_such_filter }}{% endif %}"
    assert check_syntax(text) == "template syntax error: No filter named 'no_such_filter'."
    assert check_syntax("{{ event.y is no_such_test }}") == (
        "template syntax error: No test named 'no_such_test'."
    )
    assert referenced_names("{% for x in event.items %}{{ x.a }}{{ y }}{% endfor %}") == {
        ("event", "items"),
        ("y",),
    }
