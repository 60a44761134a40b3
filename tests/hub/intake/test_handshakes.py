"""Verification handshakes in the intake: answered at once, authenticated where signed,
never an event; and how source files declare them."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest

from hub.core.settings import Settings
from hub.intake.delivery import Webhook
from hub.intake.handshakes import Echo, HubChallenge, Reply
from hub.intake.plan import Intake, Plan
from hub.intake.resolve import build_sources
from hub.intake.sources import Source, SourceError, load_sources
from hub.intake.webhook import Refused

NOW = 1_700_000_000.0


def _source(tmp_path: Path, text: str, secrets: dict[str, str] | None = None) -> Source:
    (tmp_path / "app.yaml").write_text(dedent(text))
    settings = Settings(hub_secrets=secrets or {"KEY": "k3y", "VERIFY": "v3rify"})
    return build_sources(load_sources(tmp_path), settings, set(), local=False)["app"]


def _post(source: Source, body: object, headers: dict[str, str] | None = None) -> object:
    raw = json.dumps(body).encode()
    given = {"content-type": "application/json", **(headers or {})}
    return Intake([]).plan(Webhook(source, given, raw, NOW))


ECHO = """\
    auth: { scheme: shared-secret, header: X-Key, secret: "{{ secrets.KEY }}" }
    handshakes:
      - { kind: echo, when: { type: ping, version: 2 }, reply: data.challenge, reply_as: json }
    """


def test_an_echo_answers_the_reply_field_as_json(tmp_path: Path) -> None:
    source = _source(tmp_path, ECHO)
    reply = _post(
        source, {"type": "ping", "version": 2, "data": {"challenge": "c1"}}, {"x-key": "k3y"}
    )
    assert isinstance(reply, Reply)
    assert (reply.status, json.loads(reply.body), reply.content_type) == (
        200,
        {"challenge": "c1"},
        "application/json",
    )


def test_a_body_that_matches_no_handshake_is_an_event(tmp_path: Path) -> None:
    source = _source(tmp_path, ECHO)
    plan = _post(source, {"type": "ping", "version": 3, "id": "e1"}, {"x-key": "k3y"})
    assert isinstance(plan, Plan) and plan.event.event_type == "ping"


def test_a_signed_handshake_is_authenticated_first(tmp_path: Path) -> None:
    source = _source(tmp_path, ECHO)
    with pytest.raises(Refused) as caught:
        _post(source, {"type": "ping", "version": 2, "data": {"challenge": "c1"}})
    assert caught.value.status == 401


def test_an_unsigned_echo_is_answered_before_authentication(tmp_path: Path) -> None:
    text = """\
        auth: { scheme: bearer, secret: "{{ secrets.KEY }}" }
        handshakes: [ { kind: echo, when: { kind: hello }, reply: token, signed: false } ]
        """
    source = _source(tmp_path, text)
    reply = _post(source, {"kind": "hello", "token": 42})
    assert isinstance(reply, Reply) and (reply.status, reply.body) == (200, b"42")
    with pytest.raises(Refused) as caught:  # anything else still needs the token
        _post(source, {"kind": "other", "type": "x"})
    assert caught.value.status == 401


def test_a_matched_handshake_without_its_field_is_a_400(tmp_path: Path) -> None:
    reply = Echo((("type", "url_verification"),), "challenge").answer({"type": "url_verification"})
    assert reply is not None and reply.status == 400
    assert json.loads(reply.body) == {"error": "the handshake has no 'challenge' to answer"}
    assert Echo((("flag", True),), "c").answer({"flag": 1, "c": "x"}) is None


def test_the_hub_challenge_answers_only_the_right_verify_token(tmp_path: Path) -> None:
    challenge = HubChallenge((b"v3rify",))
    good = {"hub.mode": "subscribe", "hub.verify_token": "v3rify", "hub.challenge": "1158201444"}
    answered = challenge.answer(good)
    assert (answered.status, answered.body) == (200, b"1158201444")
    assert challenge.answer({**good, "hub.verify_token": "guess"}).status == 403
    assert challenge.answer({"hub.mode": "subscribe"}).status == 400


def test_a_source_file_names_its_hub_challenge_token(tmp_path: Path) -> None:
    text = """\
        auth: { scheme: github, secret: "{{ secrets.KEY }}" }
        handshakes: [ { kind: hub-challenge, token: "{{ secrets.VERIFY }}" } ]
        """
    source = _source(tmp_path, text)
    assert source.challenge is not None and source.handshakes == ()
    query = {"hub.mode": "subscribe", "hub.verify_token": "v3rify", "hub.challenge": "x"}
    assert source.challenge.answer(query).status == 200
    configs = load_sources(tmp_path)
    assert configs["app"][0].secret_names == ["KEY", "VERIFY"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "auth: { scheme: none }\nhandshakes: [ { kind: zoom } ]\n",
            "the zoom handshake needs a secret",
        ),
        (
            "auth: { scheme: none }\nhandshakes: [ { kind: hub-challenge, token: plain } ]\n",
            "write a secret as '{{ secrets.NAME }}'",
        ),
        (
            "auth: { scheme: none }\nhandshakes: [ { kind: knock } ]\n",
            "does not match any of the expected tags: 'echo', 'zoom', 'hub-challenge'",
        ),
        (
            "auth: { scheme: none }\nhandshakes: [ { kind: echo, when: {}, reply: c } ]\n",
            "when",
        ),
    ],
)
def test_handshake_mistakes_are_located(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "app.yaml").write_text(text)
    with pytest.raises(SourceError) as caught:
        load_sources(tmp_path)
    (problem,) = caught.value.problems
    assert expected in problem.message and problem.line == 2, problem
