"""The email and idna filters, as templates use them: one address however it is written."""

from __future__ import annotations

from typing import Any

import pytest

from hub.core.errors import TemplateError
from hub.workflow.templates import render

WHERE = "workflow 'w' step 's' field 'with'"


def _render(template: str, **event: Any) -> Any:
    return render(template, {"event": event}, where=WHERE)


@pytest.mark.parametrize(
    "written",
    [
        "Li.Lei@例え.jp",
        "li.lei@xn--r8jz45g.jp",
        "  LI.LEI@XN--R8JZ45G.JP ",
        # ideographic full stop and full-width letters, as typed on a Japanese keyboard
        "Li.Lei@例え\u3002\uff2a\uff30",
    ],
)
def test_every_spelling_of_an_idn_address_is_one_address(written: str) -> None:
    assert _render("{{ event.email | email }}", email=written) == "li.lei@xn--r8jz45g.jp"


def test_email_keeps_ascii_domains_ascii_and_empty_values_as_they_are() -> None:
    assert _render("{{ event.email | email }}", email=" Ada@Example.COM") == "ada@example.com"
    assert _render("{{ event.email | email }}", email="a_b@mail_x.example") == "a_b@mail_x.example"
    assert _render("{{ event.email | email }}", email=None) is None
    assert _render("{{ event.email | email }}", email="") == ""


def test_idna_uses_idna_2008() -> None:
    # IDNA 2003 would map ß to ss ("fass.de"); IDNA 2008 keeps it
    assert _render("{{ event.domain | idna }}", domain="faß.de") == "xn--fa-hia.de"
    assert _render("{{ event.domain | idna }}", domain="例え.jp") == "xn--r8jz45g.jp"
    assert _render("{{ event.domain | idna }}", domain="Example.COM.") == "example.com"
    assert _render("{{ event.address | idna }}", address="Li@例え.jp") == "Li@xn--r8jz45g.jp"


@pytest.mark.parametrize(
    ("template", "value", "message"),
    [
        ("{{ event.v | email }}", "not-an-address", "'not-an-address' is not an email address"),
        ("{{ event.v | email }}", "@example.com", "is not an email address"),
        ("{{ event.v | email }}", 42, "email takes an address, not a int"),
        ("{{ event.v | idna }}", "bad\u200d例.jp", "is not an internationalised domain name"),
        ("{{ event.v | idna }}", "", "no domain to convert"),
    ],
)
def test_what_is_not_an_address_or_a_domain_fails_the_template_saying_so(
    template: str, value: Any, message: str
) -> None:
    with pytest.raises(TemplateError, match=message) as caught:
        _render(template, v=value)
    assert str(caught.value).startswith(WHERE)
