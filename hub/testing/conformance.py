"""The connector conformance suite: checks written once, run by every connector.

A connector with an upstream declares what the suite needs in a :class:`Conformance`:
its sandbox, how to build its runtime API against the sandbox (with the right
credential or a wrong one), a :class:`Probe` (one operation that makes one request of
the upstream), and optionally records to page through (:class:`Paging`) and a resource
to create, read, change and delete (:class:`RoundTrip`). The checks
(:data:`CHECKS`; :func:`checks_for` names those a declaration supports):

- ``credentials``: the probe answers with the right credential; with a wrong one it
  raises :class:`~hub.core.errors.FatalError` naming the upstream, not the credential.
- ``token``: two API objects on one Redis (two workers) share one token request.
- ``paging``: more records than fit a page are read to the end, one request a page,
  with no record repeated or missing.
- ``retriable <status>`` (500, 502, 503, 504) and ``retriable drop``: the answer
  (or a dropped connection) is :class:`~hub.core.errors.RetryableError`, with the
  answer's ``Retry-After``.
- ``throttled 429`` and ``throttled bare 429`` (with and without ``Retry-After``): the
  answer is a quota wait (:class:`~hub.core.errors.Throttled`, no attempt spent) naming
  the upstream, and the next call of any worker waits too without reaching it. A
  connector whose client has no budget (``budget=False``: its upstream documents no
  limit) has ``retriable 429`` instead: with no budget to pause, it backs off.
- ``fatal <status>`` (400, 403, 404, 405, 409, 422): the answer is a
  :class:`~hub.core.errors.FatalError` carrying the upstream's message.
- ``round trip``: the sandbox answers the connector's record operations as it expects:
  what ``create`` made, ``get`` reads and ``list`` includes; ``update``'s changes read
  back; after ``delete`` a ``get`` is a 404.

Failures are ``AssertionError`` with what was expected, so any test runner reports them;
the module needs no test framework. Each check resets the sandbox first and expects a
Redis of its own (empty), as a token or a paused budget from another check would change
what it sees. A connector package's own tests run the suite with :func:`served` and
:func:`run_check`, e.g. parametrized over ``checks_for(CONFORMANCE)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx
from starlette.types import ASGIApp

from hub.connector import Connector
from hub.core import FatalError, HubError, QuotaWait, RetryableError, Throttled, UpstreamError
from hub.sandbox import serve_in_thread

__all__ = [
    "CHECKS",
    "FATAL_STATUSES",
    "RETRIABLE_STATUSES",
    "WRONG_CREDENTIAL",
    "BuildApi",
    "Check",
    "Conformance",
    "Paging",
    "Probe",
    "RoundTrip",
    "SandboxControl",
    "checks_for",
    "run_check",
    "served",
]

#: what a declaration's ``api`` is given as the wrong credential (secret, key or password)
WRONG_CREDENTIAL = "conformance-wrong-credential"
RETRIABLE_STATUSES = (500, 502, 503, 504)
#: 4xx answers that are final; 401 is left out (a token flow renews its token once)
FATAL_STATUSES = (400, 403, 404, 405, 409, 422)
#: the ``Retry-After`` scripted with retriable answers
_RETRY_AFTER = 7

ErrorT = TypeVar("ErrorT", bound=BaseException)


class BuildApi(Protocol):
    """The connector's runtime API against a sandbox at ``base_url``.

    With ``wrong_credential`` the API is built with that value in place of the secret,
    key or password the sandbox takes.
    """

    def __call__(
        self, base_url: str, redis: Any, *, wrong_credential: str | None = None
    ) -> Any: ...


@dataclass(frozen=True)
class Probe:
    """An operation making one request of the upstream (after any token request).

    ``path`` (a glob) and ``method`` name that request, for the sandbox's scripted
    answers. The probe is made at most once per Redis in a check but with two API
    objects in ``token``: it may be idempotent, but needs no Redis state of its own.
    """

    uses: str
    arguments: Mapping[str, Any]
    path: str
    method: str = "*"


@dataclass(frozen=True)
class Paging:
    """Records for the probe (a list) to page through.

    ``record(n)`` is the n-th record as the sandbox's seed takes it, for its resource
    ``collection``; ``page_size`` is how many the connector asks a page for. The suite
    seeds two and a half pages.
    """

    collection: str
    record: Callable[[int], dict[str, Any]]
    page_size: int = 100


@dataclass(frozen=True)
class RoundTrip:
    """A resource whose record operations (``<resource>.<action>``) the suite runs.

    ``create`` are the create's arguments, ``change`` an update's ``data``; ``scope``
    is given to every call (a parent's id), after ``given`` is seeded into the sandbox.
    """

    resource: str
    create: Mapping[str, Any]
    change: Mapping[str, Any]
    scope: Mapping[str, Any] = field(default_factory=dict)
    given: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Conformance:
    """What the suite needs of one connector.

    ``service`` is how errors name the upstream; ``id_field`` the key records carry
    their id under; ``token_path`` the sandbox's token endpoint, for a token flow;
    ``budget`` whether its client takes slots from a cluster-wide budget (which a 429
    pauses).
    """

    connector: Connector[Any]
    service: str
    sandbox: Callable[[], ASGIApp]
    api: BuildApi
    probe: Probe
    id_field: str = "id"
    token_path: str | None = None
    paging: Paging | None = None
    round_trip: RoundTrip | None = None
    budget: bool = True


class SandboxControl:
    """A served sandbox's ``/_sandbox/`` control routes, through ``http`` (its owner's)."""

    def __init__(self, url: str, http: httpx.Client) -> None:
        self.url = url
        self._http = http

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, f"{self.url}/_sandbox/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._control("POST", "reset")

    def seed(self, records: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[Any]]:
        """Store ``records``; answers them as the sandbox's API shows them."""
        seeded: dict[str, list[Any]] = self._control("POST", "seed", dict(records))
        return seeded

    def script(self, probe: Probe, answer: dict[str, Any]) -> None:
        """Answer the probe's next request with ``answer`` (a scripted answer)."""
        rule = {"method": probe.method, "path": probe.path, "answers": [answer]}
        self._control("POST", "faults", {"scripts": [rule]})

    def calls(self) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = self._control("GET", "calls")["calls"]
        return calls


