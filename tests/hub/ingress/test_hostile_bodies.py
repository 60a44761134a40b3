"""Hostile bodies, signed so that they reach the parser: refused with a 4xx, never a 5xx.

A 5xx tells a sender to retry for ever a body that can never be accepted; the only 5xx
the ingress may answer is 503, while Redis cannot take the event. Hypothesis generates
JSON documents (with ``NaN``, ``Infinity``, deep nesting, duplicate keys, control
characters and lone surrogates in ids and types) and raw byte strings, each signed with
the source's key, and a hand-written list pins the answer of each named hostile case.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from hub.core.redis_server import RedisServer
from hub.intake import signatures as sig

from .conftest import SECRET, write_source, write_workflow

CRM = """\
auth: { scheme: standard-webhooks, secret: "{{ secrets.CRM_SIGNING_KEY }}" }
event_type: { header: X-Event-Type, path: type }
event_id: { header: X-Event-Id, path: id }
max_body_bytes: 65536
"""
SIGNER = sig.StandardWebhooks((sig.standard_webhooks_key(SECRET),))
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- what Hypothesis sends ---------------------------------------------------------------

#: lone surrogates, which JSON can escape ("\\ud800") but no UTF-8 text can carry
_surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=[])
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.text(st.characters() | _surrogates, max_size=10)
)
#: any JSON value, NaN and Infinity included (json.dumps writes them as bare words)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
#: ids and types: any text (control characters, lone surrogates, 10,000 characters) or not
_labels = st.one_of(
    st.text(max_size=300), st.text(min_size=250, max_size=10_000), _values, st.integers()
)


@st.composite
def _events(draw: st.DrawFn) -> bytes:
    """An event as a sender might write it, broken anywhere."""
    event = {"type": draw(_labels), "id": draw(_labels), "data": draw(_values)}
    text = json.dumps(event, allow_nan=True, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", errors="surrogatepass")


@st.composite
def _nested(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(min_value=1, max_value=6000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    inner = opener * depth + "1" + closer * depth
    return f'{{"type": "deep", "id": "d{depth}", "data": {inner}}}'.encode()


@st.composite
def _spliced(draw: st.DrawFn) -> bytes:
    """A valid event with bytes put in, cut out or replaced somewhere."""
    good = json.dumps({"type": "contact.created", "id": "s1", "data": {"first": "Ada"}}).encode()
    at = draw(st.integers(min_value=0, max_value=len(good)))
    cut = draw(st.integers(min_value=0, max_value=len(good) - at))
    return good[:at] + draw(st.binary(max_size=12)) + good[at + cut :]


_bodies = st.one_of(
    _events(),
    _nested(),
    _spliced(),
    st.binary(max_size=2_000),
    st.text(max_size=500).map(lambda t: t.encode("utf-8", errors="surrogatepass")),
    st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999", b'"x"', b"[]", b"null"]),
)
#: header values a sender may put on the wire (printable Latin-1)
_header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=300,
)


def _signed(body: bytes, event_id: str, headers: dict[str, str]) -> dict[str, Any]:
    signed = SIGNER.sign(body, event_id or "none", time.time())
    every = {"Content-Type": "application/json", **headers, **signed}
    return {"content": body, "headers": {k: v.encode("latin-1") for k, v in every.items()}}


# --- the ingress under fire ----------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_workflow(tmp_path, "contact-created", "crm", "contact.*")
    write_workflow(tmp_path, "anything", "crm", "*", condition="{{ event.data.first == 'x' }}")
    write_source(tmp_path, "crm", CRM)
    return tmp_path


def test_signed_generated_bodies_never_get_a_server_error(
    make_client: Callable[..., TestClient], folder: Path, redis_client: redis.Redis
) -> None:
    client = make_client(folder)
    seen: set[int] = set()

    @FUZZ
    @given(
        body=_bodies,
        headers=st.dictionaries(
            st.sampled_from(["X-Event-Type", "X-Event-Id"]), _header_values, max_size=2
        ),
    )
    def deliver(body: bytes, headers: dict[str, str]) -> None:
        answer = client.post("/hooks/crm", **_signed(body, headers.get("X-Event-Id", ""), headers))
        seen.add(answer.status_code)
        assert answer.status_code < 500, (body[:200], headers, answer.text)
        assert len(answer.json()["error" if answer.status_code >= 400 else "event_id"]) < 700

    deliver()
    assert 400 in seen and (202 in seen or 200 in seen), seen


@pytest.fixture
def stopped_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", appendonly=False).start()
    yield server
    server.stop()


def test_with_redis_gone_the_only_server_error_is_503(
    make_client: Callable[..., TestClient], folder: Path, stopped_redis: RedisServer
) -> None:
    client = make_client(folder, redis_url=stopped_redis.url)
    stopped_redis.stop()
    seen: set[int] = set()

    @settings(FUZZ, max_examples=60)
    @given(body=st.one_of(_events(), _nested(), _spliced()))
    def deliver(body: bytes) -> None:
        answer = client.post("/hooks/crm", **_signed(body, "", {}))
        seen.add(answer.status_code)
        assert answer.status_code < 500 or answer.status_code == 503, answer.text
        if answer.status_code == 503:
            assert answer.headers["Retry-After"]

    deliver()
    assert 503 in seen, seen


# --- each named case and its answer -------------------------------------------------------

DEEP = b'{"type": "t", "id": "deep", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
#: name, body, status, words the error holds
CASES = [
    ("nested 5,000 deep (40 KB)", DEEP, 400, "nests deeper than 64 levels"),
    ("nested 65 deep", b'{"type":"t","id":"d","data":' + b"[" * 64 + b"]" * 64 + b"}", 400, "64"),
    ("NaN", b'{"type": "t", "id": "n", "v": NaN}', 400, "NaN"),
    ("Infinity", b'{"type": "t", "id": "i", "v": Infinity}', 400, "Infinity"),
    ("-Infinity", b'{"type": "t", "id": "i", "v": -Infinity}', 400, "-Infinity"),
    ("1e999", b'{"type": "t", "id": "i", "v": 1e999}', 400, "too large"),
    ("id of 10,000 characters", json.dumps({"type": "t", "id": "x" * 10_000}).encode(), 400, "256"),
    ("type of 257 characters", json.dumps({"type": "t" * 257, "id": "l"}).encode(), 400, "256"),
    ("id with a newline", json.dumps({"type": "t", "id": "a\nb"}).encode(), 400, "U+000A"),
    ("id with NUL", json.dumps({"type": "t", "id": "a\x00"}).encode(), 400, "U+0000"),
    ("id with ESC", json.dumps({"type": "t", "id": "\x1b[2J"}).encode(), 400, "U+001B"),
    ("type with DEL", json.dumps({"type": "t\x7f", "id": "d"}).encode(), 400, "U+007F"),
    ("id with C1 NEL", json.dumps({"type": "t", "id": "a\x85"}).encode(), 400, "U+0085"),
    ("id a lone surrogate", b'{"type": "t", "id": "\\udc00"}', 400, "surrogate"),
    ("data a lone surrogate", b'{"type":"t","id":"s","d":["\\ud800"]}', 400, "\\ud800"),
    ("invalid UTF-8", b'{"type": "t", "id": "\xc3\x28"}', 400, "not UTF-8"),
    ("UTF-16", json.dumps({"type": "t", "id": "u"}).encode("utf-16"), 400, "not UTF-8"),
    ("overlong UTF-8 slash", b'{"type": "t", "id": "\xc0\xaf"}', 400, "not UTF-8"),
    ("duplicate key", b'{"type": "t", "id": "a", "id": "b"}', 400, "'id' appears twice"),
    ("duplicate nested key", b'{"type":"t","id":"n","d":{"x":1,"x":2}}', 400, "'x' appears"),
    ("integer of 5,000 digits", b'{"type": "t", "id": 1' + b"0" * 5000 + b"}", 400, "JSON"),
    ("bare NaN", b"NaN", 400, "NaN"),
    ("a JSON string", b'"contact.created"', 400, "event type missing"),
    ("trailing garbage", b'{"type": "t", "id": "g"} x', 400, "not valid JSON"),
]


@pytest.mark.parametrize(
    ("body", "status", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_hostile_case_gets_its_answer(
    make_client: Callable[..., TestClient],
    folder: Path,
    redis_client: redis.Redis,
    body: bytes,
    status: int,
    words: str,
) -> None:
    answer = make_client(folder).post("/hooks/crm", **_signed(body, "", {}))
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]
    assert redis_client.llen("hub") == 0


def test_a_utf8_bom_and_brackets_in_strings_are_fine(
    make_client: Callable[..., TestClient], folder: Path, redis_client: redis.Redis
) -> None:
    client = make_client(folder)
    text = {"type": "contact.created", "id": "b1", "data": {"first": "[[[{{{" * 40}}
    answer = client.post(
        "/hooks/crm", **_signed(b"\xef\xbb\xbf" + json.dumps(text).encode(), "", {})
    )
    assert answer.status_code == 202, answer.text
    nested = {"type": "contact.created", "id": "b2", "data": json.loads("[" * 63 + "]" * 63)}
    assert (
        client.post("/hooks/crm", **_signed(json.dumps(nested).encode(), "", {})).status_code == 202
    )
