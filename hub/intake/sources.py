"""Webhook sources: how each sender authenticates, where its event type and id are.

One YAML file per source in the sources folder (``HUB_SOURCES``, by default
``sources/`` inside ``HUB_WORKFLOWS``), named ``<source>.yaml``::

    auth: { scheme: standard-webhooks, secret: "{{ secrets.CRM_SIGNING_KEY }}" }
    event_type: { header: X-Event-Type, path: type }
    event_id: { header: webhook-id, path: id }
    max_body_bytes: 262144
    dedupe_seconds: 86400

or, for a sender the hub knows (:mod:`hub.intake.presets`)::

    preset: hubspot
    secret: "{{ secrets.HUBSPOT_CLIENT_SECRET }}"

A value is read from the first header present, else the first body path that holds
one, else the first format that finds all its parts (:mod:`hub.intake.extract`).
``batch`` says that one delivery carries many events (the body is an array, or a path
holds one): each element is an event with its own type and id. ``handshakes`` are the
verification handshakes the source answers (:mod:`hub.intake.handshakes`).

The source ``hub`` (:data:`HUB_SOURCE`) is built in: the hub's own events
(:class:`~hub.intake.delivery.HubEvent`) come from it. It has no file (a file named
``hub.yaml`` is refused) and takes no delivery from outside.

Files are checked like workflows: every problem with its ``file:line:column``, an
unknown field with the fields allowed there. Secrets are named, never written: their
values come from ``HUB_SECRETS``. :mod:`hub.intake.resolve` turns these files into the
sources the ingress serves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hub.core import ConfigError, Settings
from hub.intake import signatures as sig
from hub.intake.extract import Format, Locator, check_path
from hub.intake.handshakes import (
    ChallengeConfig,
    Handshake,
    HandshakeConfig,
    HubChallenge,
    ZoomConfig,
)
from hub.intake.json_body import DEFAULT_MAX_DEPTH
from hub.intake.presets import all_presets, apply_preset
from hub.intake.secret_refs import check_ref, ref_names
from hub.workflow import SOURCE_PATTERN, Problem, compose, schema_problems

__all__ = [
    "HUB_SOURCE",
    "AuthConfig",
    "BatchConfig",
    "FieldConfig",
    "Source",
    "SourceConfig",
    "SourceError",
    "load_sources",
    "sources_folder",
]

Scheme = Literal[
    "standard-webhooks", "hmac", "github", "stripe", "shared-secret", "bearer", "basic", "none"
]
_SCHEME_FIELDS: dict[str, set[str]] = {
    "hmac": {
        "header",
        "algorithm",
        "encoding",
        "prefix",
        "timestamp_header",
        "timestamp_unit",
        "signed_payload",
        "uri_decode",
        "tolerance_seconds",
    },
    "shared-secret": {"header"},
    "standard-webhooks": {"tolerance_seconds", "timestamp_unit"},
    "stripe": {"tolerance_seconds", "timestamp_unit"},
}
_NOUNS = {
    "SourceConfig": "a source file",
    "AuthConfig": "auth",
    "FieldConfig": "event_type and event_id",
    "BatchConfig": "batch",
    "EchoConfig": "an echo handshake",
    "ZoomConfig": "a zoom handshake",
    "ChallengeConfig": "a hub-challenge handshake",
}
_PAYLOAD_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class SourceError(ConfigError):
    """One or more source files are invalid; ``problems`` lists them all."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthConfig(_Model):
    """How a source proves a delivery is its own."""

    scheme: Scheme
    secret: str | list[str] | None = Field(
        default=None, description="'{{ secrets.NAME }}', or a list of them while rotating keys."
    )
    header: str | None = None
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""
    timestamp_header: str | None = None
    timestamp_unit: Literal["s", "ms"] = Field(
        default="s", description="The timestamp's unit: Unix seconds or milliseconds."
    )
    signed_payload: str | None = Field(
        default=None, description="What is signed: {body}, and any of {method} {uri} {timestamp}."
    )
    uri_decode: bool = Field(
        default=False,
        description="Decode %3A, %2F and the other characters HubSpot decodes in {uri}.",
    )
    tolerance_seconds: float = Field(default=300.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> AuthConfig:
        given = self.model_fields_set - {"scheme", "secret"}
        stray = sorted(given - _SCHEME_FIELDS.get(self.scheme, set()))
        if stray:
            raise ValueError(f"{', '.join(stray)} does not apply to scheme '{self.scheme}'")
        if self.scheme == "none":
            if self.secret is not None:
                raise ValueError("scheme 'none' takes no secret")
            return self
        if not self.secret:
            raise ValueError(f"scheme '{self.scheme}' needs a secret: '{{{{ secrets.NAME }}}}'")
        for ref in self.secret_refs:
            check_ref(ref)
        if self.scheme == "hmac":
            self._check_hmac()
        return self

    def _check_hmac(self) -> None:
        if not self.header:
            raise ValueError("scheme 'hmac' needs the signature 'header'")
        if self.signed_payload is not None:
            fields = _PAYLOAD_PLACEHOLDER.findall(self.signed_payload)
            unknown = sorted(set(fields) - set(sig.PAYLOAD_FIELDS))
            if unknown:
                allowed = ", ".join(f"{{{f}}}" for f in sig.PAYLOAD_FIELDS)
                raise ValueError(
                    f"signed_payload: {{{unknown[0]}}} is not a part of the request "
                    f"(allowed: {allowed})"
                )
            if "body" not in fields:
                raise ValueError("signed_payload must contain {body}")
            if "timestamp" in fields and not self.timestamp_header:
                raise ValueError("signed_payload has {timestamp}: name its timestamp_header")
        if "timestamp_unit" in self.model_fields_set and not self.timestamp_header:
            raise ValueError("timestamp_unit applies to a timestamp_header: name it")

    @property
    def secret_refs(self) -> list[str]:
        if self.secret is None:
            return []
        return [self.secret] if isinstance(self.secret, str) else list(self.secret)

    @property
    def secret_names(self) -> list[str]:
        return ref_names(self.secret_refs)


def _listed(value: str | list[str] | None) -> tuple[str, ...]:
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class FieldConfig(_Model):
    """Where a value is read: the first header present, else the first body path that
    holds one, else the first format that finds all its parts."""

    header: str | list[str] | None = None
    path: str | list[str] | None = Field(
        default=None, description="Dotted keys, list indexes as numbers: 'events.0.id'."
    )
    format: str | list[str] | None = Field(
        default=None, description="Values joined: '{meta.entity}.{meta.action}', '{header:X}'."
    )
    required: bool = False
    fallback: Literal["new", "content"] | None = Field(
        default=None,
        description="An event id that is missing: a new one (never deduped), or a hash of "
        "the event's content. Default: new, content for a batch's elements.",
    )

    @model_validator(mode="after")
    def _somewhere(self) -> FieldConfig:
        if not (self.header or self.path or self.format) and self.fallback != "content":
            raise ValueError("give a 'header', a 'path' or a 'format'")
        if self.required and self.fallback is not None:
            raise ValueError("an id that is required has no fallback: give one of the two")
        for path in self.paths:
            check_path(path)
        for text in _listed(self.format):
            Format.parse(text)  # a ValueError says what is wrong with it
        return self

    @property
    def headers(self) -> tuple[str, ...]:
        return _listed(self.header)

    @property
    def paths(self) -> tuple[str, ...]:
        return _listed(self.path)

    @property
    def formats(self) -> tuple[Format, ...]:
        return tuple(Format.parse(text) for text in _listed(self.format))

    def locator(self) -> Locator:
        return Locator(self.headers, self.paths, self.formats)


class BatchConfig(_Model):
    """``batch: {path: ...}``: the array of events is at this path of the body."""

    path: str

    @model_validator(mode="after")
    def _path(self) -> BatchConfig:
        check_path(self.path)
        return self


class SourceConfig(_Model):
    """One source file."""

    description: str = ""
    preset: str | None = Field(
        default=None, description="A sender the hub or a connector knows by name."
    )
    secret: str | list[str] | None = Field(
        default=None, description="The auth's secret ('{{ secrets.NAME }}'), with a preset."
    )
    auth: AuthConfig
    event_type: FieldConfig | None = None
    event_id: FieldConfig | None = None
    batch: bool | BatchConfig = Field(
        default=False, description="true: the body is an array of events; {path}: one is there."
    )
    handshakes: list[HandshakeConfig] = Field(default_factory=list)
    max_body_bytes: int | None = Field(default=None, gt=0)
    dedupe_seconds: int | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        return apply_preset(data) if isinstance(data, dict) else data

    @field_validator("preset")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is not None:
            known = all_presets()
            if value not in known:
                raise ValueError(f"no preset '{value}' (presets: {', '.join(known)})")
        return value

    @field_validator("event_type")
    @classmethod
    def _no_fallback(cls, value: FieldConfig | None) -> FieldConfig | None:
        if value is not None and value.fallback is not None:
            raise ValueError("event_type has no fallback: an event without a type is refused")
        return value

    @field_validator("batch")
    @classmethod
    def _ids_per_element(
        cls, value: bool | BatchConfig, info: ValidationInfo
    ) -> bool | BatchConfig:
        event_id = info.data.get("event_id")
        if value is not False and isinstance(event_id, FieldConfig) and event_id.headers:
            raise ValueError(
                "a batch's event ids are read in each element: give event_id a 'path' "
                "(a header is the same for every element)"
            )
        return value

    @field_validator("handshakes")
    @classmethod
    def _answerable(
        cls, value: list[HandshakeConfig], info: ValidationInfo
    ) -> list[HandshakeConfig]:
        if sum(isinstance(h, ChallengeConfig) for h in value) > 1:
            raise ValueError("a source answers one hub-challenge handshake")
        auth = info.data.get("auth")
        for handshake in value:
            unkeyed = not isinstance(auth, AuthConfig) or not auth.secret_names
            if isinstance(handshake, ZoomConfig) and handshake.secret is None and unkeyed:
                raise ValueError("the zoom handshake needs a secret: the auth's, or its own")
        return value

    @property
    def batch_path(self) -> str | None:
        """Where a batch's array is: "" for the body itself; None: not a batch."""
        if isinstance(self.batch, BatchConfig):
            return self.batch.path
        return "" if self.batch else None

    @property
    def secret_names(self) -> list[str]:
        """Every secret this file names: its auth's and its handshakes'."""
        names = list(self.auth.secret_names)
        for handshake in self.handshakes:
            if isinstance(handshake, ChallengeConfig):
                names += handshake.secret_names
            elif isinstance(handshake, ZoomConfig) and handshake.secret:
                names += ref_names([handshake.secret])
        return names


@dataclass(frozen=True)
class Source:
    """A source as the ingress uses it: a verifier, where values are, limits.

    ``batch``: where a batched delivery's array of events is ("" the body itself), None
    for one event per delivery. ``id_fallback``: the id of an event that has none, a
    ``new`` one or a hash of its ``content``. ``handshakes`` are answered for POSTs,
    ``challenge`` for a verification GET. ``signs_url``: the verifier needs the URL the
    sender called.
    """

    name: str
    verifier: sig.Verifier
    type_at: Locator
    id_at: Locator
    id_required: bool
    max_body_bytes: int
    dedupe_seconds: int
    configured: bool
    max_json_depth: int = DEFAULT_MAX_DEPTH
    id_fallback: Literal["new", "content"] = "new"
    batch: str | None = None
    handshakes: tuple[Handshake, ...] = ()
    challenge: HubChallenge | None = None
    signs_url: bool = False
    #: one event per delivery and no handshake: the ingress's fast path
    plain: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plain", self.batch is None and not self.handshakes)

    def event_type(self, headers: Mapping[str, str], body: Any) -> Any:
        return self.type_at.read(headers, body)

    def event_id(self, headers: Mapping[str, str], body: Any) -> Any:
        return self.id_at.read(headers, body)

    def describe_type(self) -> str:
        return self.type_at.describe()

    def describe_id(self) -> str:
        return self.id_at.describe()


#: the built-in source of the hub's own events (``run.failed``, ...): no file, no POST
HUB_SOURCE = "hub"


def sources_folder(settings: Settings) -> Path:
    """Where source files are read from."""
    return settings.hub_sources or settings.hub_workflows / "sources"


def load_sources(folder: Path) -> dict[str, tuple[SourceConfig, str]]:
    """``{name: (config, file)}`` for every ``*.yaml``/``*.yml`` in ``folder``.

    A missing folder means no source files. Problems of all files are raised at once.
    """
    if not folder.is_dir():
        return {}
    found: dict[str, tuple[SourceConfig, str]] = {}
    problems: list[Problem] = []
    for file in sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml")):
        name, path = file.stem, str(file)
        if not re.match(SOURCE_PATTERN, name):
            problems.append(
                Problem(
                    path,
                    0,
                    0,
                    f"'{name}' is not a source name: name the file "
                    "with lowercase letters, digits, '_', '-'",
                )
            )
            continue
        if name in found:
            problems.append(Problem(path, 0, 0, f"source '{name}' is defined twice"))
            continue
        if name == HUB_SOURCE:
            problems.append(
                Problem(
                    path,
                    0,
                    0,
                    f"source '{HUB_SOURCE}' is built in (the hub's own events) and takes no "
                    "deliveries from outside: rename this file",
                )
            )
            continue
        config, found_problems = _parse(file.read_text(encoding="utf-8"), path)
        problems.extend(found_problems)
        if config is not None:
            found[name] = (config, path)
    if problems:
        raise SourceError(problems)
    return found


def _parse(text: str, path: str) -> tuple[SourceConfig | None, list[Problem]]:
    document, positions, problems = compose(text, path)
    if problems:
        return None, problems
    if not isinstance(document, dict):
        return None, [
            Problem(path, 1, 1, "a source file is a mapping with at least 'auth' or 'preset'")
        ]
    try:
        return SourceConfig.model_validate(document), []
    except ValidationError as exc:
        return None, schema_problems(exc, positions, path, root=SourceConfig, nouns=_NOUNS)