@contextmanager
def served(conformance: Conformance) -> Iterator[SandboxControl]:
    """The connector's sandbox, served on a free loopback port for the block."""
    with serve_in_thread(conformance.sandbox()) as url, httpx.Client() as http:
        yield SandboxControl(url, http)


#: one check: the declaration, its served sandbox, and an empty Redis
Check = Callable[[Conformance, SandboxControl, Any], None]


def _operate(conformance: Conformance, api: Any, uses: str, arguments: Mapping[str, Any]) -> Any:
    """Run operation ``uses`` as a step does: arguments validated, then called."""
    operation = conformance.connector.operations.get(uses)
    if operation is None:
        raise AssertionError(f"{conformance.connector.name} has no operation '{uses}'")
    return operation.call(api, operation.input.model_validate(dict(arguments)))


def _probe(conformance: Conformance, api: Any) -> Any:
    return _operate(conformance, api, conformance.probe.uses, conformance.probe.arguments)


def _expect(holds: bool, failure: str) -> None:
    """``AssertionError(failure)`` unless ``holds`` (kept under ``python -O``, unlike assert)."""
    if not holds:
        raise AssertionError(failure)


def _raised(kind: type[ErrorT], what: str, run: Callable[[], Any]) -> ErrorT:
    """The ``kind`` error ``run`` raised; ``AssertionError`` if it raised another or none."""
    try:
        run()
    except kind as error:
        return error
    except HubError as other:
        raise AssertionError(
            f"{what}: expected {kind.__name__}, got {type(other).__name__}: {other}"
        ) from other
    raise AssertionError(f"{what}: expected {kind.__name__}, the call succeeded")


