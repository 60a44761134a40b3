"""The built-in ``core`` connector: operations that call no upstream and use no quota.

- ``core.echo``: its output is ``value`` as given (shape data for later steps).
- ``core.log``: writes ``message`` to the worker log (logger ``hub.workflow``) and
  outputs ``{"message": ...}``.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from hub.connector import Connector, Operation
from hub.settings import Settings

__all__ = ["CONNECTOR", "Echo", "LogMessage"]

log = logging.getLogger("hub.workflow")


class Echo(BaseModel):
    """Any value, passed through."""

    model_config = ConfigDict(extra="forbid")

    value: Any = None


class LogMessage(BaseModel):
    """A line for the worker log."""

    model_config = ConfigDict(extra="forbid")

    message: str
    level: Literal["debug", "info", "warning", "error"] = "info"


def _echo(api: Any, args: Echo) -> Any:
    return args.value


def _log(api: Any, args: LogMessage) -> dict[str, str]:
    log.log(logging.getLevelName(args.level.upper()), "%s", args.message)
    return {"message": args.message}


def _build(settings: Settings, redis: Any) -> None:
    return None


CONNECTOR = Connector(
    name="core",
    operations={
        "echo": Operation("echo", Echo, _echo, "Output the given value."),
        "log": Operation("log", LogMessage, _log, "Write a message to the worker log."),
    },
    build=_build,
)
