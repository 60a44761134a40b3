"""Webhook sources: how each sender authenticates, where its event type and id are.

One YAML file per source in the sources folder (``HUB_SOURCES``, by default
``sources/`` inside ``HUB_WORKFLOWS``), named ``<source>.yaml``::

    auth: { scheme: standard-webhooks, secret: "{{ secrets.CRM_SIGNING_KEY }}" }
    event_type: { header: X-Event-Type, path: type }
    event_id: { header: webhook-id, path: id }
    max_body_bytes: 262144
    dedupe_seconds: 86400

Files are checked like workflows: every problem with its ``file:line:column``. Secrets
are named, never written: their values come from ``HUB_SECRETS``. :mod:`hub.intake.resolve`
turns these files into the sources the ingress serves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.core import ConfigError, Settings
from hub.intake import signatures as sig
from hub.intake.routing import json_path
from hub.workflow import SOURCE_PATTERN, Problem, compose

__all__ = [
    "AuthConfig",
    "FieldConfig",
    "Source",
    "SourceConfig",
    "SourceError",
    "load_sources",
    "sources_folder",
]

Scheme = Literal["standard-webhooks", "hmac", "github", "stripe", "shared-secret", "bearer", "none"]
_SECRET_REF = re.compile(r"^\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
_SCHEME_FIELDS: dict[str, set[str]] = {
    "hmac": {
        "header",
        "algorithm",
        "encoding",
        "prefix",
        "timestamp_header",
        "signed_payload",
        "tolerance_seconds",
    },
    "shared-secret": {"header"},
    "standard-webhooks": {"tolerance_seconds"},
    "stripe": {"tolerance_seconds"},
}


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
    signed_payload: str | None = None
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
            if not _SECRET_REF.match(ref):
                raise ValueError(
                    "write a secret as '{{ secrets.NAME }}' and put its value in HUB_SECRETS, "
                    "never the secret itself"
                )
        if self.scheme == "hmac" and not self.header:
            raise ValueError("scheme 'hmac' needs the signature 'header'")
        if self.signed_payload is not None and "{body}" not in self.signed_payload:
            raise ValueError("signed_payload must contain {body}")
        return self

    @property
    def secret_refs(self) -> list[str]:
        if self.secret is None:
            return []
        return [self.secret] if isinstance(self.secret, str) else list(self.secret)

    @property
    def secret_names(self) -> list[str]:
        return [m.group(1) for ref in self.secret_refs if (m := _SECRET_REF.match(ref))]


class FieldConfig(_Model):
    """Where a value is read: the first header present, else a dotted path in the body."""

    header: str | list[str] | None = None
    path: str | None = None
    required: bool = False

    @model_validator(mode="after")
    def _somewhere(self) -> FieldConfig:
        if not self.header and not self.path:
            raise ValueError("give a 'header', a 'path' or both")
        return self

    @property
    def headers(self) -> tuple[str, ...]:
        if not self.header:
            return ()
        return (self.header,) if isinstance(self.header, str) else tuple(self.header)


class SourceConfig(_Model):
    """One source file."""

    description: str = ""
    auth: AuthConfig
    event_type: FieldConfig | None = None
    event_id: FieldConfig | None = None
    max_body_bytes: int | None = Field(default=None, gt=0)
    dedupe_seconds: int | None = Field(default=None, gt=0)


@dataclass(frozen=True)
class Source:
    """A source as the ingress uses it: a verifier, extractors and limits."""

    name: str
    verifier: sig.Verifier
    type_headers: tuple[str, ...]
    type_path: str | None
    id_headers: tuple[str, ...]
    id_path: str | None
    id_required: bool
    max_body_bytes: int
    dedupe_seconds: int
    configured: bool

    def event_type(self, headers: Mapping[str, str], body: Any) -> Any:
        return _read(self.type_headers, self.type_path, headers, body)

    def event_id(self, headers: Mapping[str, str], body: Any) -> Any:
        return _read(self.id_headers, self.id_path, headers, body)

    def describe_type(self) -> str:
        return _describe(self.type_headers, self.type_path)

    def describe_id(self) -> str:
        return _describe(self.id_headers, self.id_path)


def _read(
    headers_: tuple[str, ...], path: str | None, headers: Mapping[str, str], body: Any
) -> Any:
    for name in headers_:
        value = headers.get(name.lower())
        if value:
            return value
    return json_path(body, path) if path else None


def _describe(headers: tuple[str, ...], path: str | None) -> str:
    parts = [f"a {h} header" for h in headers] + ([f"a '{path}' field"] if path else [])
    return " or ".join(parts)


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
        return None, [Problem(path, 1, 1, "a source file is a mapping with at least 'auth'")]
    try:
        return SourceConfig.model_validate(document), []
    except ValidationError as exc:
        out = []
        for error in exc.errors(include_url=False):
            loc = tuple(p for p in error["loc"] if not isinstance(p, str) or "[" not in p)
            pos = positions.key(loc) if error["type"] == "extra_forbidden" else positions.value(loc)
            where = ".".join(str(p) for p in loc)
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = f"unknown field '{where}'"
            elif error["type"] == "missing":
                message = f"missing the required field '{where}'"
            elif where:
                message = f"'{where}': {message}"
            out.append(Problem(path, pos.line, pos.column, message))
        return None, out