def check_credentials(conformance: Conformance, sandbox: SandboxControl, redis: Any) -> None:
    """A wrong credential is fatal, names the upstream and not the credential; the
    right one answers."""
    wrong = conformance.api(sandbox.url, redis, wrong_credential=WRONG_CREDENTIAL)
    error = _raised(FatalError, "a wrong credential", lambda: _probe(conformance, wrong))
    text = str(error)
    _expect(conformance.service in text, f"the error does not name {conformance.service}: {text}")
    _expect(WRONG_CREDENTIAL not in text, f"the error shows the credential: {text}")
    _probe(conformance, conformance.api(sandbox.url, redis))
    answered = [c for c in sandbox.calls() if c["status"] is not None and c["status"] < 400]
    _expect(bool(answered), "the sandbox answered no call of the connector's with success")


def check_token(conformance: Conformance, sandbox: SandboxControl, redis: Any) -> None:
    """Two API objects on one Redis (two workers) make one token request between them."""
    _expect(conformance.token_path is not None, "the declaration has no token_path")
    for _ in range(2):
        _probe(conformance, conformance.api(sandbox.url, redis))
    tokens = [c for c in sandbox.calls() if c["path"] == conformance.token_path]
    _expect(len(tokens) == 1, f"{len(tokens)} token requests for two workers, not one")


def check_paging(conformance: Conformance, sandbox: SandboxControl, redis: Any) -> None:
    """Two and a half pages of records are read to the end: each once, a request a page."""
    paging = conformance.paging
    if paging is None:
        raise AssertionError("the declaration has no paging")
    count = 2 * paging.page_size + paging.page_size // 2
    seeded = sandbox.seed({paging.collection: [paging.record(n) for n in range(count)]})
    expected = {r[conformance.id_field] for r in seeded[paging.collection]}
    records = _probe(conformance, conformance.api(sandbox.url, redis))
    ids = [r[conformance.id_field] for r in records]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    _expect(not repeated, f"records read more than once: {repeated[:5]}")
    missing = sorted(expected - set(ids))
    _expect(not missing, f"{len(missing)} of {count} records never read: {missing[:5]}")
    _expect(len(ids) == count, f"read {len(ids)} records, {count} were seeded")
    pages = [c for c in sandbox.calls() if c["path"] != conformance.token_path]
    _expect(
        len(pages) == math.ceil(count / paging.page_size),
        f"{len(pages)} requests for {count} records in pages of {paging.page_size}",
    )


def _check_retriable(answer: dict[str, Any]) -> Check:
    def check(conformance: Conformance, sandbox: SandboxControl, redis: Any) -> None:
        api = conformance.api(sandbox.url, redis)
        sandbox.script(conformance.probe, answer)
        what = f"the answer {answer}"
        error = _raised(RetryableError, what, lambda: _probe(conformance, api))
        _expect(conformance.service in str(error), f"{what}: {error} does not name the upstream")
        _expect(error.status == answer.get("status"), f"{what}: status {error.status}")
        if "retry_after" in answer:
            _expect(
                error.retry_after == answer["retry_after"],
                f"{what}: retry_after {error.retry_after}, not the answer's Retry-After",
            )

    return check


def _check_throttled(retry_after: float | None) -> Check:
    answer: dict[str, Any] = {"status": 429}
    if retry_after is not None:
        answer["retry_after"] = retry_after

    def check(conformance: Conformance, sandbox: SandboxControl, redis: Any) -> None:
        api = conformance.api(sandbox.url, redis)
        sandbox.script(conformance.probe, answer)
        what = f"the answer {answer}"
        error = _raised(Throttled, what, lambda: _probe(conformance, api))
        _expect(conformance.service in str(error), f"{what}: {error} does not name the upstream")
        _expect(error.wait > 0, f"{what}: waits {error.wait}s")
        if retry_after is not None:
            _expect(error.wait <= retry_after, f"{what}: waits {error.wait}s, past Retry-After")
        calls = len(sandbox.calls())
        other = conformance.api(sandbox.url, redis)  # another worker
        _raised(QuotaWait, f"a call after {what}", lambda: _probe(conformance, other))
        _expect(len(sandbox.calls()) == calls, f"a call after {what} reached the upstream")

    return check


