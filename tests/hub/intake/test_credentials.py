"""Credential schemes: HTTP Basic against RFC 7617's own example, bearer, shared secret."""

from __future__ import annotations

import base64

import pytest

from hub.intake.credentials import Basic, Bearer, NoAuth
from hub.intake.signatures import AuthFailed

BODY = b"{}"
NOW = 1_700_000_000.0


def test_basic_accepts_the_rfc_7617_example() -> None:
    # RFC 7617 section 2: user "Aladdin", password "open sesame"
    basic = Basic((b"Aladdin:open sesame",))
    basic.verify({"authorization": "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}, BODY, NOW)
    assert basic.sign(BODY, "", NOW) == {"Authorization": "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}


def test_basic_takes_any_of_several_credentials_while_rotating() -> None:
    basic = Basic((b"hub:new", b"hub:old"))
    old = base64.b64encode(b"hub:old").decode()
    basic.verify({"authorization": f"basic {old}"}, BODY, NOW)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing Authorization header"),
        ({"authorization": "Bearer abc"}, "Authorization is not 'Basic <base64 of user:password>'"),
        ({"authorization": "Basic"}, "Authorization is not 'Basic"),
        ({"authorization": "Basic %%%"}, "not base64"),
        (
            {"authorization": "Basic " + base64.b64encode(b"hub:guess").decode()},
            "wrong user or password in Authorization",
        ),
    ],
)
def test_basic_refusals_name_the_problem_never_the_secret(
    headers: dict[str, str], reason: str
) -> None:
    with pytest.raises(AuthFailed) as caught:
        Basic((b"hub:s3cret-pass",)).verify(headers, BODY, NOW)
    assert reason in caught.value.reason and "s3cret" not in caught.value.reason


def test_bearer_and_none_keep_their_behaviour() -> None:
    Bearer((b"tok",)).verify({"authorization": "Bearer tok"}, BODY, NOW)
    with pytest.raises(AuthFailed, match="Bearer <token>"):
        Bearer((b"tok",)).verify({"authorization": "Basic tok"}, BODY, NOW)
    NoAuth().verify({}, BODY, NOW, method="GET", url="http://x/")
