"""Test connectors for workflow validation: no real connector package is needed."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.connector.declaration import AnyOperation, Connector, Operation
from hub.core.errors import ConfigError
from hub.core.settings import ConnectorSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Name(_Strict):
    first: str
    last: str = ""


class Email(_Strict):
    address: str
    type: str = "work"


class PersonCreate(_Strict):
    name: Name
    role: str | None = None
    contact_emails: list[Email] = Field(default_factory=list, alias="contactEmails")
    tags: list[str] = Field(default_factory=list)
    age: int | None = None


class PersonFind(_Strict):
    query: dict[str, Any] = Field(default_factory=dict)
    limit: int = 50


class PeopleList(BaseModel):
    """Extra keys are ignored by pydantic here; validation still reports them."""

    updated_since: str | None = None
    limit: int = 100


class Note(BaseModel):
    """Extra keys are explicitly allowed."""

    model_config = ConfigDict(extra="allow")
    text: str


class Send(_Strict):
    to: str
    subject: str = ""


def _call(api: Any, args: Any) -> Any:
    return None


def _ops(*ops: tuple[str, type[BaseModel]]) -> dict[str, AnyOperation]:
    return {name: Operation(name, model, _call) for name, model in ops}


ACME = Connector(
    name="acme",
    operations=_ops(
        ("people.create", PersonCreate),
        ("people.find", PersonFind),
        ("people.list", PeopleList),
        ("notes.create", Note),
    ),
    settings=ConnectorSettings,
    build=lambda settings, hub, redis, transport=None, now=None: None,
)
MAIL = Connector(
    name="mail",
    operations=_ops(("send", Send)),
    settings=ConnectorSettings,
    build=lambda settings, hub, redis, transport=None, now=None: None,
)
CONNECTORS = {"acme": ACME, "mail": MAIL}
OPERATION_NAMES = sorted(f"{c.name}.{op}" for c in CONNECTORS.values() for op in c.operations)


def lookup(uses: str) -> tuple[Connector[Any], AnyOperation]:
    """Resolve like :func:`hub.connector.registry.get_operation`, over the test connectors."""
    connector_name, _, op_name = uses.partition(".")
    connector = CONNECTORS.get(connector_name)
    if connector is None:
        known = ", ".join(sorted(CONNECTORS))
        raise ConfigError(f"unknown connector '{connector_name}' (known connectors: {known})")
    op = connector.operations.get(op_name)
    if op is None:
        close = difflib.get_close_matches(op_name, list(connector.operations), n=1)
        hint = f" (did you mean '{connector_name}.{close[0]}'?)" if close else ""
        known = ", ".join(sorted(connector.operations))
        raise ConfigError(f"unknown operation '{uses}'{hint}; {connector_name} offers: {known}")
    return connector, op