def _check_fatal(status: int) -> Check:
    message = f"conformance refusal {status}"

    def check(conformance: Conformance, sandbox: SandboxControl, redis: Any) -> None:
        api = conformance.api(sandbox.url, redis)
        sandbox.script(conformance.probe, {"status": status, "message": message})
        what = f"the answer {status}"
        error = _raised(FatalError, what, lambda: _probe(conformance, api))
        _expect(error.status == status, f"{what}: status {error.status}")
        text = str(error)
        _expect(message in text, f"{what}: the error lacks the upstream's message: {text}")
        _expect(conformance.service in text, f"{what}: {text} does not name the upstream")

    return check


def _id_arguments(conformance: Conformance, uses: str, record_id: str) -> dict[str, Any]:
    """The arguments naming one record: ``id``, or ``ids`` (by their aliases)."""
    fields = conformance.connector.operations[uses].input.model_fields
    for name, value in (("id", record_id), ("ids", [record_id])):
        if name in fields:
            return {fields[name].alias or name: value}
    raise AssertionError(f"{uses} takes neither `id` nor `ids`")


def check_round_trip(conformance: Conformance, sandbox: SandboxControl, redis: Any) -> None:
    """Create, get, list, update and delete (those the resource has) answer as expected."""
    trip = conformance.round_trip
    if trip is None:
        raise AssertionError("the declaration has no round_trip")
    if trip.given:
        sandbox.seed(trip.given)
    api = conformance.api(sandbox.url, redis)
    actions = {
        name.rpartition(".")[2]
        for name in conformance.connector.operations
        if name.rpartition(".")[0] == trip.resource
    }

    def run(action: str, **arguments: Any) -> Any:
        return _operate(conformance, api, f"{trip.resource}.{action}", {**trip.scope, **arguments})

    def read(record_id: str) -> Any:
        return run("get", **_id_arguments(conformance, f"{trip.resource}.get", record_id))

    record_id = run("create", **trip.create)[conformance.id_field]
    record = read(record_id)
    _expect(record[conformance.id_field] == record_id, "get answers another record")
    kept = {key: record.get(key) for key in trip.create}
    _expect(kept == dict(trip.create), f"get answers {kept} for the record created")
    if "list" in actions:
        listed = [r[conformance.id_field] for r in run("list")]
        _expect(record_id in listed, "list does not include the record create made")
    if "update" in actions:
        ids = _id_arguments(conformance, f"{trip.resource}.update", record_id)
        run("update", **ids, data=dict(trip.change))
        record = read(record_id)
        changed = {key: record.get(key) for key in trip.change}
        _expect(changed == dict(trip.change), f"after update, get answers {changed}")
    if "delete" in actions:
        run("delete", **_id_arguments(conformance, f"{trip.resource}.delete", record_id))
        error = _raised(UpstreamError, "get after delete", lambda: read(record_id))
        _expect(error.status == 404, f"get after delete: {error}")


CHECKS: dict[str, Check] = {
    "credentials": check_credentials,
    "token": check_token,
    "paging": check_paging,
    **{
        f"retriable {status}": _check_retriable({"status": status, "retry_after": _RETRY_AFTER})
        for status in (*RETRIABLE_STATUSES, 429)
    },
    "retriable drop": _check_retriable({"drop": True}),
    "throttled 429": _check_throttled(_RETRY_AFTER),
    "throttled bare 429": _check_throttled(None),
    **{f"fatal {status}": _check_fatal(status) for status in FATAL_STATUSES},
    "round trip": check_round_trip,
}


def checks_for(conformance: Conformance) -> Sequence[str]:
    """The names of the checks ``conformance`` declares enough for, in :data:`CHECKS` order."""
    declared = {
        "token": conformance.token_path is not None,
        "paging": conformance.paging is not None,
        "round trip": conformance.round_trip is not None,
        "retriable 429": not conformance.budget,
        "throttled 429": conformance.budget,
        "throttled bare 429": conformance.budget,
    }
    return [name for name in CHECKS if declared.get(name, True)]


def run_check(name: str, conformance: Conformance, sandbox: SandboxControl, redis: Any) -> None:
    """Reset the sandbox and run check ``name``; ``redis`` must be empty."""
    sandbox.reset()
    CHECKS[name](conformance, sandbox, redis)
