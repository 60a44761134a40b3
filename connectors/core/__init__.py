"""Operations that need no upstream: log a line, echo data, stop a run on purpose.

- ``core.log``: write a line to the hub's log (secrets redacted); answers what it wrote.
- ``core.echo``: answer its arguments, rendered: a step that computes values for later
  steps (``steps.<id>.<key>``).
- ``core.fail``: fail the step for good with a message (its ``on_failure`` steps run).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from hub.connector import Connector, Operation, operation_table
from hub.core import ConnectorSettings, FatalError, Settings
from hub.workflow import redact

__all__ = ["CONNECTOR", "CoreApi", "Echo", "Fail", "Log"]

log = logging.getLogger("hub.workflow")
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class Log(BaseModel):
    """A line for the hub's log."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1)
    level: Literal["debug", "info", "warning", "error"] = "info"
    fields: dict[str, Any] = Field(default_factory=dict)


class Echo(BaseModel):
    """Any arguments; the step's output is the arguments as rendered."""

    model_config = ConfigDict(extra="allow")


class Fail(BaseModel):
    """Why the step fails."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1)


class CoreApi:
    """What core operations need at run time: the secrets to keep out of the log."""

    def __init__(self, secrets: Mapping[str, SecretStr | str]) -> None:
        self.secrets = secrets


def _log(api: CoreApi, args: Log) -> dict[str, Any]:
    message = redact(args.message, api.secrets)
    fields = redact(args.fields, api.secrets)
    extra = "".join(f" {key}={value}" for key, value in fields.items())
    log.log(_LEVELS[args.level], "%s%s", message, extra)
    return {"level": args.level, "message": message, "fields": fields}


def _echo(api: CoreApi, args: Echo) -> dict[str, Any]:
    return dict(args.model_extra or {})


def _fail(api: CoreApi, args: Fail) -> None:
    raise FatalError(redact(args.message, api.secrets))


def _build(
    settings: ConnectorSettings,
    hub: Settings,
    redis: Any,
    *,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], float] = time.time,
) -> CoreApi:
    """Core calls no upstream, has no settings of its own and reads no clock: only the
    hub's secrets are used."""
    return CoreApi(hub.hub_secrets)


OPERATIONS = operation_table(
    Operation("log", Log, _log, "Write a line to the hub's log. Answers {level, message}."),
    Operation("echo", Echo, _echo, "Answer the arguments as rendered."),
    Operation("fail", Fail, _fail, "Fail the step for good with a message."),
)

CONNECTOR = Connector(
    name="core",
    operations=OPERATIONS,
    settings=ConnectorSettings,
    build=_build,
    upstream=False,
)
